package io.pref4j.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where each named parameter tensor lives in the model's one flat parameter buffer (the
 * gradient buffer has the same layout). Names and shapes follow Hugging Face's GPT-2
 * ({@code transformer.h.0.attn.c_attn.weight} …; Conv1D weights stored [in, out], exactly as
 * HF stores them, so import and export are plain copies). Matrices come first, vectors
 * after, so weight decay applies to one contiguous prefix of {@link #decayedSize()}
 * elements.
 */
public final class ParameterLayout {

    /** One tensor: its name, shape and element offset in the flat buffer. */
    public record Entry(String name, int[] shape, long offset, long size, boolean decayed) {}

    /** The optional scalar head's tensors (reward model / value head). */
    public static final String HEAD_WEIGHT = "head.weight";
    public static final String HEAD_BIAS = "head.bias";

    private final List<Entry> entries;
    private final Map<String, Entry> byName;
    private final long size;
    private final long decayedSize;

    private ParameterLayout(List<Entry> entries) {
        this.entries = Collections.unmodifiableList(entries);
        Map<String, Entry> m = new LinkedHashMap<>();
        long s = 0, d = 0;
        for (Entry e : entries) {
            m.put(e.name(), e);
            s = e.offset() + e.size();
            if (e.decayed()) d = s;
        }
        this.byName = Collections.unmodifiableMap(m);
        this.size = s;
        this.decayedSize = d;
    }

    /** The layout of a GPT-2 with this config, with or without the scalar head. */
    public static ParameterLayout of(GptConfig c, boolean withHead) {
        int C = c.channels(), V = c.vocabSize(), L = c.numLayers();
        Builder b = builder();
        b.matrix("transformer.wte.weight", V, C);
        b.matrix("transformer.wpe.weight", c.maxSeqLen(), C);
        for (int l = 0; l < L; l++) {
            String p = "transformer.h." + l + ".";
            b.vector(p + "ln_1.weight", C);
            b.vector(p + "ln_1.bias", C);
            b.matrix(p + "attn.c_attn.weight", C, 3 * C);
            b.vector(p + "attn.c_attn.bias", 3 * C);
            b.matrix(p + "attn.c_proj.weight", C, C);
            b.vector(p + "attn.c_proj.bias", C);
            b.vector(p + "ln_2.weight", C);
            b.vector(p + "ln_2.bias", C);
            b.matrix(p + "mlp.c_fc.weight", C, 4 * C);
            b.vector(p + "mlp.c_fc.bias", 4 * C);
            b.matrix(p + "mlp.c_proj.weight", 4 * C, C);
            b.vector(p + "mlp.c_proj.bias", C);
        }
        b.vector("transformer.ln_f.weight", C);
        b.vector("transformer.ln_f.bias", C);
        if (withHead) b.head(C);
        return b.build();
    }

    /** A builder for a family's layout. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Collects tensors: matrices (weight-decayed) and vectors (not decayed), each kept in the
     * order added; {@link #build} lays out all matrices first, then all vectors. Every tensor
     * starts 16-float aligned (so vector loads never straddle tensors), except the members of
     * a run ({@link #matrixRun}, {@link #vectorRun}), which follow each other with no gap, so
     * that a family can treat them as one tensor (e.g. q, k and v projections as one fused
     * [(NH+2·NKV)·HS, C] matrix, or gate and up as one [2I, C] matrix).
     */
    public static final class Builder {
        private record Item(String[] names, int[][] shapes) {}
        private final List<Item> mats = new ArrayList<>(), vecs = new ArrayList<>();

        private Builder() {}

        public Builder matrix(String name, int... shape) {
            mats.add(new Item(new String[]{name}, new int[][]{shape}));
            return this;
        }

        public Builder vector(String name, int... shape) {
            vecs.add(new Item(new String[]{name}, new int[][]{shape}));
            return this;
        }

        /** Matrices stored back to back with no alignment gap between them. */
        public Builder matrixRun(String[] names, int[][] shapes) {
            if (names.length != shapes.length) throw new IllegalArgumentException("names and shapes differ in length");
            mats.add(new Item(names.clone(), shapes.clone()));
            return this;
        }

        /** Vectors stored back to back with no alignment gap between them. */
        public Builder vectorRun(String[] names, int[][] shapes) {
            if (names.length != shapes.length) throw new IllegalArgumentException("names and shapes differ in length");
            vecs.add(new Item(names.clone(), shapes.clone()));
            return this;
        }

        /** The optional scalar head: {@link #HEAD_WEIGHT} [1, C] and {@link #HEAD_BIAS} [1]. */
        public Builder head(int C) {
            matrix(HEAD_WEIGHT, 1, C);
            vector(HEAD_BIAS, 1);
            return this;
        }

        public ParameterLayout build() {
            List<Entry> out = new ArrayList<>();
            long off = 0;
            for (int g = 0; g < 2; g++) {
                for (Item it : g == 0 ? mats : vecs) {
                    for (int i = 0; i < it.names().length; i++) {
                        int[] shape = it.shapes()[i];
                        long n = 1;
                        for (int d : shape) n *= d;
                        out.add(new Entry(it.names()[i], shape.clone(), off, n, g == 0));
                        off += n;
                    }
                    off = (off + 15) & ~15L;
                }
            }
            return new ParameterLayout(out);
        }
    }

    public List<Entry> entries() {
        return entries;
    }

    /** The entry with this name, or null. */
    public Entry get(String name) {
        return byName.get(name);
    }

    public boolean has(String name) {
        return byName.containsKey(name);
    }

    /** Total elements of the flat buffer (including alignment gaps). */
    public long size() {
        return size;
    }

    /** Number of parameters (the sum of the tensors' sizes, without alignment gaps). */
    public long count() {
        long n = 0;
        for (Entry e : entries) n += e.size();
        return n;
    }

    /** Elements [0, decayedSize) hold the matrices that get weight decay. */
    public long decayedSize() {
        return decayedSize;
    }
}
