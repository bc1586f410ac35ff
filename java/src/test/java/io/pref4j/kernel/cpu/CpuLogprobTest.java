package io.pref4j.kernel.cpu;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * CpuLogprob against a naive full-softmax computation in double precision and against
 * central finite differences.
 *
 * <p>Tolerances. Forward: the kernel's logits are fp32 dot products (relative error ~1e-6),
 * exp/log run in fp32 vector math (a few ulp) and the running sums in double, so logp, lse
 * and entropy are within ~1e-5 of the exact values for logits of order 1–10; we allow
 * {@code 1e-4·(1 + |ref|)}. Backward vs the double analytic gradient: each gradient entry is
 * a sum of terms dz·w (or dz·h) with dz carrying ~1e-6 relative error; we allow
 * {@code 1e-4·Σ|terms| + 1e-6}. Finite differences of the fp32 forward with h = 1e-2 have a
 * truncation error O(h²·L''') ≈ 1e-4 and a rounding error ~1e-7/h ≈ 1e-5; we allow
 * {@code 1e-2·max(|g|, 0.1·max|g|)}: a wrong sign, factor or term fails it.
 */
class CpuLogprobTest {

    /** The kernel's inputs and the reference results. */
    private static final class Problem {
        final int N, C, V;
        final float[] hidden, weight, dlogp, dent;
        final int[] targets;

        Problem(Random r, int N, int C, int V, double logitScale, double maskFraction) {
            this.N = N;
            this.C = C;
            this.V = V;
            hidden = new float[N * C];
            weight = new float[V * C];
            dlogp = new float[N];
            dent = new float[N];
            targets = new int[N];
            for (int i = 0; i < hidden.length; i++) hidden[i] = (float) r.nextGaussian();
            double ws = logitScale / Math.sqrt(C);
            for (int i = 0; i < weight.length; i++) weight[i] = (float) (r.nextGaussian() * ws);
            for (int n = 0; n < N; n++) {
                targets[n] = r.nextDouble() < maskFraction ? -1 : r.nextInt(V);
                dlogp[n] = (float) r.nextGaussian();
                dent[n] = (float) r.nextGaussian();
            }
            if (N > 1) targets[N - 1] = V - 1; // the last vocabulary entry (last, partial chunk)
        }

        double[] logits(int n) {
            double[] z = new double[V];
            for (int v = 0; v < V; v++) {
                double s = 0;
                for (int c = 0; c < C; c++) s += (double) hidden[n * C + c] * weight[v * C + c];
                z[v] = s;
            }
            return z;
        }

        /** {logp, entropy, lse} of row n in double. */
        double[] reference(int n) {
            double[] z = logits(n);
            double m = Double.NEGATIVE_INFINITY;
            for (double x : z) m = Math.max(m, x);
            double s = 0;
            for (double x : z) s += Math.exp(x - m);
            double lse = m + Math.log(s), h = 0;
            for (double x : z) h -= Math.exp(x - lse) * (x - lse);
            return new double[] {z[targets[n]] - lse, h, lse};
        }
    }

    private static float[][] runForward(CpuKernels k, Problem p, boolean withEntropy) {
        MemorySegment hid = k.allocFloats(p.hidden.length), w = k.allocFloats(p.weight.length);
        MemorySegment tg = k.allocInts(p.N);
        MemorySegment logp = k.allocFloats(p.N), ent = withEntropy ? k.allocFloats(p.N) : null, lse = k.allocFloats(p.N);
        k.write(hid, p.hidden);
        k.write(w, p.weight);
        k.writeInts(tg, p.targets);
        k.fill(logp, p.N, 7f);
        k.fill(lse, p.N, 7f);
        if (withEntropy) k.fill(ent, p.N, 7f);
        k.logprobForward(logp, ent, lse, hid, w, tg, p.N, p.C, p.V);
        float[][] out = new float[3][p.N];
        k.read(logp, out[0]);
        if (withEntropy) k.read(ent, out[1]);
        k.read(lse, out[2]);
        return out;
    }

    private static void checkForward(Problem p, float[][] got, boolean withEntropy) {
        for (int n = 0; n < p.N; n++) {
            if (p.targets[n] < 0) {
                assertEquals(0f, got[0][n], "masked row logp");
                if (withEntropy) assertEquals(0f, got[1][n], "masked row entropy");
                assertEquals(0f, got[2][n], "masked row lse");
                continue;
            }
            double[] ref = p.reference(n);
            String at = " row " + n + " (N=" + p.N + " C=" + p.C + " V=" + p.V + ")";
            assertEquals(ref[0], got[0][n], 1e-4 * (1 + Math.abs(ref[0])), "logp" + at);
            if (withEntropy) assertEquals(ref[1], got[1][n], 1e-4 * (1 + Math.abs(ref[1])), "entropy" + at);
            assertEquals(ref[2], got[2][n], 1e-4 * (1 + Math.abs(ref[2])), "lse" + at);
        }
    }

    @Test
    void forwardMatchesFullSoftmaxAcrossChunks() {
        Random r = new Random(1);
        try (CpuKernels k = new CpuKernels(2)) {
            // V spans several chunks with a partial last one; C not a multiple of the vector width.
            Problem p = new Problem(r, 9, 37, 2 * CpuLogprob.VC + 37, 3.0, 0.3);
            checkForward(p, runForward(k, p, true), true);
            // Large logits: the running max must keep the sums finite.
            Problem big = new Problem(r, 5, 16, CpuLogprob.VC + 5, 300.0, 0.0);
            checkForward(big, runForward(k, big, true), true);
            // Tiny shapes, entropy absent.
            Problem tiny = new Problem(r, 3, 1, 2, 1.0, 0.0);
            checkForward(tiny, runForward(k, tiny, false), false);
            // More rows than one group, so several row groups run.
            Problem rowsMany = new Problem(r, CpuLogprob.RG + 45, 5, 67, 2.0, 0.2);
            checkForward(rowsMany, runForward(k, rowsMany, true), true);
            // Chunks shared between threads.
            Problem par = new Problem(r, 40, 64, 3 * CpuLogprob.VC + 5, 3.0, 0.2);
            checkForward(par, runForward(k, par, true), true);
        }
    }

    @Test
    void maxChunkOrderDoesNotMatter() {
        // The maximum logit sits in the first chunk, the last chunk, or the middle.
        Random r = new Random(2);
        try (CpuKernels k = new CpuKernels(1)) {
            for (int where : new int[] {0, CpuLogprob.VC + 3, 3 * CpuLogprob.VC - 1}) {
                Problem p = new Problem(r, 2, 4, 3 * CpuLogprob.VC, 1.0, 0.0);
                for (int c = 0; c < 4; c++) p.weight[where * 4 + c] = 20f * Math.signum(p.hidden[c]);
                p.targets[0] = where;
                checkForward(p, runForward(k, p, true), true);
            }
        }
    }

    /** Runs the kernel backward (accumulating onto random initial gradients). */
    private static float[][] runBackward(CpuKernels k, Problem p, boolean withEntropy, float[] dh0, float[] dw0) {
        MemorySegment hid = k.allocFloats(p.hidden.length), w = k.allocFloats(p.weight.length);
        MemorySegment tg = k.allocInts(p.N);
        MemorySegment logp = k.allocFloats(p.N), ent = withEntropy ? k.allocFloats(p.N) : null, lse = k.allocFloats(p.N);
        MemorySegment dlogp = k.allocFloats(p.N), dent = withEntropy ? k.allocFloats(p.N) : null;
        MemorySegment dh = k.allocFloats(dh0.length), dw = k.allocFloats(dw0.length);
        k.write(hid, p.hidden);
        k.write(w, p.weight);
        k.writeInts(tg, p.targets);
        k.write(dlogp, p.dlogp);
        if (withEntropy) k.write(dent, p.dent);
        k.write(dh, dh0);
        k.write(dw, dw0);
        k.logprobForward(logp, ent, lse, hid, w, tg, p.N, p.C, p.V);
        k.logprobBackward(dh, dw, dlogp, dent, hid, w, tg, lse, ent, p.N, p.C, p.V);
        float[][] out = {new float[dh0.length], new float[dw0.length]};
        k.read(dh, out[0]);
        k.read(dw, out[1]);
        return out;
    }

    private static void checkBackwardAgainstDouble(CpuKernels k, Problem p, boolean withEntropy) {
        Random r = new Random(99);
        float[] dh0 = new float[p.N * p.C], dw0 = new float[p.V * p.C];
        for (int i = 0; i < dh0.length; i++) dh0[i] = (float) r.nextGaussian();
        for (int i = 0; i < dw0.length; i++) dw0[i] = (float) r.nextGaussian();
        float[][] got = runBackward(k, p, withEntropy, dh0, dw0);

        double[] dh = new double[dh0.length], dhAbs = new double[dh0.length];
        double[] dw = new double[dw0.length], dwAbs = new double[dw0.length];
        for (int n = 0; n < p.N; n++) {
            if (p.targets[n] < 0) continue;
            double[] z = p.logits(n), ref = p.reference(n);
            double lse = ref[2], H = ref[1], a = p.dlogp[n], b = withEntropy ? p.dent[n] : 0;
            for (int v = 0; v < p.V; v++) {
                double pv = Math.exp(z[v] - lse);
                double dz = a * ((v == p.targets[n] ? 1 : 0) - pv) - b * pv * (z[v] - lse + H);
                for (int c = 0; c < p.C; c++) {
                    double t1 = dz * p.weight[v * p.C + c], t2 = dz * p.hidden[n * p.C + c];
                    dh[n * p.C + c] += t1;
                    dhAbs[n * p.C + c] += Math.abs(t1);
                    dw[v * p.C + c] += t2;
                    dwAbs[v * p.C + c] += Math.abs(t2);
                }
            }
        }
        String shape = " (N=" + p.N + " C=" + p.C + " V=" + p.V + " entropy=" + withEntropy + ")";
        for (int i = 0; i < dh.length; i++) {
            if (p.targets[i / p.C] < 0) assertEquals(dh0[i], got[0][i], "masked row got gradient" + shape);
            assertEquals(dh0[i] + dh[i], got[0][i], 1e-4 * (dhAbs[i] + Math.abs(dh0[i])) + 1e-6, "dhidden[" + i + "]" + shape);
        }
        for (int i = 0; i < dw.length; i++) {
            assertEquals(dw0[i] + dw[i], got[1][i], 1e-4 * (dwAbs[i] + Math.abs(dw0[i])) + 1e-6, "dweight[" + i + "]" + shape);
        }
    }

    @Test
    void backwardMatchesDoubleAnalyticGradient() {
        Random r = new Random(3);
        try (CpuKernels k = new CpuKernels(2)) {
            checkBackwardAgainstDouble(k, new Problem(r, 7, 19, CpuLogprob.VC + 77, 3.0, 0.3), true);
            checkBackwardAgainstDouble(k, new Problem(r, 7, 19, CpuLogprob.VC + 77, 3.0, 0.3), false);
            checkBackwardAgainstDouble(k, new Problem(r, 1, 1, 1, 1.0, 0.0), true);
            checkBackwardAgainstDouble(k, new Problem(r, CpuLogprob.RG + 3, 3, 41, 2.0, 0.1), true);
            // Enough work per group that the vocabulary chunks are shared between threads
            // (each thread then keeps its own dhidden block, summed after the group).
            checkBackwardAgainstDouble(k, new Problem(r, 40, 64, 3 * CpuLogprob.VC + 5, 3.0, 0.2), true);
        }
    }

    /** L = Σ a_n·logp_n + Σ b_n·entropy_n from the kernel's fp32 forward, summed in double. */
    private static double loss(CpuKernels k, Problem p) {
        float[][] f = runForward(k, p, true);
        double L = 0;
        for (int n = 0; n < p.N; n++) L += p.dlogp[n] * (double) f[0][n] + p.dent[n] * (double) f[1][n];
        return L;
    }

    @Test
    void backwardMatchesFiniteDifferences() {
        Random r = new Random(4);
        try (CpuKernels k = new CpuKernels(2)) {
            Problem p = new Problem(r, 4, 3, 11, 1.5, 0.0);
            p.targets[1] = -1; // one masked row
            float[][] g = runBackward(k, p, true, new float[p.N * p.C], new float[p.V * p.C]);
            double h = 1e-2;
            double gmax = 0;
            for (float[] arr : g) for (float x : arr) gmax = Math.max(gmax, Math.abs(x));
            for (int i = 0; i < p.hidden.length; i++) {
                float save = p.hidden[i];
                p.hidden[i] = (float) (save + h);
                double lp = loss(k, p);
                p.hidden[i] = (float) (save - h);
                double lm = loss(k, p);
                p.hidden[i] = save;
                double fd = (lp - lm) / (2 * h);
                assertEquals(fd, g[0][i], 1e-2 * Math.max(Math.abs(g[0][i]), 0.1 * gmax), "dhidden[" + i + "]");
            }
            for (int i = 0; i < p.weight.length; i++) {
                float save = p.weight[i];
                p.weight[i] = (float) (save + h);
                double lp = loss(k, p);
                p.weight[i] = (float) (save - h);
                double lm = loss(k, p);
                p.weight[i] = save;
                double fd = (lp - lm) / (2 * h);
                assertEquals(fd, g[1][i], 1e-2 * Math.max(Math.abs(g[1][i]), 0.1 * gmax), "dweight[" + i + "]");
            }
        }
    }

    @Test
    void vectorExpIsAccurate() {
        // Relative error within 4e-7 (a few ulp) over the range softmax uses; 0 below the
        // smallest normal result, including -inf.
        jdk.incubator.vector.VectorSpecies<Float> sp = CpuMatmul.S;
        float[] x = new float[sp.length()], y = new float[sp.length()];
        Random r = new Random(6);
        for (int it = 0; it < 20000; it++) {
            for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 170 - 87);
            VectorMath.exp(jdk.incubator.vector.FloatVector.fromArray(sp, x, 0)).intoArray(y, 0);
            for (int i = 0; i < x.length; i++) {
                double e = Math.exp(x[i]);
                assertEquals(e, y[i], 4e-7 * e, "exp(" + x[i] + ")");
            }
        }
        x[0] = Float.NEGATIVE_INFINITY;
        x[1] = -100f;
        x[2] = 0f;
        VectorMath.exp(jdk.incubator.vector.FloatVector.fromArray(sp, x, 0)).intoArray(y, 0);
        assertEquals(0f, y[0]);
        assertEquals(0f, y[1]);
        assertEquals(1f, y[2]);
    }

    @Test
    void targetOutsideVocabularyIsRejected() {
        try (CpuKernels k = new CpuKernels(1)) {
            MemorySegment hid = k.allocFloats(2), w = k.allocFloats(4), tg = k.allocInts(1);
            MemorySegment logp = k.allocFloats(1), lse = k.allocFloats(1);
            k.writeInts(tg, new int[] {2});
            assertThrows(IllegalArgumentException.class, () -> k.logprobForward(logp, null, lse, hid, w, tg, 1, 2, 2));
        }
    }
}
