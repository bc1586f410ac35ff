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
import static org.junit.jupiter.api.Assertions.fail;

/**
 * CpuAttention against naive double-precision attention (forward and analytic backward),
 * central finite differences of L = Σ w·out through the fp32 kernel, padding behaviour,
 * and KV-cache decode against the full forward.
 *
 * <p>Finite-difference tolerance: step h = 1e-2 on qkv entries of size O(1) (scores of
 * size O(1)); L is summed in double from fp32 outputs, whose rounding noise (~1e-7
 * relative on a sum of a few dozen O(1) terms, ~1e-6) becomes ~1e-4 after dividing by
 * 2h; the O(h²) truncation error of the central difference is ~1e-4 for these smooth
 * functions. The check |fd − g| ≤ 2e-3 + 1e-2·|g| sits above both, while typical
 * gradient entries are O(0.1–1), so a missing term or a wrong scale fails it.
 */
class CpuAttentionTest {

    private static CpuKernels k;

    @BeforeAll static void setUp() { k = new CpuKernels(2); }

    @AfterAll static void tearDown() { k.close(); }

    /** B, T, C, NH followed by lengths[B]. */
    private static final int[][] SHAPES = {
            {2, 7, 24, 3, 7, 4},          // HS = 8, one shorter sequence
            {2, 33, 32, 2, 33, 1},        // HS = 16, a length-1 sequence
            {1, 1, 20, 1, 1},             // HS = 20, T = 1
            {3, 33, 40, 2, 20, 33, 0},    // HS = 20, an empty sequence
            {2, 7, 12, 4, 5, 7},          // HS = 3 (< vector width)
            {1, 300, 16, 1, 290},         // several key blocks
            {2, 130, 256, 4, 130, 70},    // HS = 64, many heads (one work item per head), ragged tiles
    };

    // ---------------------------------------------------------------- helpers

    MemorySegment seg(float[] a) { return KernelTestSupport.seg(k, a); }

    MemorySegment segI(int[] a) { return KernelTestSupport.segI(k, a); }

    float[] get(MemorySegment m, int n) { return KernelTestSupport.get(k, m, n); }

    static int[] lengths(int[] sh) {
        int[] len = new int[sh[0]];
        System.arraycopy(sh, 4, len, 0, sh[0]);
        return len;
    }

