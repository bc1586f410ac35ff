package io.pref4j.kernel.cpu;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static io.pref4j.kernel.cpu.KernelTestSupport.close;
import static io.pref4j.kernel.cpu.KernelTestSupport.rand;
import static io.pref4j.kernel.cpu.KernelTestSupport.sumW;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The Llama-family layers of CpuKernels (RMSNorm, Qwen3's per-head q/k norm, RoPE, SwiGLU)
 * against naive double-precision loops, central finite differences of L = Σ w·out through
 * the fp32 kernels, and bitwise equality of 1- and 2-thread results.
 *
 * <p>Tolerances: fp32 kernels against double references, a few ulp per operation over
 * short rows (1e-6 absolute + 1e-5 relative; backward sums 1e-5 + 1e-4). Finite
 * differences: step h = 1e-2 on O(1) inputs; as argued in CpuLayersTest the rounding noise
 * and the O(h²) truncation are ~1e-4, so |fd − g| ≤ 2e-3 + 1e-2·|g| fails a wrong term while
 * gradients are O(0.1–1).
 */
class CpuLlamaKernelsTest {

    private static CpuKernels k, k1;

    @BeforeAll static void setUp() {
        k = new CpuKernels(2);
        k1 = new CpuKernels(1);
    }

    @AfterAll static void tearDown() {
        k.close();
        k1.close();
    }

    // ---------------------------------------------------------------- helpers

    MemorySegment seg(float[] a) { return KernelTestSupport.seg(k, a); }

    MemorySegment segI(int[] a) { return KernelTestSupport.segI(k, a); }

    float[] get(MemorySegment m, int n) { return KernelTestSupport.get(k, m, n); }

    /**
     * Central differences of L = Σ w·out(x) for every element of x (a segment of length n);
     * forward recomputes out (length w.length) from the current segments. Returns how many
     * gradient entries were non-trivial (|g| &gt; 1e-2), so callers can check the check.
     */
    int fdCheck(String what, MemorySegment x, int n, float[] grad, Runnable forward, MemorySegment out, float[] w) {
        final double h = 1e-2;
        int nonTrivial = 0;
        for (int i = 0; i < n; i++) {
            float x0 = x.getAtIndex(CpuKernels.F32, i);
            float xp = (float) (x0 + h), xm = (float) (x0 - h);
            x.setAtIndex(CpuKernels.F32, i, xp);
            forward.run();
            double lp = sumW(w, get(out, w.length));
            x.setAtIndex(CpuKernels.F32, i, xm);
            forward.run();
            double lm = sumW(w, get(out, w.length));
            x.setAtIndex(CpuKernels.F32, i, x0);
            double fd = (lp - lm) / ((double) xp - xm);
            if (!(Math.abs(fd - grad[i]) <= 2e-3 + 1e-2 * Math.abs(grad[i])))
                fail(what + " fd[" + i + "]: finite difference " + fd + " vs analytic " + grad[i]);
            if (Math.abs(grad[i]) > 1e-2) nonTrivial++;
        }
        forward.run();
        return nonTrivial;
    }

    static float[] plus(float[] a, float[] b) {
        float[] s = new float[a.length];
        for (int i = 0; i < a.length; i++) s[i] = a[i] + b[i];
        return s;
    }

    // ---------------------------------------------------------------- RMSNorm

    /** Double RMSNorm of x[off .. off+C): writes out[off .. off+C), returns rstd. */
    static double rmsRef(float[] x, int off, float[] w, int C, double eps, double[] out) {
        double ss = 0;
        for (int c = 0; c < C; c++) ss += (double) x[off + c] * x[off + c];
        double rs = 1 / Math.sqrt(ss / C + eps);
        for (int c = 0; c < C; c++) out[off + c] = x[off + c] * rs * w[c];
        return rs;
    }

    /** Double RMSNorm backward of the row x[off .. off+C) given g: dx[off ..] += the input gradient, dw[dwOff ..] += the weight gradient. */
    static void rmsBackRef(float[] x, int off, float[] w, float[] g, int C, double eps, double[] dx, double[] dw,
                           int dwOff) {
        double ss = 0;
        for (int c = 0; c < C; c++) ss += (double) x[off + c] * x[off + c];
        double rs = 1 / Math.sqrt(ss / C + eps), m = 0;
        for (int c = 0; c < C; c++) m += (double) g[off + c] * w[c] * x[off + c] * rs;
        m /= C;
        for (int c = 0; c < C; c++) {
            double nrm = x[off + c] * rs;
            dx[off + c] += rs * (g[off + c] * w[c] - nrm * m);
            dw[dwOff + c] += g[off + c] * nrm;
        }
    }

    @Test void rmsNormForwardMatchesNaive() {
        Random r = new Random(31);
        // N, C, input scale (1e-3: mean(x²) ≈ 1e-6, where eps matters)
        double[][] shapes = {{1, 24, 1}, {7, 20, 1}, {33, 8, 1}, {5, 768, 1}, {700, 24, 1}, {3, 1, 1}, {4, 131, 1e-3}};
        for (double[] sh : shapes)
            for (float eps : new float[]{1e-6f, 1e-5f}) {
                int N = (int) sh[0], C = (int) sh[1];
                String s = " " + N + "x" + C + " scale " + sh[2] + " eps " + eps;
                float[] x = rand(r, N * C, sh[2]), w = rand(r, C, 1);
                for (int i = 0; i < N * C; i++) x[i] += (float) (0.5 * sh[2]); // non-zero mean
                double[] e = new double[N * C], er = new double[N];
                for (int n = 0; n < N; n++) er[n] = rmsRef(x, n * C, w, C, eps, e);
                MemorySegment so = k.allocFloats(N * C), sr = k.allocFloats(N), sx = seg(x), sw = seg(w);
                k.fill(so, N * C, 9f); // "=": stale contents must be overwritten
                k.fill(sr, N, 9f);
                k.rmsNormForward(so, sr, sx, sw, N, C, eps);
                float[] out = get(so, N * C), rstd = get(sr, N);
                close(e, out, 1e-6, 1e-5, "rmsnorm out" + s);
                close(er, rstd, 0, 1e-5, "rmsnorm rstd" + s);
                MemorySegment o1 = k.allocFloats(N * C), r1 = k.allocFloats(N);
                k1.rmsNormForward(o1, r1, sx, sw, N, C, eps);
                assertArrayEquals(out, get(o1, N * C), "out, 1 thread vs 2" + s);
                assertArrayEquals(rstd, get(r1, N), "rstd, 1 thread vs 2" + s);
            }
    }

    @Test void rmsNormBackwardMatchesNaive() {
        Random r = new Random(32);
        // the larger shapes have several row blocks of partial weight-gradient sums
        int[][] shapes = {{1, 24}, {7, 20}, {33, 8}, {9, 768}, {2000, 40}, {300, 771}, {2, 3}};
        float eps = 1e-6f;
        for (int[] sh : shapes) {
            int N = sh[0], C = sh[1];
            String s = " " + N + "x" + C;
            float[] x = rand(r, N * C, 1), w = rand(r, C, 1), g = rand(r, N * C, 1);
            float[] dx0 = rand(r, N * C, 1), dw0 = rand(r, C, 1);
            double[] edx = new double[N * C], edw = new double[C], tmp = new double[N * C];
            for (int i = 0; i < N * C; i++) edx[i] = dx0[i];
            for (int c = 0; c < C; c++) edw[c] = dw0[c];
            for (int n = 0; n < N; n++) rmsBackRef(x, n * C, w, g, C, eps, edx, edw, 0);
            MemorySegment sx = seg(x), sw = seg(w), sg = seg(g), so = k.allocFloats(N * C), sr = k.allocFloats(N);
            k.rmsNormForward(so, sr, sx, sw, N, C, eps);
            MemorySegment sdx = seg(dx0), sdw = seg(dw0);
            k.rmsNormBackward(sdx, sdw, sg, sx, sw, sr, N, C); // += onto dx0, dw0
            float[] dx = get(sdx, N * C), dw = get(sdw, C);
            close(edx, dx, 1e-5, 1e-4, "rmsnorm dinp" + s);
            close(edw, dw, 1e-5 * Math.sqrt(N), 1e-4, "rmsnorm dweight" + s);
            MemorySegment dx1 = seg(dx0), dw1 = seg(dw0);
            k1.rmsNormBackward(dx1, dw1, sg, sx, sw, sr, N, C);
            assertArrayEquals(dx, get(dx1, N * C), "dinp, 1 thread vs 2" + s);
            assertArrayEquals(dw, get(dw1, C), "dweight, 1 thread vs 2" + s);
        }
    }

    @Test void rmsNormFiniteDifferences() {
        Random r = new Random(33);
        int N = 3, C = 13;
        float eps = 1e-5f;
        float[] x = rand(r, N * C, 1), w = plus(rand(r, C, 0.5), filled(C, 1f)), lw = rand(r, N * C, 1);
        MemorySegment sx = seg(x), sw = seg(w), so = k.allocFloats(N * C), sr = k.allocFloats(N);
        Runnable fwd = () -> k.rmsNormForward(so, sr, sx, sw, N, C, eps);
        fwd.run();
        MemorySegment sdx = k.allocFloats(N * C), sdw = k.allocFloats(C);
        k.rmsNormBackward(sdx, sdw, seg(lw), sx, sw, sr, N, C);
        int nt = fdCheck("rmsnorm dinp", sx, N * C, get(sdx, N * C), fwd, so, lw);
        nt += fdCheck("rmsnorm dweight", sw, C, get(sdw, C), fwd, so, lw);
        assertTrue(nt > (N * C + C) / 2, "too few non-trivial gradient entries: " + nt);
    }

    static float[] filled(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    // ---------------------------------------------------------------- q/k norm

    /** N, NH, NKV, HS. */
    private static final int[][] QK_SHAPES = {{5, 4, 2, 8}, {3, 2, 1, 128}, {17, 3, 3, 5}, {40, 16, 8, 64}, {2, 1, 1, 1}};

    @Test void qkNormForwardMatchesNaive() {
        Random r = new Random(34);
        float eps = 1e-6f;
        for (int[] sh : QK_SHAPES) {
            int N = sh[0], NH = sh[1], NKV = sh[2], HS = sh[3], nh = NH + NKV, RW = (nh + NKV) * HS;
            String s = " N" + N + " NH" + NH + " NKV" + NKV + " HS" + HS;
            float[] x = rand(r, N * RW, 1), qw = rand(r, HS, 1), kw = rand(r, HS, 1);
            double[] e = new double[N * RW], er = new double[N * nh];
            for (int n = 0; n < N; n++) {
                for (int j = 0; j < nh; j++) er[n * nh + j] = rmsRef(x, n * RW + j * HS, j < NH ? qw : kw, HS, eps, e);
                for (int c = nh * HS; c < RW; c++) e[n * RW + c] = x[n * RW + c];
            }
            MemorySegment sx = seg(x), sq = seg(qw), sk = seg(kw), so = k.allocFloats(N * RW), sr = k.allocFloats(N * nh);
            k.fill(so, N * RW, 9f);
            k.fill(sr, N * nh, 9f);
            k.qkNormForward(so, sr, sx, sq, sk, N, NH, NKV, HS, eps);
            float[] out = get(so, N * RW), rstd = get(sr, N * nh);
            close(e, out, 1e-6, 1e-5, "qknorm out" + s);
            close(er, rstd, 0, 1e-5, "qknorm rstd" + s);
            for (int n = 0; n < N; n++)
                for (int c = nh * HS; c < RW; c++) assertEquals(x[n * RW + c], out[n * RW + c], 0f, "v copied" + s);
            MemorySegment o1 = k.allocFloats(N * RW), r1 = k.allocFloats(N * nh);
            k1.qkNormForward(o1, r1, sx, sq, sk, N, NH, NKV, HS, eps);
            assertArrayEquals(out, get(o1, N * RW), "out, 1 thread vs 2" + s);
            assertArrayEquals(rstd, get(r1, N * nh), "rstd, 1 thread vs 2" + s);
        }
    }

    @Test void qkNormBackwardMatchesNaive() {
        Random r = new Random(35);
        float eps = 1e-6f;
        for (int[] sh : QK_SHAPES) {
            int N = sh[0], NH = sh[1], NKV = sh[2], HS = sh[3], nh = NH + NKV, RW = (nh + NKV) * HS;
            String s = " N" + N + " NH" + NH + " NKV" + NKV + " HS" + HS;
            float[] x = rand(r, N * RW, 1), qw = rand(r, HS, 1), kw = rand(r, HS, 1), g = rand(r, N * RW, 1);
            float[] dq0 = rand(r, HS, 1), dk0 = rand(r, HS, 1);
            double[] edx = new double[N * RW], edw = new double[2 * HS];
            for (int c = 0; c < HS; c++) {
                edw[c] = dq0[c];
                edw[HS + c] = dk0[c];
            }
            for (int n = 0; n < N; n++) {
                for (int j = 0; j < nh; j++)
                    rmsBackRef(x, n * RW + j * HS, j < NH ? qw : kw, g, HS, eps, edx, edw, j < NH ? 0 : HS);
                for (int c = nh * HS; c < RW; c++) edx[n * RW + c] = g[n * RW + c];
            }
            MemorySegment sx = seg(x), sq = seg(qw), sk = seg(kw), sg = seg(g);
            MemorySegment so = k.allocFloats(N * RW), sr = k.allocFloats(N * nh);
            k.qkNormForward(so, sr, sx, sq, sk, N, NH, NKV, HS, eps);
            MemorySegment sdx = k.allocFloats(N * RW), sdq = seg(dq0), sdk = seg(dk0);
            k.fill(sdx, N * RW, 9f); // "=": stale contents must be overwritten
            k.qkNormBackward(sdx, sdq, sdk, sg, sx, sq, sk, sr, N, NH, NKV, HS);
            float[] dx = get(sdx, N * RW), dq = get(sdq, HS), dk = get(sdk, HS);
            close(edx, dx, 1e-5, 1e-4, "qknorm dqkvIn" + s);
            double tol = 1e-5 * Math.sqrt((double) N * nh);
            close(java.util.Arrays.copyOfRange(edw, 0, HS), dq, tol, 1e-4, "qknorm dqWeight" + s);
            close(java.util.Arrays.copyOfRange(edw, HS, 2 * HS), dk, tol, 1e-4, "qknorm dkWeight" + s);
            for (int n = 0; n < N; n++)
                for (int c = nh * HS; c < RW; c++) assertEquals(g[n * RW + c], dx[n * RW + c], 0f, "dv passes" + s);
            MemorySegment dx1 = k.allocFloats(N * RW), dq1 = seg(dq0), dk1 = seg(dk0);
            k1.qkNormBackward(dx1, dq1, dk1, sg, sx, sq, sk, sr, N, NH, NKV, HS);
            assertArrayEquals(dx, get(dx1, N * RW), "dqkvIn, 1 thread vs 2" + s);
            assertArrayEquals(dq, get(dq1, HS), "dqWeight, 1 thread vs 2" + s);
            assertArrayEquals(dk, get(dk1, HS), "dkWeight, 1 thread vs 2" + s);
        }
    }

    @Test void qkNormFiniteDifferences() {
        Random r = new Random(36);
        int N = 2, NH = 2, NKV = 1, HS = 6, nh = NH + NKV, RW = (nh + NKV) * HS;
        float eps = 1e-6f;
        float[] x = rand(r, N * RW, 1), lw = rand(r, N * RW, 1);
        float[] qw = plus(rand(r, HS, 0.5), filled(HS, 1f)), kw = plus(rand(r, HS, 0.5), filled(HS, 1f));
        MemorySegment sx = seg(x), sq = seg(qw), sk = seg(kw), so = k.allocFloats(N * RW), sr = k.allocFloats(N * nh);
        Runnable fwd = () -> k.qkNormForward(so, sr, sx, sq, sk, N, NH, NKV, HS, eps);
        fwd.run();
        MemorySegment sdx = k.allocFloats(N * RW), sdq = k.allocFloats(HS), sdk = k.allocFloats(HS);
        k.qkNormBackward(sdx, sdq, sdk, seg(lw), sx, sq, sk, sr, N, NH, NKV, HS);
        int nt = fdCheck("qknorm dqkvIn", sx, N * RW, get(sdx, N * RW), fwd, so, lw);
        nt += fdCheck("qknorm dqWeight", sq, HS, get(sdq, HS), fwd, so, lw);
        nt += fdCheck("qknorm dkWeight", sk, HS, get(sdk, HS), fwd, so, lw);
        assertTrue(nt > (N * RW + 2 * HS) / 2, "too few non-trivial gradient entries: " + nt);
    }

    // ---------------------------------------------------------------- RoPE

    /** cos or sin table [maxPos, HS/2] with theta 10000 (the model's own tables may differ). */
    static float[] ropeTable(int maxPos, int HS, boolean sine) {
        int half = HS / 2;
        float[] t = new float[maxPos * half];
        for (int p = 0; p < maxPos; p++)
            for (int i = 0; i < half; i++) {
                double a = p * Math.pow(10000, -2.0 * i / HS);
                t[p * half + i] = (float) (sine ? Math.sin(a) : Math.cos(a));
            }
        return t;
    }

    /** Double RoPE (or its inverse) of qkv[B·T, RW] with the given tables. */
    static double[] ropeRef(float[] x, float[] cos, float[] sin, int[] positions, int B, int T, int NH, int NKV,
                            int HS, boolean inverse) {
        int half = HS / 2, nh = NH + NKV, RW = (nh + NKV) * HS;
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                int p = (positions == null ? 0 : positions[b]) + t, row = (b * T + t) * RW;
                for (int j = 0; j < nh; j++)
                    for (int i = 0; i < half; i++) {
                        int o = row + j * HS + i;
                        double x1 = x[o], x2 = x[o + half], c = cos[p * half + i], s = sin[p * half + i];
                        y[o] = inverse ? x1 * c + x2 * s : x1 * c - x2 * s;
                        y[o + half] = inverse ? x2 * c - x1 * s : x2 * c + x1 * s;
                    }
            }
        return y;
    }

    /** B, T, NH, NKV, HS. */
    private static final int[][] ROPE_SHAPES = {{2, 5, 4, 2, 64}, {1, 3, 2, 1, 128}, {2, 7, 3, 1, 40},
            {3, 4, 2, 2, 6}, {1, 2, 1, 1, 2}, {2, 300, 2, 1, 24}};

    @Test void ropeMatchesNaive() {
        Random r = new Random(37);
        for (int[] sh : ROPE_SHAPES)
            for (boolean offsets : new boolean[]{false, true})
                for (boolean inverse : new boolean[]{false, true}) {
                    int B = sh[0], T = sh[1], NH = sh[2], NKV = sh[3], HS = sh[4], RW = (NH + 2 * NKV) * HS;
                    int maxPos = T + 9, n = B * T * RW;
                    String s = " B" + B + " T" + T + " NH" + NH + " NKV" + NKV + " HS" + HS
                            + (offsets ? " with positions" : "") + (inverse ? " backward" : "");
                    float[] cos = ropeTable(maxPos, HS, false), sin = ropeTable(maxPos, HS, true);
                    float[] x = rand(r, n, 1);
                    int[] pos = new int[B];
                    for (int b = 0; b < B; b++) pos[b] = offsets ? (3 * b + 2) % 10 : 0;
                    double[] e = ropeRef(x, cos, sin, offsets ? pos : null, B, T, NH, NKV, HS, inverse);
                    MemorySegment sx = seg(x), sc = seg(cos), ss = seg(sin), sp = offsets ? segI(pos) : null;
                    if (inverse) k.ropeBackward(sx, sc, ss, sp, B, T, NH, NKV, HS);
                    else k.ropeForward(sx, sc, ss, sp, B, T, NH, NKV, HS);
                    float[] y = get(sx, n);
                    close(e, y, 1e-6, 1e-5, "rope" + s);
                    for (int row = 0; row < B * T; row++)
                        for (int c = (NH + NKV) * HS; c < RW; c++)
                            assertEquals(x[row * RW + c], y[row * RW + c], 0f, "v untouched" + s);
                    MemorySegment x1 = seg(x);
                    if (inverse) k1.ropeBackward(x1, sc, ss, sp, B, T, NH, NKV, HS);
                    else k1.ropeForward(x1, sc, ss, sp, B, T, NH, NKV, HS);
                    assertArrayEquals(y, get(x1, n), "1 thread vs 2" + s);
                }
    }

    /** Rows with positions[b] = p0 equal rows p0 .. p0+T−1 of the forward of the whole sequence, bitwise. */
    @Test void ropeWithPositionsEqualsShiftedRows() {
        Random r = new Random(38);
        int B = 2, T = 4, NH = 4, NKV = 2, HS = 40, RW = (NH + 2 * NKV) * HS, full = 13;
        int[] p0 = {0, 9};
        float[] cos = ropeTable(full, HS, false), sin = ropeTable(full, HS, true);
        MemorySegment sc = seg(cos), ss = seg(sin);
        float[][] seqs = new float[B][];
        float[] part = new float[B * T * RW];
        for (int b = 0; b < B; b++) {
            seqs[b] = rand(r, full * RW, 1);
            System.arraycopy(seqs[b], p0[b] * RW, part, b * T * RW, T * RW);
        }
        MemorySegment sp = seg(part);
        k.ropeForward(sp, sc, ss, segI(p0), B, T, NH, NKV, HS);
        float[] got = get(sp, B * T * RW);
        for (int b = 0; b < B; b++) {
            MemorySegment sf = seg(seqs[b]);
            k.ropeForward(sf, sc, ss, null, 1, full, NH, NKV, HS);
            float[] ref = get(sf, full * RW);
            for (int i = 0; i < T * RW; i++)
                assertEquals(ref[p0[b] * RW + i], got[b * T * RW + i], 0f, "row b" + b + " offset " + i);
        }
    }

    @Test void ropeBackwardInvertsForward() {
        Random r = new Random(39);
        for (int[] sh : ROPE_SHAPES) {
            int B = sh[0], T = sh[1], NH = sh[2], NKV = sh[3], HS = sh[4], RW = (NH + 2 * NKV) * HS, n = B * T * RW;
            float[] cos = ropeTable(T + 5, HS, false), sin = ropeTable(T + 5, HS, true);
            float[] x = rand(r, n, 1);
            int[] pos = new int[B];
            for (int b = 0; b < B; b++) pos[b] = b % 6;
            MemorySegment sx = seg(x), sc = seg(cos), ss = seg(sin), sp = segI(pos);
            k.ropeForward(sx, sc, ss, sp, B, T, NH, NKV, HS);
            k.ropeBackward(sx, sc, ss, sp, B, T, NH, NKV, HS);
            double[] e = new double[n];
            for (int i = 0; i < n; i++) e[i] = x[i];
            // cos² + sin² = 1 only up to fp32 rounding of the tables: a few ulp
            close(e, get(sx, n), 1e-6, 1e-6, "rope backward(forward(x)) B" + B + " T" + T + " HS" + HS);
        }
    }

    @Test void ropeFiniteDifferences() {
        Random r = new Random(40);
        int B = 2, T = 3, NH = 2, NKV = 1, HS = 6, RW = (NH + 2 * NKV) * HS, n = B * T * RW;
        float[] cos = ropeTable(8, HS, false), sin = ropeTable(8, HS, true), lw = rand(r, n, 1);
        int[] pos = {1, 4};
        MemorySegment sc = seg(cos), ss = seg(sin), sp = segI(pos), sx = seg(rand(r, n, 1)), so = k.allocFloats(n);
        Runnable fwd = () -> {
            k.copy(so, sx, (long) n * 4);
            k.ropeForward(so, sc, ss, sp, B, T, NH, NKV, HS);
        };
        fwd.run();
        MemorySegment sd = seg(lw);
        k.ropeBackward(sd, sc, ss, sp, B, T, NH, NKV, HS);
        int nt = fdCheck("rope", sx, n, get(sd, n), fwd, so, lw);
        assertTrue(nt > n / 2, "too few non-trivial gradient entries: " + nt);
    }

    @Test void ropeRejectsBadArguments() {
        int B = 1, T = 3, NH = 2, NKV = 1, HS = 8, RW = (NH + 2 * NKV) * HS;
        MemorySegment x = k.allocFloats(B * T * RW);
        MemorySegment cos = seg(ropeTable(4, HS, false)), sin = seg(ropeTable(4, HS, true));
        k.ropeForward(x, cos, sin, segI(new int[]{1}), B, T, NH, NKV, HS); // positions 1..3 fit in [0, 4)
        assertThrows(IllegalArgumentException.class,
                () -> k.ropeForward(x, cos, sin, segI(new int[]{2}), B, T, NH, NKV, HS)); // 2..4 do not
        assertThrows(IllegalArgumentException.class,
                () -> k.ropeBackward(x, cos, sin, segI(new int[]{-1}), B, T, NH, NKV, HS));
        assertThrows(IllegalArgumentException.class, () -> k.ropeForward(x, cos, sin, null, B, T, NH, NKV, 7));
    }

    // ---------------------------------------------------------------- SwiGLU

    static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    @Test void swigluMatchesNaive() {
        Random r = new Random(41);
        int[][] shapes = {{1, 1}, {3, 7}, {5, 64}, {33, 100}, {300, 257}};
        for (int[] sh : shapes) {
            int N = sh[0], I = sh[1];
            String s = " " + N + "x" + I;
            float[] x = rand(r, N * 2 * I, 2), g = rand(r, N * I, 1);
            // saturated gates on both sides, in the vector body and in the tail of a row
            float[] extremes = {30f, -30f, 100f, -100f, 0f, 89f, -89f};
            for (int j = 0; j < extremes.length && j < I; j++) {
                x[j] = extremes[j];
                x[(N - 1) * 2 * I + I - 1 - j] = extremes[j];
            }
            double[] e = new double[N * I], ed = new double[N * 2 * I];
            for (int n = 0; n < N; n++)
                for (int i = 0; i < I; i++) {
                    double gt = x[n * 2 * I + i], up = x[n * 2 * I + I + i], sg = sigmoid(gt), d = g[n * I + i];
                    e[n * I + i] = gt * sg * up;
                    ed[n * 2 * I + i] = d * up * sg * (1 + gt * (1 - sg));
                    ed[n * 2 * I + I + i] = d * gt * sg;
                }
            MemorySegment sx = seg(x), sg = seg(g), so = k.allocFloats(N * I), sd = k.allocFloats(N * 2 * I);
            k.fill(so, N * I, 9f); // "=": stale contents must be overwritten
            k.fill(sd, N * 2 * I, 9f);
            k.swigluForward(so, sx, N, I);
            k.swigluBackward(sd, sg, sx, N, I);
            float[] out = get(so, N * I), d = get(sd, N * 2 * I);
            close(e, out, 1e-6, 1e-5, "swiglu" + s);
            close(ed, d, 1e-6, 1e-5, "swiglu backward" + s);
            MemorySegment o1 = k.allocFloats(N * I), d1 = k.allocFloats(N * 2 * I);
            k1.swigluForward(o1, sx, N, I);
            k1.swigluBackward(d1, sg, sx, N, I);
            assertArrayEquals(out, get(o1, N * I), "forward, 1 thread vs 2" + s);
            assertArrayEquals(d, get(d1, N * 2 * I), "backward, 1 thread vs 2" + s);
        }
    }

    @Test void swigluFiniteDifferences() {
        Random r = new Random(42);
        int N = 3, I = 11; // a vector body and a scalar tail on AVX2 and AVX-512 alike
        float[] lw = rand(r, N * I, 1);
        MemorySegment sx = seg(rand(r, N * 2 * I, 1.5)), so = k.allocFloats(N * I), sd = k.allocFloats(N * 2 * I);
        Runnable fwd = () -> k.swigluForward(so, sx, N, I);
        fwd.run();
        k.swigluBackward(sd, seg(lw), sx, N, I);
        int nt = fdCheck("swiglu", sx, N * 2 * I, get(sd, N * 2 * I), fwd, so, lw);
        assertTrue(nt > N * I, "too few non-trivial gradient entries: " + nt);
    }
}
