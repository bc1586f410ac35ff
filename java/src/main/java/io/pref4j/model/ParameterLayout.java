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
        List<Object[]> mats = new ArrayList<>(), vecs = new ArrayList<>();
        mats.add(new Object[]{"transformer.wte.weight", new int[]{V, C}});
        mats.add(new Object[]{"transformer.wpe.weight", new int[]{c.maxSeqLen(), C}});
        for (int l = 0; l < L; l++) {
            String p = "transformer.h." + l + ".";
            vecs.add(new Object[]{p + "ln_1.weight", new int[]{C}});
            vecs.add(new Object[]{p + "ln_1.bias", new int[]{C}});
            mats.add(new Object[]{p + "attn.c_attn.weight", new int[]{C, 3 * C}});
            vecs.add(new Object[]{p + "attn.c_attn.bias", new int[]{3 * C}});
            mats.add(new Object[]{p + "attn.c_proj.weight", new int[]{C, C}});
            vecs.add(new Object[]{p + "attn.c_proj.bias", new int[]{C}});
            vecs.add(new Object[]{p + "ln_2.weight", new int[]{C}});
            vecs.add(new Object[]{p + "ln_2.bias", new int[]{C}});
            mats.add(new Object[]{p + "mlp.c_fc.weight", new int[]{C, 4 * C}});
            vecs.add(new Object[]{p + "mlp.c_fc.bias", new int[]{4 * C}});
            mats.add(new Object[]{p + "mlp.c_proj.weight", new int[]{4 * C, C}});
            vecs.add(new Object[]{p + "mlp.c_proj.bias", new int[]{C}});
        }
        vecs.add(new Object[]{"transformer.ln_f.weight", new int[]{C}});
        vecs.add(new Object[]{"transformer.ln_f.bias", new int[]{C}});
        if (withHead) {
            mats.add(new Object[]{HEAD_WEIGHT, new int[]{1, C}});
            vecs.add(new Object[]{HEAD_BIAS, new int[]{1}});
        }
        List<Entry> out = new ArrayList<>();
        long off = 0;
        for (int g = 0; g < 2; g++) {
            for (Object[] t : g == 0 ? mats : vecs) {
                int[] shape = (int[]) t[1];
                long n = 1;
                for (int d : shape) n *= d;
                // keep every tensor 16-float aligned so vector loads never straddle tensors
                out.add(new Entry((String) t[0], shape, off, n, g == 0));
                off += (n + 15) & ~15L;
            }
        }
        return new ParameterLayout(out);
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
