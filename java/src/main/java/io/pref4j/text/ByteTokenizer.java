package io.pref4j.text;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Byte-level tokenizer for synthetic tasks and tiny models: ids {@code 0..255} are the
 * bytes of the UTF-8 encoding, then the specials {@value #EOS} (end of text) and
 * {@value #PAD} (padding); {@value #VOCAB_SIZE} ids in all. Decoding drops the specials
 * and replaces invalid UTF-8 with U+FFFD.
 */
public final class ByteTokenizer implements Tokenizer {

    /** End-of-text id. */
    public static final int EOS = 256;
    /** Padding id. */
    public static final int PAD = 257;
    /** Vocabulary size. */
    public static final int VOCAB_SIZE = 258;

    /** The one instance. */
    public static final ByteTokenizer INSTANCE = new ByteTokenizer();

    private ByteTokenizer() {
    }

    @Override
    public int[] encode(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            ids[i] = b[i] & 0xFF;
        }
        return ids;
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length);
        for (int id : ids) {
            validate(id);
            if (id < 256) {
                out.write(id);
            }
        }
        // new String(bytes, UTF_8) replaces malformed input with U+FFFD
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public int vocabSize() {
        return VOCAB_SIZE;
    }

    @Override
    public int eosId() {
        return EOS;
    }

    /** {@value #EOS} and {@value #PAD}. */
    @Override
    public java.util.Set<Integer> specialIds() {
        return java.util.Set.of(EOS, PAD);
    }

    /** Padding id. */
    public int padId() {
        return PAD;
    }

    @Override
    public String name() {
        return "byte";
    }

    @Override
    public String toString() {
        return "ByteTokenizer";
    }
}
