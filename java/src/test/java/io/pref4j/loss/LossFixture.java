package io.pref4j.loss;

import io.pref4j.io.SafeTensors;
import io.pref4j.kernel.Kernels;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One case of losses.safetensors (tools/golden/make_loss_fixtures.py): its config, its
 * tensors, and batches built from them on a backend.
 */
final class LossFixture {
    static final Path FILE = Path.of("src", "test", "resources", "golden", "losses.safetensors");

    final String name;
    final LossConfig config;
    private final SafeTensors st;

    LossFixture(SafeTensors st, String name) {
        this.st = st;
        this.name = name;
        Map<String, String> meta = st.metadata();
        Map<String, String> fields = new LinkedHashMap<>();
        fields.put("type", meta.get(name + ".type"));
        String params = meta.get(name + ".params");
        if (!params.isEmpty()) {
            for (String kv : params.split(";")) {
                int eq = kv.indexOf('=');
                fields.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
        this.config = LossConfig.fromMap(fields);
    }

    static List<String> cases(SafeTensors st) {
        return List.of(st.metadata().get("cases").split(","));
    }

    boolean has(String tensor) {
        return st.contains(name + "." + tensor);
    }

    float[] floats(String tensor) {
        return st.floats(name + "." + tensor);
    }

    int[] ints(String tensor) {
        float[] x = floats(tensor);
        int[] out = new int[x.length];
        for (int i = 0; i < x.length; i++) out[i] = Math.round(x[i]);
        return out;
    }

    /** Metrics stored under prefix ("m" or "ma"), in file order. */
    Map<String, Double> metrics(String prefix) {
        Map<String, Double> out = new LinkedHashMap<>();
        String p = name + "." + prefix + ".";
        for (String n : st.names()) if (n.startsWith(p)) out.put(n.substring(p.length()), (double) st.floats(n)[0]);
        return out;
    }

    static MemorySegment upload(Kernels k, float[] x) {
        MemorySegment s = k.allocFloats(Math.max(1, x.length));
        k.write(s, x);
        return s;
    }

    static MemorySegment uploadInts(Kernels k, int[] x) {
        MemorySegment s = k.allocInts(Math.max(1, x.length));
        k.writeInts(s, x);
        return s;
    }

    MemorySegment opt(Kernels k, String tensor) {
        return has(tensor) ? upload(k, floats(tensor)) : null;
    }

    MemorySegment optInts(Kernels k, String tensor) {
        return has(tensor) ? uploadInts(k, ints(tensor)) : null;
    }

    int sequences() {
        return floats("logp").length;
    }

    PairBatch pairBatch(Kernels k, float[] logp) {
        int[] c = ints("chosen");
        return new PairBatch(upload(k, logp), opt(k, "ref_logp"), opt(k, "rewards"),
                uploadInts(k, c), uploadInts(k, ints("rejected")), logp.length, c.length, optInts(k, "lengths"));
    }

    /** The GRPO batch with the given current log-probs and a fresh advantage buffer. */
    GrpoBatch grpoBatch(Kernels k, float[] logp) {
        int rows = floats("rewards").length, T = logp.length / rows, G = 0;
        for (int g : ints("groups")) G = Math.max(G, g + 1);
        return new GrpoBatch(upload(k, logp), upload(k, floats("old_logp")), opt(k, "ref_logp"), uploadInts(k, ints("mask")),
                upload(k, floats("rewards")), uploadInts(k, ints("groups")), k.allocFloats(rows), rows, T, G,
                ints("max_completion_length")[0], Double.NaN);
    }

    KtoBatch ktoBatch(Kernels k, float[] logp) {
        return new KtoBatch(upload(k, logp), upload(k, floats("ref_logp")), uploadInts(k, ints("labels")), logp.length,
                floats("z_ref")[0]);
    }

    SampleBatch sampleBatch(Kernels k, float[] logp) {
        int G = 0;
        if (has("groups")) for (int g : ints("groups")) G = Math.max(G, g + 1);
        return new SampleBatch(upload(k, logp), opt(k, "ref_logp"), optInts(k, "lengths"), opt(k, "rewards"),
                optInts(k, "groups"), logp.length, G, Double.NaN);
    }

    /** The PPO batch with the given current log-probs and values, fresh advantage buffers. */
    PpoBatch ppoBatch(Kernels k, float[] logp, float[] values) {
        int rows = floats("scores").length, T = logp.length / rows;
        float[] mask = floats("mask");
        int[] m = new int[mask.length];
        for (int i = 0; i < m.length; i++) m[i] = mask[i] != 0 ? 1 : 0;
        return new PpoBatch(upload(k, logp), upload(k, floats("old_logp")), upload(k, floats("ref_logp")),
                upload(k, values), upload(k, floats("old_values")), upload(k, floats("scores")), uploadInts(k, m),
                k.allocFloats(logp.length), k.allocFloats(logp.length), rows, T, Double.NaN);
    }

    static double relErr(float[] got, float[] want) {
        if (got.length != want.length) throw new AssertionError("length " + got.length + " != " + want.length);
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            double d = (double) got[i] - want[i];
            num += d * d;
            den += (double) want[i] * want[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }
}