    /** Naive double attention: fills out[B,T,C], lse[B,NH,T]; returns P[b][h][t][s]. */
    static double[][][][] refForward(float[] qkv, int[] len, int B, int T, int C, int NH, double[] out, double[] lse) {
        int HS = C / NH;
        double sc = 1 / Math.sqrt(HS);
        double[][][][] P = new double[B][NH][T][T];
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++)
                for (int t = 0; t < len[b]; t++) {
                    double[] s = new double[t + 1];
                    double mx = Double.NEGATIVE_INFINITY;
                    for (int u = 0; u <= t; u++) {
                        double d = 0;
                        for (int i = 0; i < HS; i++)
                            d += (double) qkv[(b * T + t) * 3 * C + h * HS + i] * qkv[(b * T + u) * 3 * C + C + h * HS + i];
                        s[u] = d * sc;
                        mx = Math.max(mx, s[u]);
                    }
                    double z = 0;
                    for (int u = 0; u <= t; u++) z += Math.exp(s[u] - mx);
                    lse[(b * NH + h) * T + t] = mx + Math.log(z);
                    for (int u = 0; u <= t; u++) {
                        double p = Math.exp(s[u] - mx) / z;
                        P[b][h][t][u] = p;
                        for (int i = 0; i < HS; i++)
                            out[(b * T + t) * C + h * HS + i] += p * qkv[(b * T + u) * 3 * C + 2 * C + h * HS + i];
                    }
                }
        return P;
    }

    /** Naive double analytic gradient of attention given dout. */
    static double[] refBackward(float[] qkv, float[] dout, int[] len, int B, int T, int C, int NH) {
        int HS = C / NH;
        double sc = 1 / Math.sqrt(HS);
        double[] out = new double[B * T * C], lse = new double[B * NH * T], d = new double[B * T * 3 * C];
        double[][][][] P = refForward(qkv, len, B, T, C, NH, out, lse);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++)
                for (int t = 0; t < len[b]; t++) {
                    int q = (b * T + t) * 3 * C + h * HS, o = (b * T + t) * C + h * HS;
                    double[] dP = new double[t + 1];
                    double D = 0;
                    for (int u = 0; u <= t; u++) {
                        int v = (b * T + u) * 3 * C + 2 * C + h * HS;
                        for (int i = 0; i < HS; i++) dP[u] += (double) dout[o + i] * qkv[v + i];
                        D += P[b][h][t][u] * dP[u];
                    }
                    for (int u = 0; u <= t; u++) {
                        int kk = (b * T + u) * 3 * C + C + h * HS, v = kk + C;
                        double p = P[b][h][t][u], dS = p * (dP[u] - D);
                        for (int i = 0; i < HS; i++) {
                            d[q + i] += dS * qkv[kk + i] * sc;
                            d[kk + i] += dS * qkv[q + i] * sc;
                            d[v + i] += p * dout[o + i];
                        }
                    }
                }
        return d;
    }

    // ---------------------------------------------------------------- tests

    @Test void forwardMatchesNaive() {
        Random r = new Random(11);
        for (int[] sh : SHAPES) {
            int B = sh[0], T = sh[1], C = sh[2], NH = sh[3];
            int[] len = lengths(sh);
            float[] qkv = rand(r, B * T * 3 * C, 1);
            double[] eo = new double[B * T * C], el = new double[B * NH * T];
            refForward(qkv, len, B, T, C, NH, eo, el);
            MemorySegment so = k.allocFloats(B * T * C), sl = k.allocFloats(B * NH * T);
            k.fill(so, B * T * C, 9f); // "=": stale contents must be overwritten
            k.fill(sl, B * NH * T, 9f);
            MemorySegment sq = seg(qkv), slen = segI(len);
            k.attentionForward(so, sl, sq, slen, B, T, C, NH);
            String s = " B" + B + " T" + T + " C" + C + " NH" + NH;
            float[] out = get(so, B * T * C), lse = get(sl, B * NH * T);
            close(eo, out, 2e-6, 1e-5, "out" + s);
            close(el, lse, 2e-6, 1e-5, "lse" + s);
            // padding rows exactly zero (the reference leaves them at 0.0)
            for (int b = 0; b < B; b++)
                for (int t = len[b]; t < T; t++) {
                    for (int c = 0; c < C; c++) assertEquals(0f, out[(b * T + t) * C + c], "pad out" + s);
                    for (int h = 0; h < NH; h++) assertEquals(0f, lse[(b * NH + h) * T + t], "pad lse" + s);
                }
            // a single-threaded backend gives bitwise the same result
            try (CpuKernels k1 = new CpuKernels(1)) {
                MemorySegment o1 = k1.allocFloats(B * T * C), l1 = k1.allocFloats(B * NH * T);
                k1.attentionForward(o1, l1, sq, slen, B, T, C, NH);
                assertArrayEquals(out, get(o1, B * T * C), "1 thread vs 2" + s);
            }
        }
    }

    @Test void backwardMatchesNaive() {
        Random r = new Random(12);
        for (int[] sh : SHAPES) {
            int B = sh[0], T = sh[1], C = sh[2], NH = sh[3];
            int[] len = lengths(sh);
            float[] qkv = rand(r, B * T * 3 * C, 1), dout = rand(r, B * T * C, 1);
            double[] e = refBackward(qkv, dout, len, B, T, C, NH);
            MemorySegment sq = seg(qkv), slen = segI(len), so = k.allocFloats(B * T * C), sl = k.allocFloats(B * NH * T);
            k.attentionForward(so, sl, sq, slen, B, T, C, NH);
            MemorySegment sd = k.allocFloats(B * T * 3 * C);
            k.fill(sd, B * T * 3 * C, 9f); // "=": stale contents must be overwritten
            k.attentionBackward(sd, seg(dout), sq, so, sl, slen, B, T, C, NH);
            float[] d = get(sd, B * T * 3 * C);
            String s = " B" + B + " T" + T + " C" + C + " NH" + NH;
            close(e, d, 1e-5, 1e-4, "dqkv" + s);
            for (int b = 0; b < B; b++)
                for (int t = len[b]; t < T; t++)
                    for (int c = 0; c < 3 * C; c++) assertEquals(0f, d[(b * T + t) * 3 * C + c], "pad dqkv" + s);
        }
    }

    /** The tile micro-kernel against a naive product, in every access pattern and causal variant it is used with. */
    @Test void gemmMicroKernel() {
        Random r = new Random(17);
        int m = 16, n = 32, k = 16, ld = 40;
        for (boolean transA : new boolean[]{false, true})
            for (int tri : new int[]{CpuAttention.FULL, CpuAttention.TRI_N, CpuAttention.TRI_K_LOWER, CpuAttention.TRI_K_UPPER}) {
                float[] a = rand(r, ld * ld, 1), b = rand(r, ld * ld, 1), c0 = rand(r, m * ld, 1);
                // entries the causal variants may skip are zero, as they are in use
                for (int row = 0; row < m; row++)
                    for (int i = 0; i < k; i++) {
                        boolean zero = tri == CpuAttention.TRI_K_LOWER ? i > row : tri == CpuAttention.TRI_K_UPPER && i < row;
                        if (zero) a[transA ? i * ld + row + 1 : (row + 1) * ld + i] = 0f;
                    }
                float[] c = c0.clone();
                boolean acc = tri != CpuAttention.TRI_N;
                if (transA) CpuAttention.gemm(m, n, k, a, 1, 1, ld, b, 3, ld, c, 2, ld, acc, tri);
                else CpuAttention.gemm(m, n, k, a, ld, ld, 1, b, 3, ld, c, 2, ld, acc, tri);
                for (int row = 0; row < m; row++)
                    for (int j = 0; j < n; j++) {
                        if (tri == CpuAttention.TRI_N && j > row) continue; // left unspecified
                        double e = acc ? c0[row * ld + 2 + j] : 0;
                        for (int i = 0; i < k; i++)
                            e += (double) a[transA ? i * ld + row + 1 : (row + 1) * ld + i] * b[3 + i * ld + j];
                        assertEquals(e, c[row * ld + 2 + j], 1e-4, "transA " + transA + " tri " + tri + " [" + row + "," + j + "]");
                    }
                // outside the m×n block nothing is written
                for (int i = 0; i < m * ld; i++)
                    if (i % ld < 2 || i % ld >= 2 + n) assertEquals(c0[i], c[i], "written outside C");
            }
    }

    @Test void backwardFiniteDifferences() {
        Random r = new Random(13);
        int B = 2, T = 4, C = 6, NH = 2; // HS = 3
        int[] len = {4, 3};
        int n = B * T * 3 * C;
        float[] w = rand(r, B * T * C, 1);
        MemorySegment sq = seg(rand(r, n, 1)), slen = segI(len);
        MemorySegment so = k.allocFloats(B * T * C), sl = k.allocFloats(B * NH * T), sd = k.allocFloats(n);
        Runnable fwd = () -> k.attentionForward(so, sl, sq, slen, B, T, C, NH);
        fwd.run();
        k.attentionBackward(sd, seg(w), sq, so, sl, slen, B, T, C, NH);
        float[] g = get(sd, n);
        final double h = 1e-2;
        int nonZero = 0;
        for (int i = 0; i < n; i++) {
            float x0 = sq.getAtIndex(CpuKernels.F32, i);
            float xp = (float) (x0 + h), xm = (float) (x0 - h);
            sq.setAtIndex(CpuKernels.F32, i, xp);
            fwd.run();
            double lp = sumW(w, get(so, w.length));
            sq.setAtIndex(CpuKernels.F32, i, xm);
            fwd.run();
            double lm = sumW(w, get(so, w.length));
            sq.setAtIndex(CpuKernels.F32, i, x0);
            double fd = (lp - lm) / ((double) xp - xm);
            if (!(Math.abs(fd - g[i]) <= 2e-3 + 1e-2 * Math.abs(g[i])))
                fail("dqkv fd[" + i + "]: finite difference " + fd + " vs analytic " + g[i]);
            if (Math.abs(g[i]) > 1e-2) nonZero++;
        }
        // the check must have had something to check
        if (nonZero < n / 3) fail("too few non-trivial gradient entries: " + nonZero);
    }

    @Test void paddingDoesNotLeak() {
        Random r = new Random(14);
        int B = 3, T = 9, C = 24, NH = 3;
        int[] len = {9, 5, 1};
        float[] qkv = rand(r, B * T * 3 * C, 1), dout = rand(r, B * T * C, 1);
        float[][] outs = new float[2][], grads = new float[2][];
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 1) { // scribble over every padding position of qkv and dout
                for (int b = 0; b < B; b++)
                    for (int t = len[b]; t < T; t++) {
                        for (int c = 0; c < 3 * C; c++) qkv[(b * T + t) * 3 * C + c] = (float) (r.nextGaussian() * 50);
                        for (int c = 0; c < C; c++) dout[(b * T + t) * C + c] = (float) (r.nextGaussian() * 50);
                    }
            }
            MemorySegment sq = seg(qkv), slen = segI(len), so = k.allocFloats(B * T * C), sl = k.allocFloats(B * NH * T);
            MemorySegment sd = k.allocFloats(B * T * 3 * C);
            k.attentionForward(so, sl, sq, slen, B, T, C, NH);
            k.attentionBackward(sd, seg(dout), sq, so, sl, slen, B, T, C, NH);
            outs[pass] = get(so, B * T * C);
            grads[pass] = get(sd, B * T * 3 * C);
        }
        assertArrayEquals(outs[0], outs[1], "out changed by padding values");
        assertArrayEquals(grads[0], grads[1], "dqkv changed by padding values");
    }

    @Test void kvCacheWriteLayout() {
        Random r = new Random(15);
        int B = 2, T = 5, C = 20, NH = 2, HS = 10, maxT = 8;
        float[] qkv = rand(r, B * T * 3 * C, 1);
        MemorySegment kc = k.allocFloats(B * NH * maxT * HS), vc = k.allocFloats(B * NH * maxT * HS);
        k.kvCacheWrite(kc, vc, seg(qkv), B, T, C, NH, maxT);
        float[] kk = get(kc, B * NH * maxT * HS), vv = get(vc, B * NH * maxT * HS);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++)
                for (int t = 0; t < maxT; t++)
                    for (int i = 0; i < HS; i++) {
                        int ci = ((b * NH + h) * maxT + t) * HS + i;
                        float ek = t < T ? qkv[(b * T + t) * 3 * C + C + h * HS + i] : 0f;
                        float ev = t < T ? qkv[(b * T + t) * 3 * C + 2 * C + h * HS + i] : 0f;
                        assertEquals(ek, kk[ci]);
                        assertEquals(ev, vv[ci]);
                    }
    }

    @Test void decodeMatchesForward() {
        Random r = new Random(16);
        for (int[] sh : new int[][]{{2, 9, 24, 3}, {3, 140, 16, 1}}) {
            int B = sh[0], T = sh[1], C = sh[2], NH = sh[3], HS = C / NH, maxT = T + 3;
            float[] qkv = rand(r, B * T * 3 * C, 1);
            int[] full = new int[B];
            java.util.Arrays.fill(full, T);
            MemorySegment so = k.allocFloats(B * T * C), sl = k.allocFloats(B * NH * T);
            k.attentionForward(so, sl, seg(qkv), segI(full), B, T, C, NH);
            float[] ref = get(so, B * T * C);

            // prefill the first P tokens of every row; rows then start decoding at different points
            int P = Math.min(5, T - 1);
            float[] prefix = new float[B * P * 3 * C];
            for (int b = 0; b < B; b++)
                System.arraycopy(qkv, b * T * 3 * C, prefix, b * P * 3 * C, P * 3 * C);
            MemorySegment kc = k.allocFloats(B * NH * maxT * HS), vc = k.allocFloats(B * NH * maxT * HS);
            k.kvCacheWrite(kc, vc, seg(prefix), B, P, C, NH, maxT);
            int[] start = new int[B];
            for (int b = 0; b < B; b++) start[b] = P - (b % 3); // row 1 re-decodes position P-1, row 2 P-2
            MemorySegment step = k.allocFloats(B * 3 * C), pos = k.allocInts(B), dout = k.allocFloats(B * C);
            int checked = 0;
            for (int i = 0; i < T - start[B - 1]; i++) {
                int[] p = new int[B];
                float[] q = new float[B * 3 * C];
                for (int b = 0; b < B; b++) {
                    p[b] = Math.min(start[b] + i, T - 1);
                    System.arraycopy(qkv, (b * T + p[b]) * 3 * C, q, b * 3 * C, 3 * C);
                }
                k.write(step, q);
                k.writeInts(pos, p);
                k.fill(dout, B * C, 9f);
                k.attentionDecode(dout, step, kc, vc, pos, B, C, NH, maxT);
                float[] got = get(dout, B * C);
                for (int b = 0; b < B; b++)
                    for (int c = 0; c < C; c++) {
                        double e = ref[(b * T + p[b]) * C + c];
                        if (!(Math.abs(got[b * C + c] - e) <= 1e-6 + 1e-5 * Math.abs(e)))
                            fail("decode b" + b + " pos" + p[b] + " c" + c + ": " + got[b * C + c] + " vs forward " + e);
                        checked++;
                    }
            }
            if (checked == 0) fail("nothing decoded");
        }
    }
}
