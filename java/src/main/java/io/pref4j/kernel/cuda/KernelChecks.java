package io.pref4j.kernel.cuda;

import io.pref4j.kernel.CounterRng;
import io.pref4j.kernel.Kernels;
import io.pref4j.kernel.Kernels.LossOps;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;
import io.pref4j.train.AdamW;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * Every {@link Kernels} operation of a backend under test compared with a reference backend
 * (the CPU) on fresh random inputs: the one place the comparisons live, used by the JUnit
 * GPU suite and by {@code pref4j gpu-check}.
 *
 * <p>Each check allocates its buffers on both backends with the same host data, poisons the
 * outputs that are overwritten ({@code =}) with NaN first (accumulated outputs start from
 * the same random values), runs the operation on both and compares every output element.
 * The error of an output is max|got − ref| / max|ref| (the largest deviation relative to
 * the output's scale); a NaN or infinity where the reference is finite, which is what an
 * unwritten poisoned element reads as, is an infinite error. Integer outputs must be equal.
 * Sizes are deliberately not multiples of tile sizes.
 *
 * <p>Tolerances by precision ({@link Precision}): fp32 elementwise 1e-5; fp32 with long
 * reductions (sums over rows, vocabulary, sequence) 1e-4; TF32 3e-3; bf16 operands (the
 * tensor-core attention and what passes through it) 2e-2.
 */
public final class KernelChecks {
    private KernelChecks() {}

    /** Tolerance classes. */
    public enum Precision {
        FP32(1e-5), REDUCTION(1e-4), TF32(3e-3), BF16(2e-2);

        public final double tolerance;

        Precision(double tolerance) {
            this.tolerance = tolerance;
        }
    }

    /** One row of the report. error is the worst output's error; detail names it. */
    public record Result(String op, String shape, double error, double tolerance, boolean pass, String detail) {}

    /** One comparison. */
    public record Check(String op, String shape, Precision precision, Body body) {
        /** Runs it with fresh inputs from seed; a thrown exception is a failed result naming it. */
        public Result run(Kernels ref, Kernels dev, long seed) {
            Ctx c = new Ctx(ref, dev, new SplittableRandom(seed));
            try {
                body.run(c);
                dev.synchronize();
            } catch (RuntimeException | AssertionError e) {
                return new Result(op, shape, Double.POSITIVE_INFINITY, precision.tolerance, false, "threw " + e);
            }
            boolean pass = c.failure == null && c.worst <= precision.tolerance;
            String detail = c.failure != null ? c.failure : "worst: " + c.worstName;
            return new Result(op, shape, c.worst, precision.tolerance, pass, detail);
        }
    }

    @FunctionalInterface
    public interface Body {
        void run(Ctx c);
    }

    /** An operation run on one backend; s maps a dual buffer to that backend's segment. */
    @FunctionalInterface
    public interface Op {
        void run(Kernels k, Function<Buf, MemorySegment> s);
    }

    /** A buffer allocated on both backends (ref and dev) with n elements. */
    public record Buf(MemorySegment r, MemorySegment d, long n) {}

    /** The state of one check: both backends, its random source and the worst error so far. */
    public static final class Ctx {
        final Kernels ref, dev;
        final SplittableRandom rnd;
        double worst;
        String worstName = "-";
        String failure;

        Ctx(Kernels ref, Kernels dev, SplittableRandom rnd) {
            this.ref = ref;
            this.dev = dev;
            this.rnd = rnd;
        }

        public float[] gauss(int n, double scale) {
            float[] x = new float[n];
            for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextGaussian() * scale);
            return x;
        }

        public float[] uniform(int n, double lo, double hi) {
            float[] x = new float[n];
            for (int i = 0; i < n; i++) x[i] = (float) (lo + rnd.nextDouble() * (hi - lo));
            return x;
        }

        public int[] ints(int n, int lo, int hiExclusive) {
            int[] x = new int[n];
            for (int i = 0; i < n; i++) x[i] = lo + rnd.nextInt(hiExclusive - lo);
            return x;
        }

        /** Floats with the given values on both backends. */
        public Buf f(float[] host) {
            MemorySegment r = ref.allocFloats(host.length), d = dev.allocFloats(host.length);
            ref.write(r, host);
            dev.write(d, host);
            return new Buf(r, d, host.length);
        }

        public Buf i(int[] host) {
            MemorySegment r = ref.allocInts(host.length), d = dev.allocInts(host.length);
            ref.writeInts(r, host);
            dev.writeInts(d, host);
            return new Buf(r, d, host.length);
        }

        public Buf l(long[] host) {
            MemorySegment r = ref.allocLongs(host.length), d = dev.allocLongs(host.length);
            ref.writeLongs(r, host);
            dev.writeLongs(d, host);
            return new Buf(r, d, host.length);
        }

        /** n floats filled with NaN on both (an output that must be written everywhere). */
        public Buf nan(long n) {
            MemorySegment r = ref.allocFloats(n), d = dev.allocFloats(n);
            ref.fill(r, n, Float.NaN);
            dev.fill(d, n, Float.NaN);
            return new Buf(r, d, n);
        }

        /** n ints filled with a poison value on both. */
        public Buf poisonInts(int n) {
            int[] p = new int[n];
            Arrays.fill(p, Integer.MIN_VALUE + 7);
            return i(p);
        }

        /** Runs op on both backends. */
        public void run(Op op) {
            op.run(ref, b -> b == null ? null : b.r());
            op.run(dev, b -> b == null ? null : b.d());
        }

        public float[] readRef(Buf b) {
            float[] x = new float[(int) b.n()];
            ref.read(b.r(), x);
            return x;
        }

        public float[] readDev(Buf b) {
            float[] x = new float[(int) b.n()];
            dev.read(b.d(), x);
            return x;
        }

        /** Compares a float output element by element. */
        public void expect(String name, Buf b) {
            compare(name, readRef(b), readDev(b));
        }

        /** Compares two host arrays (ref first). */
        public void compare(String name, float[] want, float[] got) {
            double e = error(want, got);
            note(name, e);
        }

        void note(String name, double e) {
            if (!(e <= worst)) {
                worst = e;
                worstName = name;
            }
        }

        /** Integer outputs must be identical. */
        public void expectInts(String name, Buf b) {
            int[] want = new int[(int) b.n()], got = new int[(int) b.n()];
            ref.readInts(b.r(), want);
            dev.readInts(b.d(), got);
            for (int i = 0; i < want.length; i++) {
                if (want[i] != got[i]) {
                    fail(name + "[" + i + "] = " + got[i] + ", want " + want[i]);
                    return;
                }
            }
        }

        public void fail(String why) {
            if (failure == null) failure = why;
            worst = Double.POSITIVE_INFINITY;
        }
    }

    /**
     * max|got − want| / max|want|; infinite when got is NaN/infinite where want is finite
     * (unwritten poison), or the lengths differ. Both NaN at the same place counts as equal
     * (a metric slot neither backend writes keeps its sentinel, which tests use instead).
     */
    public static double error(float[] want, float[] got) {
        if (want.length != got.length) return Double.POSITIVE_INFINITY;
        double scale = 0, diff = 0;
        for (int i = 0; i < want.length; i++) {
            float w = want[i], g = got[i];
            if (Float.isNaN(w) && Float.isNaN(g)) continue;
            if (!Float.isFinite(g) || !Float.isFinite(w)) {
                if (w == g) continue; // same infinity
                return Double.POSITIVE_INFINITY;
            }
            scale = Math.max(scale, Math.abs(w));
            diff = Math.max(diff, Math.abs((double) g - w));
        }
        if (diff == 0) return 0;
        return diff / Math.max(scale, 1e-30);
    }

    // ================================================================ the checks

    /** Every check, in a fixed order. */
    public static List<Check> all() {
        List<Check> out = new ArrayList<>();
        memory(out);
        matmul(out);
        elementwise(out);
        layers(out);
        attention(out);
        llama(out);
        logprob(out);
        optimiser(out);
        sampling(out);
        losses(out);
        out.add(gptStep());
        out.add(gptStepHs64());
        return out;
    }

    private static Check check(String op, String shape, Precision p, Body body) {
        return new Check(op, shape, p, body);
    }

    // ---------------------------------------------------------------- memory

    private static void memory(List<Check> out) {
        out.add(check("fill/copy/write/read", "n 1003", Precision.FP32, c -> {
            int n = 1003;
            Buf a = c.f(c.gauss(n, 1)), b = c.nan(n), z = c.nan(n);
            c.run((k, s) -> {
                k.copy(s.apply(b), s.apply(a), (long) n * 4);
                k.fill(s.apply(z), n, 0f);
                k.fill(s.apply(z).asSlice(400), 301, 2.5f);
            });
            c.expect("copy", b);
            c.expect("fill", z);
            Buf ii = c.i(c.ints(77, -1000, 1000));
            c.expectInts("writeInts/readInts", ii);
            Buf zi = c.poisonInts(13);
            c.run((k, s) -> k.fill(s.apply(zi), 13, 0f)); // a float 0 fill of an int buffer is all-zero bits
            c.expectInts("fill ints 0", zi);
        }));
    }

    // ---------------------------------------------------------------- linear algebra

    private static void matmul(List<Check> out) {
        int[][] shapes = {{37, 53, 71}, {130, 67, 129}, {1, 45, 33}, {45, 1, 29}, {64, 96, 1}};
        for (int[] sh : shapes) {
            for (int t = 0; t < 4; t++) {
                boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                int M = sh[0], N = sh[1], K = sh[2];
                boolean bias = (t + M) % 2 == 0;
                boolean acc = t == 3;
                String name = "matmul" + (ta ? " Aᵀ" : "") + (tb ? " Bᵀ" : "") + (bias ? " +bias" : "") + (acc ? " +=" : "");
                out.add(check(name, "M " + M + " N " + N + " K " + K, Precision.REDUCTION, c -> {
                    Buf a = c.f(c.gauss(M * K, 1)), b = c.f(c.gauss(K * N, 1));
                    Buf bi = bias ? c.f(c.gauss(N, 1)) : null;
                    Buf o = acc ? c.f(c.gauss(M * N, 1)) : c.nan((long) M * N);
                    c.run((k, s) -> k.matmul(s.apply(o), s.apply(a), s.apply(b), s.apply(bi), M, N, K, ta, tb, acc));
                    c.expect("out", o);
                }));
            }
        }
        for (int t = 0; t < 4; t++) {
            boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
            boolean acc = t == 2;
            int batch = 3, M = 19, N = 23, K = 17;
            out.add(check("matmulBatched" + (ta ? " Aᵀ" : "") + (tb ? " Bᵀ" : "") + (acc ? " +=" : ""),
                    "batch 3 M 19 N 23 K 17 padded strides", Precision.REDUCTION, c -> {
                long sa = M * K + 5, sb = K * N + 3, so = M * N + 7;
                Buf a = c.f(c.gauss((int) (batch * sa), 1)), b = c.f(c.gauss((int) (batch * sb), 1));
                Buf o = c.f(c.gauss((int) (batch * so), 1)); // the stride gaps must stay as they are
                if (!acc) {
                    float[] init = c.readRef(o);
                    for (int p = 0; p < batch; p++) Arrays.fill(init, (int) (p * so), (int) (p * so + M * N), Float.NaN);
                    c.ref.write(o.r(), init);
                    c.dev.write(o.d(), init);
                }
                c.run((k, s) -> k.matmulBatched(s.apply(o), s.apply(a), s.apply(b), batch, so, sa, sb, M, N, K, ta, tb, acc));
                c.expect("out", o);
            }));
        }
        out.add(check("biasBackward", "M 133 N 71", Precision.REDUCTION, c -> {
            Buf db = c.f(c.gauss(71, 1)), dout = c.f(c.gauss(133 * 71, 1));
            c.run((k, s) -> k.biasBackward(s.apply(db), s.apply(dout), 133, 71));
            c.expect("dbias", db);
        }));
    }

    // ---------------------------------------------------------------- elementwise

    private static void elementwise(List<Check> out) {
        int n = 10_007;
        out.add(check("add", "n " + n, Precision.FP32, c -> {
            Buf a = c.f(c.gauss(n, 1)), b = c.f(c.gauss(n, 1)), o = c.nan(n);
            c.run((k, s) -> k.add(s.apply(o), s.apply(a), s.apply(b), n));
            c.expect("out", o);
            c.run((k, s) -> k.add(s.apply(a), s.apply(a), s.apply(b), n)); // aliasing
            c.expect("out aliasing a", a);
        }));
        out.add(check("accumulate", "n " + n, Precision.FP32, c -> {
            Buf y = c.f(c.gauss(n, 1)), x = c.f(c.gauss(n, 1));
            c.run((k, s) -> k.accumulate(s.apply(y), s.apply(x), n));
            c.expect("y", y);
        }));
        out.add(check("scale", "n " + n, Precision.FP32, c -> {
            Buf x = c.f(c.gauss(n, 1));
            c.run((k, s) -> k.scale(s.apply(x), n, -0.37f));
            c.expect("x", x);
        }));
        out.add(check("geluForward", "n " + n, Precision.FP32, c -> {
            Buf x = c.f(c.gauss(n, 2)), o = c.nan(n);
            c.run((k, s) -> k.geluForward(s.apply(o), s.apply(x), n));
            c.expect("out", o);
        }));
        out.add(check("geluBackward", "n " + n, Precision.FP32, c -> {
            Buf x = c.f(c.gauss(n, 2)), dout = c.f(c.gauss(n, 1)), d = c.nan(n);
            c.run((k, s) -> k.geluBackward(s.apply(d), s.apply(x), s.apply(dout), n));
            c.expect("dinp", d);
            c.run((k, s) -> k.geluBackward(s.apply(dout), s.apply(x), s.apply(dout), n)); // dinp aliasing dout
            c.expect("dinp aliasing dout", dout);
        }));
    }

    // ---------------------------------------------------------------- layers

    private static void layers(List<Check> out) {
        for (int[] sh : new int[][] {{37, 67}, {130, 768}}) {
            int N = sh[0], C = sh[1];
            out.add(check("layerNormForward", "N " + N + " C " + C, Precision.FP32, c -> {
                Buf x = c.f(c.gauss(N * C, 1.5)), w = c.f(c.gauss(C, 1)), b = c.f(c.gauss(C, 1));
                Buf o = c.nan((long) N * C), mean = c.nan(N), rstd = c.nan(N);
                c.run((k, s) -> k.layerNormForward(s.apply(o), s.apply(mean), s.apply(rstd), s.apply(x), s.apply(w), s.apply(b), N, C));
                c.expect("out", o);
                c.expect("mean", mean);
                c.expect("rstd", rstd);
            }));
            out.add(check("layerNormBackward", "N " + N + " C " + C, Precision.REDUCTION, c -> {
                float[] xh = c.gauss(N * C, 1.5);
                float[] mh = new float[N], rh = new float[N];
                for (int r = 0; r < N; r++) {
                    double m = 0, v = 0;
                    for (int j = 0; j < C; j++) m += xh[r * C + j];
                    m /= C;
                    for (int j = 0; j < C; j++) v += (xh[r * C + j] - m) * (xh[r * C + j] - m);
                    mh[r] = (float) m;
                    rh[r] = (float) (1 / Math.sqrt(v / C + 1e-5));
                }
                Buf x = c.f(xh), w = c.f(c.gauss(C, 1)), mean = c.f(mh), rstd = c.f(rh), dout = c.f(c.gauss(N * C, 1));
                Buf dx = c.f(c.gauss(N * C, 1)), dw = c.f(c.gauss(C, 1)), db = c.f(c.gauss(C, 1));
                c.run((k, s) -> k.layerNormBackward(s.apply(dx), s.apply(dw), s.apply(db), s.apply(dout), s.apply(x),
                        s.apply(w), s.apply(mean), s.apply(rstd), N, C));
                c.expect("dinp", dx);
                c.expect("dweight", dw);
                c.expect("dbias", db);
            }));
        }
        int B = 3, T = 13, C = 40, V = 97;
        out.add(check("embeddingForward", "B 3 T 13 C 40 V 97", Precision.FP32, c -> {
            Buf tok = c.i(c.ints(B * T, 0, V)), wte = c.f(c.gauss(V * C, 1)), wpe = c.f(c.gauss(T * C, 1));
            Buf o = c.nan((long) B * T * C);
            c.run((k, s) -> k.embeddingForward(s.apply(o), s.apply(tok), s.apply(wte), s.apply(wpe), B, T, C));
            c.expect("out", o);
        }));
        out.add(check("embeddingBackward", "B 3 T 13 C 40 V 11 (repeated ids)", Precision.REDUCTION, c -> {
            Buf tok = c.i(c.ints(B * T, 0, 11)), dwte = c.f(c.gauss(11 * C, 1)), dwpe = c.f(c.gauss(T * C, 1));
            Buf dout = c.f(c.gauss(B * T * C, 1));
            c.run((k, s) -> k.embeddingBackward(s.apply(dwte), s.apply(dwpe), s.apply(dout), s.apply(tok), B, T, C));
            c.expect("dwte", dwte);
            c.expect("dwpe", dwpe);
        }));
        out.add(check("gatherRows/scatterAddRows", "R 29 C 45 rows of 17", Precision.REDUCTION, c -> {
            int R = 29, Cc = 45, rowsN = 17;
            Buf x = c.f(c.gauss(rowsN * Cc, 1)), rows = c.i(c.ints(R, 0, rowsN)), o = c.nan((long) R * Cc);
            c.run((k, s) -> k.gatherRows(s.apply(o), s.apply(x), s.apply(rows), R, Cc));
            c.expect("gather", o);
            Buf dx = c.f(c.gauss(rowsN * Cc, 1)), dout = c.f(c.gauss(R * Cc, 1));
            c.run((k, s) -> k.scatterAddRows(s.apply(dx), s.apply(dout), s.apply(rows), R, Cc));
            c.expect("scatterAdd", dx);
        }));
        out.add(check("rowSum/rowBroadcast", "rows 31 cols 1001", Precision.REDUCTION, c -> {
            int rows = 31, cols = 1001;
            Buf x = c.f(c.gauss(rows * cols, 1)), o = c.nan(rows), b = c.nan((long) rows * cols);
            c.run((k, s) -> {
                k.rowSum(s.apply(o), s.apply(x), rows, cols);
                k.rowBroadcast(s.apply(b), s.apply(o), rows, cols);
            });
            c.expect("rowSum", o);
            c.expect("rowBroadcast", b);
        }));
    }

    // ---------------------------------------------------------------- attention

    private static void attention(List<Check> out) {
        // {B, T, C, NH}: odd sizes (HS 16, 64, 64), head size 128 (C 256 NH 2), GPT-2-sized (T 520 C 768 NH 12, HS 64)
        int[][] shapes = {{2, 37, 48, 3}, {2, 70, 128, 2}, {1, 129, 64, 1}, {2, 77, 256, 2}, {1, 520, 768, 12}};
        for (int[] sh : shapes) {
            int B = sh[0], T = sh[1], C = sh[2], NH = sh[3];
            String shape = "B " + B + " T " + T + " C " + C + " NH " + NH;
            out.add(check("attentionForward+Backward", shape, Precision.BF16, c -> {
                int[] lens = new int[B];
                for (int b = 0; b < B; b++) lens[b] = b == 0 ? T : 1 + c.rnd.nextInt(T);
                Buf len = c.i(lens), qkv = c.f(c.gauss(B * T * 3 * C, 1));
                Buf o = c.nan((long) B * T * C), lse = c.nan((long) B * NH * T);
                c.run((k, s) -> k.attentionForward(s.apply(o), s.apply(lse), s.apply(qkv), s.apply(len), B, T, C, NH));
                c.expect("out", o);
                c.expect("lse", lse);
                // backward from the reference's forward outputs, so both see the same inputs
                float[] oh = c.readRef(o), lh = c.readRef(lse);
                c.ref.write(o.r(), oh);
                c.dev.write(o.d(), oh);
                c.ref.write(lse.r(), lh);
                c.dev.write(lse.d(), lh);
                Buf dout = c.f(c.gauss(B * T * C, 1)), dqkv = c.nan((long) B * T * 3 * C);
                c.run((k, s) -> k.attentionBackward(s.apply(dqkv), s.apply(dout), s.apply(qkv), s.apply(o), s.apply(lse),
                        s.apply(len), B, T, C, NH));
                c.expect("dqkv", dqkv);
            }));
        }
        int B = 3, T = 9, C = 48, NH = 3, maxT = 21;
        out.add(check("kvCacheWrite+attentionDecode", "B 3 T 9 C 48 NH 3 maxT 21", Precision.BF16, c -> {
            Buf qkv = c.f(c.gauss(B * T * 3 * C, 1));
            Buf kc = c.f(c.gauss(B * maxT * C, 1)), vc = c.f(c.gauss(B * maxT * C, 1));
            c.run((k, s) -> k.kvCacheWrite(s.apply(kc), s.apply(vc), s.apply(qkv), B, T, C, NH, maxT));
            c.expect("kCache", kc);
            c.expect("vCache", vc);
            Buf q1 = c.f(c.gauss(B * 3 * C, 1)), pos = c.i(new int[] {T, T - 3, 0}), o = c.nan((long) B * C);
            c.run((k, s) -> k.attentionDecode(s.apply(o), s.apply(q1), s.apply(kc), s.apply(vc), s.apply(pos), B, C, NH, maxT));
            c.expect("out", o);
            c.expect("kCache after decode", kc);
            c.expect("vCache after decode", vc);
        }));
    }

    // ---------------------------------------------------------------- Llama family

    private static void llama(List<Check> out) {
        gqaAttention(out);
        rmsNorm(out);
        qkNorm(out);
        rope(out);
        swiglu(out);
    }

    /** Ragged lengths for B rows of at most T tokens: row 0 full, the others random in [1, T]. */
    private static int[] raggedLengths(Ctx c, int B, int T) {
        int[] lens = new int[B];
        for (int b = 0; b < B; b++) lens[b] = b == 0 ? T : 1 + c.rnd.nextInt(T);
        return lens;
    }

    /** Copies the reference's values of b to both backends (a forward output the backward reads). */
    private static void fromRef(Ctx c, Buf b) {
        float[] h = c.readRef(b);
        c.ref.write(b.r(), h);
        c.dev.write(b.d(), h);
    }

    private static void gqaAttention(List<Check> out) {
        // {B, T, NH, NKV, HS}: GQA 8/2 and MQA on both tensor-core head sizes, MHA through the
        // grouped entry point, the fp32 fallback (HS 24) with groups of 2; T off the 64-tiles
        int[][] shapes = {{2, 37, 8, 2, 64}, {2, 70, 4, 1, 128}, {1, 67, 8, 1, 64}, {2, 29, 4, 4, 64}, {2, 45, 6, 3, 24}};
        for (int[] sh : shapes) {
            int B = sh[0], T = sh[1], NH = sh[2], NKV = sh[3], HS = sh[4], QKV = (NH + 2 * NKV) * HS;
            out.add(check("gqa attentionForward+Backward", "B " + B + " T " + T + " NH " + NH + " NKV " + NKV + " HS " + HS,
                    Precision.BF16, c -> {
                Buf len = c.i(raggedLengths(c, B, T)), qkv = c.f(c.gauss(B * T * QKV, 1));
                Buf o = c.nan((long) B * T * NH * HS), lse = c.nan((long) B * NH * T);
                c.run((k, s) -> k.attentionForward(s.apply(o), s.apply(lse), s.apply(qkv), s.apply(len), B, T, NH, NKV, HS));
                c.expect("out", o);
                c.expect("lse", lse);
                // backward from the reference's forward outputs, so both see the same inputs
                fromRef(c, o);
                fromRef(c, lse);
                Buf dout = c.f(c.gauss(B * T * NH * HS, 1)), dqkv = c.nan((long) B * T * QKV);
                c.run((k, s) -> k.attentionBackward(s.apply(dqkv), s.apply(dout), s.apply(qkv), s.apply(o), s.apply(lse),
                        s.apply(len), B, T, NH, NKV, HS));
                c.expect("dqkv", dqkv);
            }));
        }
        // {B, T, NH, NKV, HS, maxT}; the decode kernel is fp32 for every head size
        int[][] dec = {{3, 9, 8, 2, 64, 21}, {2, 13, 4, 1, 128, 30}, {2, 6, 6, 3, 24, 11}};
        for (int[] sh : dec) {
            int B = sh[0], T = sh[1], NH = sh[2], NKV = sh[3], HS = sh[4], maxT = sh[5], QKV = (NH + 2 * NKV) * HS;
            out.add(check("gqa kvCacheWrite+attentionDecode",
                    "B " + B + " T " + T + " NH " + NH + " NKV " + NKV + " HS " + HS + " maxT " + maxT, Precision.REDUCTION, c -> {
                Buf qkv = c.f(c.gauss(B * T * QKV, 1));
                int cache = B * NKV * maxT * HS;
                Buf kc = c.f(c.gauss(cache, 1)), vc = c.f(c.gauss(cache, 1));
                c.run((k, s) -> k.kvCacheWrite(s.apply(kc), s.apply(vc), s.apply(qkv), B, T, NH, NKV, HS, maxT));
                c.expect("kCache", kc);
                c.expect("vCache", vc);
                int[] p = new int[B];
                for (int b = 0; b < B; b++) p[b] = b == 0 ? T : b == 1 ? 0 : c.rnd.nextInt(T); // next slot, the first, a rewrite
                Buf q1 = c.f(c.gauss(B * QKV, 1)), pos = c.i(p), o = c.nan((long) B * NH * HS);
                c.run((k, s) -> k.attentionDecode(s.apply(o), s.apply(q1), s.apply(kc), s.apply(vc), s.apply(pos),
                        B, NH, NKV, HS, maxT));
                c.expect("out", o);
                c.expect("kCache after decode", kc);
                c.expect("vCache after decode", vc);
            }));
        }
    }

    private static void rmsNorm(List<Check> out) {
        float eps = 1e-6f;
        // N 300 spans several row chunks of the two-pass dweight reduction
        for (int[] sh : new int[][] {{37, 67}, {130, 768}, {300, 96}}) {
            int N = sh[0], C = sh[1];
            out.add(check("rmsNormForward", "N " + N + " C " + C, Precision.FP32, c -> {
                Buf x = c.f(c.gauss(N * C, 1.5)), w = c.f(c.gauss(C, 1));
                Buf o = c.nan((long) N * C), rstd = c.nan(N);
                c.run((k, s) -> k.rmsNormForward(s.apply(o), s.apply(rstd), s.apply(x), s.apply(w), N, C, eps));
                c.expect("out", o);
                c.expect("rstd", rstd);
            }));
            out.add(check("rmsNormBackward", "N " + N + " C " + C, Precision.REDUCTION, c -> {
                float[] xh = c.gauss(N * C, 1.5);
                float[] rh = new float[N];
                for (int r = 0; r < N; r++) {
                    double ss = 0;
                    for (int j = 0; j < C; j++) ss += (double) xh[r * C + j] * xh[r * C + j];
                    rh[r] = (float) (1 / Math.sqrt(ss / C + eps));
                }
                Buf x = c.f(xh), w = c.f(c.gauss(C, 1)), rstd = c.f(rh), dout = c.f(c.gauss(N * C, 1));
                Buf dx = c.f(c.gauss(N * C, 1)), dw = c.f(c.gauss(C, 1));
                c.run((k, s) -> k.rmsNormBackward(s.apply(dx), s.apply(dw), s.apply(dout), s.apply(x), s.apply(w),
                        s.apply(rstd), N, C));
                c.expect("dinp", dx);
                c.expect("dweight", dw);
            }));
        }
    }

    private static void qkNorm(List<Check> out) {
        float eps = 1e-6f;
        // {N, NH, NKV, HS}; N·NH = 300 rows in the last spans several dweight row chunks
        for (int[] sh : new int[][] {{37, 8, 2, 64}, {21, 6, 3, 24}, {75, 4, 1, 128}}) {
            int N = sh[0], NH = sh[1], NKV = sh[2], HS = sh[3], QKV = (NH + 2 * NKV) * HS;
            String shape = "N " + N + " NH " + NH + " NKV " + NKV + " HS " + HS;
            out.add(check("qkNormForward", shape, Precision.FP32, c -> {
                Buf x = c.f(c.gauss(N * QKV, 1.5)), qw = c.f(c.gauss(HS, 1)), kw = c.f(c.gauss(HS, 1));
                Buf o = c.nan((long) N * QKV), rstd = c.nan((long) N * (NH + NKV));
                c.run((k, s) -> k.qkNormForward(s.apply(o), s.apply(rstd), s.apply(x), s.apply(qw), s.apply(kw),
                        N, NH, NKV, HS, eps));
                c.expect("qkvOut", o);
                c.expect("rstd", rstd);
            }));
            out.add(check("qkNormBackward", shape, Precision.REDUCTION, c -> {
                Buf x = c.f(c.gauss(N * QKV, 1.5)), qw = c.f(c.gauss(HS, 1)), kw = c.f(c.gauss(HS, 1));
                Buf o = c.nan((long) N * QKV), rstd = c.nan((long) N * (NH + NKV));
                c.run((k, s) -> k.qkNormForward(s.apply(o), s.apply(rstd), s.apply(x), s.apply(qw), s.apply(kw),
                        N, NH, NKV, HS, eps));
                fromRef(c, rstd);
                Buf dy = c.f(c.gauss(N * QKV, 1)), dx = c.nan((long) N * QKV);
                Buf dqw = c.f(c.gauss(HS, 1)), dkw = c.f(c.gauss(HS, 1));
                c.run((k, s) -> k.qkNormBackward(s.apply(dx), s.apply(dqw), s.apply(dkw), s.apply(dy), s.apply(x),
                        s.apply(qw), s.apply(kw), s.apply(rstd), N, NH, NKV, HS));
                c.expect("dqkvIn", dx);
                c.expect("dqWeight", dqw);
                c.expect("dkWeight", dkw);
            }));
        }
    }

    /** cos or sin table [maxPos, HS/2] of the standard rotary frequencies (θ = 10000). */
    static float[] ropeTable(int maxPos, int HS, boolean sine) {
        int half = HS / 2;
        float[] t = new float[maxPos * half];
        for (int p = 0; p < maxPos; p++) {
            for (int i = 0; i < half; i++) {
                double a = p * Math.pow(10000, -2.0 * i / HS);
                t[p * half + i] = (float) (sine ? Math.sin(a) : Math.cos(a));
            }
        }
        return t;
    }

    private static void rope(List<Check> out) {
        // {B, T, NH, NKV, HS, maxPos, with positions}
        int[][] shapes = {{3, 11, 8, 2, 64, 40, 1}, {2, 13, 4, 1, 128, 13, 0}, {2, 7, 6, 3, 24, 30, 1}};
        for (int[] sh : shapes) {
            int B = sh[0], T = sh[1], NH = sh[2], NKV = sh[3], HS = sh[4], maxPos = sh[5], QKV = (NH + 2 * NKV) * HS;
            boolean withPositions = sh[6] != 0;
            out.add(check("ropeForward+Backward" + (withPositions ? " (positions)" : ""),
                    "B " + B + " T " + T + " NH " + NH + " NKV " + NKV + " HS " + HS + " maxPos " + maxPos, Precision.FP32, c -> {
                Buf cos = c.f(ropeTable(maxPos, HS, false)), sin = c.f(ropeTable(maxPos, HS, true));
                int[] p = new int[B];
                for (int b = 1; b < B; b++) p[b] = c.rnd.nextInt(maxPos - T + 1); // row 0 from 0, the others further on
                p[B - 1] = maxPos - T; // one row up to the table's last position
                Buf pos = withPositions ? c.i(p) : null;
                Buf x = c.f(c.gauss(B * T * QKV, 1));
                c.run((k, s) -> k.ropeForward(s.apply(x), s.apply(cos), s.apply(sin), s.apply(pos), B, T, NH, NKV, HS));
                c.expect("qkv", x);
                Buf dx = c.f(c.gauss(B * T * QKV, 1));
                c.run((k, s) -> k.ropeBackward(s.apply(dx), s.apply(cos), s.apply(sin), s.apply(pos), B, T, NH, NKV, HS));
                c.expect("dqkv", dx);
            }));
        }
    }

    private static void swiglu(List<Check> out) {
        int N = 37, I = 103;
        out.add(check("swigluForward", "N " + N + " I " + I, Precision.FP32, c -> {
            Buf x = c.f(c.gauss(N * 2 * I, 3)), o = c.nan((long) N * I);
            c.run((k, s) -> k.swigluForward(s.apply(o), s.apply(x), N, I));
            c.expect("out", o);
        }));
        out.add(check("swigluBackward", "N " + N + " I " + I, Precision.FP32, c -> {
            Buf x = c.f(c.gauss(N * 2 * I, 3)), dout = c.f(c.gauss(N * I, 1)), d = c.nan((long) N * 2 * I);
            c.run((k, s) -> k.swigluBackward(s.apply(d), s.apply(dout), s.apply(x), N, I));
            c.expect("dinp", d);
        }));
    }

    // ---------------------------------------------------------------- log-probs

    private static void logprob(List<Check> out) {
        // {N, C, V}; the last spans many vocabulary chunks and row groups when the chunk buffer is
        // small (gpu-check --logprob-chunk-mib 0: 64 Ki floats, so chunks of 256 tokens in groups of 256 rows)
        int[][] shapes = {{45, 40, 1000}, {300, 64, 4099}, {7, 33, 50257}, {600, 32, 20011}};
        for (int[] sh : shapes) {
            int N = sh[0], C = sh[1], V = sh[2];
            for (boolean withEntropy : new boolean[] {true, false}) {
                if (V > 10_000 && !withEntropy) continue;
                String what = N * (long) V > 10_000_000 ? " (many chunks)" : "";
                out.add(check("logprobForward+Backward" + (withEntropy ? "" : " (no entropy)") + what, "N " + N + " C " + C + " V " + V,
                        Precision.REDUCTION, c -> {
                    int[] tg = c.ints(N, 0, V);
                    for (int n = 0; n < N; n += 5) tg[n] = -1;
                    Buf hid = c.f(c.gauss(N * C, 1)), w = c.f(c.gauss(V * C, 0.2)), t = c.i(tg);
                    Buf logp = c.nan(N), ent = withEntropy ? c.nan(N) : null, lse = c.nan(N);
                    c.run((k, s) -> k.logprobForward(s.apply(logp), s.apply(ent), s.apply(lse), s.apply(hid), s.apply(w),
                            s.apply(t), N, C, V));
                    c.expect("logp", logp);
                    c.expect("lse", lse);
                    if (ent != null) c.expect("entropy", ent);
                    // backward from the reference's lse/entropy
                    float[] lh = c.readRef(lse);
                    c.ref.write(lse.r(), lh);
                    c.dev.write(lse.d(), lh);
                    if (ent != null) {
                        float[] eh = c.readRef(ent);
                        c.ref.write(ent.r(), eh);
                        c.dev.write(ent.d(), eh);
                    }
                    Buf dlogp = c.f(c.gauss(N, 1)), dent = withEntropy ? c.f(c.gauss(N, 0.3)) : null;
                    Buf dh = c.f(c.gauss(N * C, 1)), dw = c.f(c.gauss(V * C, 1));
                    c.run((k, s) -> k.logprobBackward(s.apply(dh), s.apply(dw), s.apply(dlogp), s.apply(dent), s.apply(hid),
                            s.apply(w), s.apply(t), s.apply(lse), s.apply(ent), N, C, V));
                    c.expect("dhidden", dh);
                    c.expect("dweight", dw);
                }));
            }
        }
    }

    // ---------------------------------------------------------------- optimiser

    private static void optimiser(List<Check> out) {
        int n = 20_011;
        out.add(check("adamw", "n " + n + " step 3", Precision.FP32, c -> {
            Buf p = c.f(c.gauss(n, 1)), g = c.f(c.gauss(n, 1)), m = c.f(c.gauss(n, 0.1));
            Buf v = c.f(c.uniform(n, 0, 0.05));
            c.run((k, s) -> k.adamw(s.apply(p), s.apply(g), s.apply(m), s.apply(v), n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3));
            c.expect("params", p);
            c.expect("m", m);
            c.expect("v", v);
        }));
        out.add(check("sumSquares", "n 1000003", Precision.REDUCTION, c -> {
            int nn = 1_000_003;
            Buf x = c.f(c.gauss(nn, 1));
            double[] r = new double[2];
            r[0] = c.ref.sumSquares(x.r(), nn);
            r[1] = c.dev.sumSquares(x.d(), nn);
            c.compare("sum", new float[] {(float) r[0]}, new float[] {(float) r[1]});
        }));
    }

    // ---------------------------------------------------------------- sampling

    private static void sampling(List<Check> out) {
        float[][] configs = {{0f, 0, 1f}, {1f, 0, 1f}, {0.7f, 50, 1f}, {1.3f, 0, 0.9f}, {0.9f, 40, 0.8f}};
        for (float[] cf : configs) {
            float temp = cf[0];
            int topK = (int) cf[1];
            float topP = cf[2];
            int B = 64, V = 1003;
            out.add(check("sample", String.format(Locale.ROOT, "B %d V %d temp %.1f topK %d topP %.1f", B, V, temp, topK, topP),
                    Precision.REDUCTION, c -> {
                float[] logits = c.gauss(B * V, 2);
                long[] seeds = new long[B];
                for (int b = 0; b < B; b++) seeds[b] = c.rnd.nextLong();
                long counter = c.rnd.nextInt(1000);
                Buf lg = c.f(logits), sd = c.l(seeds), tok = c.poisonInts(B), lp = c.nan(B);
                c.run((k, s) -> k.sample(s.apply(tok), s.apply(lp), s.apply(lg), s.apply(sd), counter, B, V, temp, topK, topP));
                int[] want = new int[B], got = new int[B];
                c.ref.readInts(tok.r(), want);
                c.dev.readInts(tok.d(), got);
                float[] gotLp = c.readDev(lp);
                float[] oracleLp = new float[B];
                for (int b = 0; b < B; b++) {
                    float[] row = Arrays.copyOfRange(logits, b * V, (b + 1) * V);
                    float u = CounterRng.uniform(seeds[b], counter);
                    if (got[b] < 0 || got[b] >= V) {
                        c.fail("row " + b + ": token " + got[b] + " outside [0, " + V + ")");
                        return;
                    }
                    if (got[b] != want[b] && !SampleOracle.acceptable(row, temp, topK, topP, u, got[b])) {
                        c.fail("row " + b + ": token " + got[b] + ", reference " + want[b]
                                + " (not explained by rounding at a boundary)");
                        return;
                    }
                    oracleLp[b] = (float) SampleOracle.logSoftmax(row, got[b]);
                }
                c.compare("logp", oracleLp, gotLp);
            }));
        }
    }

    /** The sampling rule of {@link Kernels#sample} in double, to judge disagreements. */
    static final class SampleOracle {
        private SampleOracle() {}

        static final double SLACK = 1e-4;

        static double logSoftmax(float[] z, int t) {
            double m = Double.NEGATIVE_INFINITY;
            for (float x : z) m = Math.max(m, x);
            double s = 0;
            for (float x : z) s += Math.exp(x - m);
            return z[t] - m - Math.log(s);
        }

        /**
         * True when token t could be the choice under rounding: its cumulative interval in
         * the kept set, widened by SLACK of the total, contains u; or it lies just outside a
         * top-p cut within SLACK.
         */
        static boolean acceptable(float[] z, float temp, int topK, float topP, float u, int t) {
            int V = z.length;
            if (temp <= 0) {
                int best = 0;
                for (int i = 1; i < V; i++) if (z[i] > z[best]) best = i;
                return t == best || Math.abs(z[t] - z[best]) <= 1e-6 * Math.max(1, Math.abs(z[best]));
            }
            double[] s = new double[V];
            double m = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < V; i++) {
                s[i] = (double) (z[i] / temp);
                m = Math.max(m, s[i]);
            }
            double[] w = new double[V];
            for (int i = 0; i < V; i++) w[i] = Math.exp(s[i] - m);
            Integer[] order = new Integer[V];
            for (int i = 0; i < V; i++) order[i] = i;
            Arrays.sort(order, (a, b) -> s[a] != s[b] ? Double.compare(s[b], s[a]) : Integer.compare(a, b));
            int nk = topK > 0 && topK < V ? topK : V;
            boolean[] kept = new boolean[V];
            double mass = 0;
            for (int j = 0; j < nk; j++) mass += w[order[j]];
            boolean borderline = false;
            if (topP < 1f) {
                double run = 0;
                int j = 0;
                for (; j < nk; j++) {
                    kept[order[j]] = true;
                    run += w[order[j]];
                    if (run >= topP * mass) break;
                }
                // the next token would be kept too had the prefix fallen short of topP by rounding
                if (j + 1 < nk && order[j + 1] == t && run < topP * mass * (1 + SLACK)) borderline = true;
            } else {
                for (int j = 0; j < nk; j++) kept[order[j]] = true;
            }
            if (topK > 0 && topK < V && !kept[t]) {
                // a tie or near-tie at the top-k threshold
                double th = s[order[nk - 1]];
                if (Math.abs(s[t] - th) <= 1e-6 * Math.max(1, Math.abs(th))) borderline = true;
            }
            if (!kept[t]) return borderline;
            double total = 0;
            for (int i = 0; i < V; i++) if (kept[i]) total += w[i];
            double lo = 0;
            for (int i = 0; i < t; i++) if (kept[i]) lo += w[i];
            double hi = lo + w[t];
            double target = u * total;
            return target >= lo - SLACK * total && target < hi + SLACK * total;
        }
    }

    // ---------------------------------------------------------------- losses

    private static void losses(List<Check> out) {
        int S = 37, P = 29, G = 7;
        String[] types = {"dpo", "ipo", "hinge", "wdpo"};
        for (int type = LossOps.DPO; type <= LossOps.WDPO; type++) {
            int[] modes = type == LossOps.WDPO
                    ? new int[] {LossOps.WEIGHT_NONE, LossOps.WEIGHT_EXP, LossOps.WEIGHT_SIGMOID, LossOps.WEIGHT_LINEAR}
                    : new int[] {LossOps.WEIGHT_NONE};
            for (int mode : modes) {
                int ty = type;
                out.add(check("pairwiseLoss " + types[type] + (type == LossOps.WDPO ? " weight " + mode : ""),
                        "S " + S + " P " + P, Precision.REDUCTION, c -> {
                    Buf logp = c.f(c.uniform(S, -60, -5)), ref = c.f(c.uniform(S, -60, -5)), rw = c.f(c.gauss(S, 1));
                    Buf ci = c.i(c.ints(P, 0, S)), ri = c.i(c.ints(P, 0, S));
                    Buf met = metrics(c), dl = c.nan(S);
                    c.run((k, s) -> k.pairwiseLoss(s.apply(met), s.apply(dl), s.apply(logp), s.apply(ref), s.apply(rw),
                            s.apply(ci), s.apply(ri), S, P, ty, mode, 0.1f, ty == LossOps.DPO ? 0.1f : 0f, 0.5f, 2f));
                    c.expect("metrics", met);
                    c.expect("dlogp", dl);
                }));
            }
        }
        out.add(check("sftLoss", "S " + S, Precision.REDUCTION, c -> {
            int[] lens = c.ints(S, 0, 40);
            Buf logp = c.f(c.uniform(S, -60, -5)), ref = c.f(c.uniform(S, -60, -5)), rw = c.f(c.gauss(S, 1));
            Buf len = c.i(lens), met = metrics(c), dl = c.nan(S);
            c.run((k, s) -> k.sftLoss(s.apply(met), s.apply(dl), s.apply(logp), s.apply(ref), s.apply(len), s.apply(rw), S));
            c.expect("metrics", met);
            c.expect("dlogp", dl);
        }));
        for (boolean filter : new boolean[] {false, true}) {
            out.add(check("rwrLoss" + (filter ? " filter" : " weight"), "S " + S + " G " + G, Precision.REDUCTION, c -> {
                Buf logp = c.f(c.uniform(S, -60, -5)), ref = c.f(c.uniform(S, -60, -5)), rw = c.f(c.gauss(S, 1));
                Buf len = c.i(c.ints(S, 0, 40)), gr = c.i(c.ints(S, 0, G)), met = metrics(c), dl = c.nan(S);
                c.run((k, s) -> k.rwrLoss(s.apply(met), s.apply(dl), s.apply(logp), s.apply(ref), s.apply(len), s.apply(rw),
                        s.apply(gr), S, G, filter, 2, 0.7f, 5f));
                c.expect("metrics", met);
                c.expect("dlogp", dl);
            }));
        }
        for (int neg : new int[] {LossOps.NEG_NONE, LossOps.NEG_AVERAGE_OVER_WORSE, LossOps.NEG_WORST}) {
            out.add(check("bestOfNLoss neg " + neg, "S " + S + " G " + G, Precision.REDUCTION, c -> {
                Buf logp = c.f(c.uniform(S, -60, -5)), ref = c.f(c.uniform(S, -60, -5)), rw = c.f(c.gauss(S, 1));
                Buf gr = c.i(c.ints(S, 0, G)), met = metrics(c), dl = c.nan(S);
                c.run((k, s) -> k.bestOfNLoss(s.apply(met), s.apply(dl), s.apply(logp), s.apply(ref), s.apply(rw), s.apply(gr),
                        S, G, neg, 0.3f));
                c.expect("metrics", met);
                c.expect("dlogp", dl);
            }));
        }
        for (int base = LossOps.BASELINE_NONE; base <= LossOps.BASELINE_RLOO; base++) {
            int bl = base;
            out.add(check("reinforceLoss baseline " + base, "S " + S + " G " + G, Precision.REDUCTION, c -> {
                int[] groups = new int[S];
                for (int i = 0; i < S; i++) groups[i] = i % G; // every group has >= 2 members (RLOO)
                Buf logp = c.f(c.uniform(S, -60, -5)), ref = c.f(c.uniform(S, -60, -5)), rw = c.f(c.gauss(S, 1));
                Buf gr = c.i(groups), st = c.f(new float[] {0.3f, 0f}), met = metrics(c), dl = c.nan(S);
                for (int call = 0; call < 2; call++) { // the moving average: first call initialises, second updates
                    c.run((k, s) -> k.reinforceLoss(s.apply(met), s.apply(dl), s.apply(st), s.apply(logp), s.apply(ref),
                            s.apply(rw), s.apply(gr), S, G, bl, 0.9f, 0.05f, 3f));
                }
                c.expect("metrics", met);
                c.expect("dlogp", dl);
                c.expect("state", st);
            }));
        }
        int B = 5, T = 23;
        for (boolean whiten : new boolean[] {false, true}) {
            out.add(check("ppoAdvantages" + (whiten ? " whiten" : ""), "B " + B + " T " + T, Precision.REDUCTION, c -> {
                int[] mask = new int[B * T];
                for (int b = 0; b < B - 1; b++) { // the last row has no response tokens
                    int s0 = c.rnd.nextInt(T / 2), e0 = s0 + 1 + c.rnd.nextInt(T - s0 - 1);
                    for (int t = s0; t < e0; t++) mask[b * T + t] = 1;
                }
                Buf old = c.f(c.uniform(B * T, -5, 0)), ref = c.f(c.uniform(B * T, -5, 0)), val = c.f(c.gauss(B * T, 1));
                Buf sc = c.f(c.gauss(B, 1)), mk = c.i(mask), met = metrics(c), adv = c.nan((long) B * T), ret = c.nan((long) B * T);
                c.run((k, s) -> k.ppoAdvantages(s.apply(met), s.apply(adv), s.apply(ret), s.apply(old), s.apply(ref), s.apply(val),
                        s.apply(sc), s.apply(mk), B, T, 0.05f, 0.99f, 0.95f, whiten));
                c.expect("metrics", met);
                c.expect("advantages", adv);
                c.expect("returns", ret);
            }));
        }
        out.add(check("ppoLoss", "B " + B + " T " + T, Precision.REDUCTION, c -> {
            int[] mask = c.ints(B * T, 0, 2);
            Buf lp = c.f(c.uniform(B * T, -5, 0)), old = c.f(c.uniform(B * T, -5, 0)), v = c.f(c.gauss(B * T, 1));
            Buf ov = c.f(c.gauss(B * T, 1)), adv = c.f(c.gauss(B * T, 1)), ret = c.f(c.gauss(B * T, 1)), mk = c.i(mask);
            Buf met = metrics(c), dl = c.nan((long) B * T), dv = c.nan((long) B * T);
            c.run((k, s) -> k.ppoLoss(s.apply(met), s.apply(dl), s.apply(dv), s.apply(lp), s.apply(old), s.apply(v), s.apply(ov),
                    s.apply(adv), s.apply(ret), s.apply(mk), B, T, 0.2f, 0.2f, 0.5f));
            c.expect("metrics", met);
            c.expect("dlogp", dl);
            c.expect("dvalue", dv);
        }));
        newLosses(out);
    }

    /** grpo advantages and loss (every aggregation and ratio level), kto, simpo and orpo. */
    private static void newLosses(List<Check> out) {
        int S = 37, P = 29, G = 7;
        String[] scales = {"none", "group", "batch"};
        for (int scale = LossOps.SCALE_NONE; scale <= LossOps.SCALE_BATCH; scale++) {
            int sc = scale;
            out.add(check("grpoAdvantages " + scales[scale], "B " + S + " G " + (G + 1), Precision.REDUCTION, c -> {
                int[] groups = new int[S];
                for (int i = 0; i < S; i++) groups[i] = i % G; // >= 2 members each; group G is empty
                float[] r = c.gauss(S, 1);
                for (int i = 0; i < S; i += G) r[i] = 0.5f; // group 0 has no spread
                Buf rw = c.f(r), gr = c.i(groups), met = metrics(c), adv = c.nan(S);
                c.run((k, s) -> k.grpoAdvantages(s.apply(met), s.apply(adv), s.apply(rw), s.apply(gr), S, G + 1, sc));
                c.expect("metrics", met);
                c.expect("advantages", adv);
            }));
        }
        int B = 6, T = 41;
        String[] aggs = {"grpo", "bnpo", "dr_grpo", "dapo"};
        for (int agg = LossOps.AGG_GRPO; agg <= LossOps.AGG_DAPO; agg++) {
            for (int level = LossOps.IS_TOKEN; level <= LossOps.IS_SEQUENCE; level++) {
                int ag = agg, lv = level;
                boolean withKl = (agg + level) % 2 == 0;
                out.add(check("grpoLoss " + aggs[agg] + (level == LossOps.IS_SEQUENCE ? " sequence" : " token")
                        + (withKl ? " kl" : ""), "B " + B + " T " + T, Precision.REDUCTION, c -> {
                    int[] mask = new int[B * T];
                    for (int b = 0; b < B - 1; b++) { // the last row has no completion tokens
                        int s0 = c.rnd.nextInt(T / 2), e0 = s0 + 1 + c.rnd.nextInt(T - s0 - 1);
                        for (int t = s0; t < e0; t++) mask[b * T + t] = 1;
                    }
                    float[] old = c.uniform(B * T, -5, 0), lp = old.clone(), noise = c.gauss(B * T, 0.3);
                    for (int i = 0; i < lp.length; i++) lp[i] += noise[i]; // ratios on both sides of the clip
                    Buf o = c.f(old), l = c.f(lp), ref = withKl ? c.f(c.uniform(B * T, -5, 0)) : null;
                    Buf adv = c.f(c.gauss(B, 1)), mk = c.i(mask), met = metrics(c), dl = c.nan((long) B * T);
                    float eps = lv == LossOps.IS_SEQUENCE ? 0.05f : 0.2f, epsHigh = lv == LossOps.IS_SEQUENCE ? 0.08f : 0.28f;
                    c.run((k, s) -> k.grpoLoss(s.apply(met), s.apply(dl), s.apply(l), s.apply(o), s.apply(ref), s.apply(adv),
                            s.apply(mk), B, T, ag, lv, eps, epsHigh, withKl ? 0.04f : 0f, 50));
                    c.expect("metrics", met);
                    c.expect("dlogp", dl);
                }));
            }
        }
        out.add(check("ktoLoss", "S " + S, Precision.REDUCTION, c -> {
            Buf logp = c.f(c.uniform(S, -60, -5)), ref = c.f(c.uniform(S, -60, -5)), lab = c.i(c.ints(S, 0, 2));
            Buf met = metrics(c), dl = c.nan(S);
            c.run((k, s) -> k.ktoLoss(s.apply(met), s.apply(dl), s.apply(logp), s.apply(ref), s.apply(lab), S, 0.1f, 0.7f,
                    1.33f, 0.75f));
            c.expect("metrics", met);
            c.expect("dlogp", dl);
        }));
        for (int type : new int[] {LossOps.SIMPO, LossOps.ORPO}) {
            out.add(check("lengthNormPairwiseLoss " + (type == LossOps.SIMPO ? "simpo" : "orpo"), "S " + S + " P " + P,
                    Precision.REDUCTION, c -> {
                Buf logp = c.f(c.uniform(S, -60, -5)), len = c.i(c.ints(S, 1, 40));
                Buf ci = c.i(c.ints(P, 0, S)), ri = c.i(c.ints(P, 0, S)), met = metrics(c), dl = c.nan(S);
                c.run((k, s) -> k.lengthNormPairwiseLoss(s.apply(met), s.apply(dl), s.apply(logp), s.apply(len), s.apply(ci),
                        s.apply(ri), S, P, type, 2f, 0.1f, 0.5f, 0.3f));
                c.expect("metrics", met);
                c.expect("dlogp", dl);
            }));
        }
    }

    /** A metrics buffer whose slots start at a sentinel: slots a loss must not write keep it on both. */
    private static Buf metrics(Ctx c) {
        float[] m = new float[LossOps.METRICS];
        Arrays.fill(m, 12345.25f);
        return c.f(m);
    }

    // ---------------------------------------------------------------- end to end

    /**
     * One DPO training step of a tiny GPT on both backends from the same weights: forward
     * with per-token log-probs, sequence sums, the fused DPO loss, backward, gradient
     * clipping and AdamW. Compares the log-probs, the loss, every gradient and every
     * parameter after the step (bf16 tolerance: the attention's precision reaches them all).
     */
    static Check gptStep() {
        return gptStep(new GptConfig(32, 259, 2, 4, 64));
    }

    /**
     * The step at head size 64 on the tensor-core attention (C 128, NH 2) with V 2053: several
     * vocabulary chunks of the log-prob gather under a small chunk buffer (gpu-check
     * --logprob-chunk-mib 0: 96 rows, chunks of 640 tokens).
     */
    static Check gptStepHs64() {
        return gptStep(new GptConfig(32, 2053, 2, 2, 128));
    }

    static Check gptStep(GptConfig cfg) {
        String shape = "L " + cfg.numLayers() + " C " + cfg.channels() + " NH " + cfg.numHeads() + " V " + cfg.vocabSize() + " B 4 T 24";
        return check("gpt dpo step (fwd+bwd+adamw)", shape, Precision.BF16, c -> {
            int B = 4, T = 24, prompt = 5;
            int[] lens = {24, 19, 22, 13};
            int[] toks = c.ints(B * T, 0, cfg.vocabSize());
            int[] targets = new int[B * T];
            Arrays.fill(targets, -1);
            for (int b = 0; b < B; b++) for (int t = prompt - 1; t < lens[b] - 1; t++) targets[b * T + t] = toks[b * T + t + 1];
            float[] refSeq = c.uniform(B, -140, -100);
            long seed = c.rnd.nextLong();
            Step r = Step.run(c.ref, cfg, B, T, toks, lens, targets, refSeq, seed);
            Step d = Step.run(c.dev, cfg, B, T, toks, lens, targets, refSeq, seed);
            c.compare("token logp", r.tokenLogp, d.tokenLogp);
            c.compare("loss+metrics", r.metrics, d.metrics);
            c.compare("grads", r.grads, d.grads);
            c.compare("params after adamw", r.params, d.params);
        });
    }

    private record Step(float[] tokenLogp, float[] metrics, float[] grads, float[] params) {
        static Step run(Kernels k, GptConfig cfg, int B, int T, int[] toks, int[] lens, int[] targets, float[] refSeq, long seed) {
            Gpt m = new Gpt(k, cfg, B, T);
            m.initRandom(seed);
            AdamW opt = new AdamW(k, m.layout(), m.params(), m.grads(), 0.1f);
            m.forward(toks, lens, targets, B, T);
            float[] tl = m.tokenLogp();
            float[] seq = new float[B];
            for (int b = 0; b < B; b++) {
                double sum = 0;
                for (int t = 0; t < T; t++) if (targets[b * T + t] >= 0) sum += tl[b * T + t];
                seq[b] = (float) sum;
            }
            MemorySegment lp = k.allocFloats(B), ref = k.allocFloats(B), dl = k.allocFloats(B), met = k.allocFloats(LossOps.METRICS);
            MemorySegment ci = k.allocInts(2), ri = k.allocInts(2);
            k.write(lp, seq);
            k.write(ref, refSeq);
            k.writeInts(ci, new int[] {0, 2});
            k.writeInts(ri, new int[] {1, 3});
            k.pairwiseLoss(met, dl, lp, ref, null, ci, ri, B, 2, LossOps.DPO, LossOps.WEIGHT_NONE, 0.1f, 0f, 0f, 0f);
            float[] dseq = new float[B], metrics = new float[LossOps.METRICS];
            k.read(dl, dseq);
            k.read(met, metrics);
            float[] dtok = new float[B * T];
            for (int i = 0; i < B * T; i++) if (targets[i] >= 0) dtok[i] = dseq[i / T];
            m.zeroGrad();
            m.backward(dtok);
            int n = (int) m.layout().size();
            float[] grads = new float[n];
            k.read(m.grads(), grads);
            opt.clipGradNorm(1.0);
            opt.step(1e-3f);
            float[] params = new float[n];
            k.read(m.params(), params);
            return new Step(tl, metrics, grads, params);
        }
    }

    // ================================================================ report

    /** Runs every check with seeds drawn from baseSeed; results in order. */
    public static List<Result> runAll(Kernels ref, Kernels dev, long baseSeed) {
        return runAll(ref, dev, baseSeed, null);
    }

    /** The name a selection regex is matched against: op, a space, shape. */
    public static String name(Check ch) {
        return ch.op() + " " + ch.shape();
    }

    /** The checks whose {@link #name} contains a match of only (every check when only is null). */
    public static List<Check> select(java.util.regex.Pattern only) {
        List<Check> out = new ArrayList<>();
        for (Check ch : all()) if (only == null || only.matcher(name(ch)).find()) out.add(ch);
        return out;
    }

    /**
     * Runs the checks that only selects (all when null). A check's seed depends on its index
     * in {@link #all()} and baseSeed alone, so a row reruns with the same inputs under any
     * selection: --seed S --only 'its name' reproduces it.
     */
    public static List<Result> runAll(Kernels ref, Kernels dev, long baseSeed, java.util.regex.Pattern only) {
        List<Result> out = new ArrayList<>();
        long i = 0;
        for (Check ch : all()) {
            long seed = CounterRng.rowSeed(baseSeed, i++);
            if (only == null || only.matcher(name(ch)).find()) out.add(ch.run(ref, dev, seed));
        }
        return out;
    }

    /** The pass/fail table: op, shape, max rel error, tolerance, PASS/FAIL (and the detail of failures). */
    public static String table(List<Result> results) {
        int w1 = "op".length(), w2 = "shape".length();
        for (Result r : results) {
            w1 = Math.max(w1, r.op().length());
            w2 = Math.max(w2, r.shape().length());
        }
        StringBuilder sb = new StringBuilder();
        String fmt = "%-" + w1 + "s  %-" + w2 + "s  %13s  %9s  %s%n";
        sb.append(String.format(Locale.ROOT, fmt, "op", "shape", "max rel err", "tolerance", "result"));
        for (Result r : results) {
            String e = Double.isInfinite(r.error()) ? "inf" : String.format(Locale.ROOT, "%.3e", r.error());
            sb.append(String.format(Locale.ROOT, fmt, r.op(), r.shape(), e, String.format(Locale.ROOT, "%.0e", r.tolerance()),
                    r.pass() ? "PASS" : "FAIL  " + r.detail()));
        }
        return sb.toString();
    }
}
