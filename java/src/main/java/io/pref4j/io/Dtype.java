package io.pref4j.io;

import java.util.Locale;

/**
 * Element types a safetensors header may name, with their size in bytes. pref4j converts
 * {@link #F32}, {@link #BF16} and {@link #F16} to {@code float}; the others are recognised
 * (so a file holding, say, an {@code I64} buffer still opens) but can only be read raw.
 */
public enum Dtype {
    BOOL(1), U8(1), I8(1), F8_E4M3(1), F8_E5M2(1),
    I16(2), U16(2), F16(2), BF16(2),
    I32(4), U32(4), F32(4),
    I64(8), U64(8), F64(8);

    private final int bytes;

    Dtype(int bytes) {
        this.bytes = bytes;
    }

    /** Size of one element in bytes. */
    public int bytes() {
        return bytes;
    }

    /** Whether {@link SafeTensors} can convert tensors of this type to {@code float}. */
    public boolean isFloatReadable() {
        return this == F32 || this == BF16 || this == F16;
    }

    /** The dtype named {@code s} exactly as the format spells it, or {@code null}. */
    static Dtype parse(String s) {
        for (Dtype d : values()) {
            if (d.name().equals(s)) {
                return d;
            }
        }
        return null;
    }

    static String known() {
        StringBuilder sb = new StringBuilder();
        for (Dtype d : values()) {
            if (!sb.isEmpty()) sb.append(", ");
            sb.append(d.name());
        }
        return sb.toString().toUpperCase(Locale.ROOT);
    }
}
