package io.pref4j.kernel.cpu;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;

import static io.pref4j.kernel.cpu.KernelTestSupport.close;
import static io.pref4j.kernel.cpu.KernelTestSupport.rand;
import static io.pref4j.kernel.cpu.KernelTestSupport.sumW;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Grouped-query attention of CpuKernels (NKV key/value heads of size HS on the fused layout
 * qkv[B,T,(NH+2·NKV)·HS]): forward and backward against naive double-precision loops,
 * central finite differences through the fp32 kernel, equality with multi-head attention on
 * a qkv whose kv heads are replicated, padding, the KV cache, decode against the forward,
 * and bitwise equality of 1- and 2-thread results.
 *
 * <p>Tolerances: fp32 against double, as in CpuAttentionTest (a few 1e-6 relative for the
 * forward, 1e-4 for the backward's longer sums). Finite differences: step h = 1e-2 on O(1)
 * inputs, |fd − g| ≤ 2e-3 + 1e-2·|g| (rounding noise and O(h²) truncation are ~1e-4; see
 * CpuAttentionTest), while gradient entries are O(0.1–1).
 */
class CpuGqaAttentionTest {

    private static CpuKernels k, k1;

    @BeforeAll static void setUp() {
        k = new CpuKernels(2);
        k1 = new CpuKernels(1);
    }

    @AfterAll static void tearDown() {
        k.close();
        k1.close();
    }

    /** B, T, NH, NKV, HS followed by lengths[B]. */
    private static final int[][] SHAPES = {
            {2, 7, 4, 2, 8, 7, 4},            // GQA, groups of 2, one shorter sequence
            {2, 33, 4, 1, 16, 33, 1},         // MQA, a length-1 sequence
            {1, 1, 2, 1, 20, 1},              // T = 1
            {3, 33, 6, 2, 40, 20, 33, 0},     // HS = 40 (not a multiple of 16), groups of 3, an empty sequence
            {2, 7, 4, 4, 3, 5, 7},            // MHA through the general method, HS = 3 (< vector width)
            {1, 150, 2, 1, 64, 140},          // several key blocks, ragged tiles
            {1, 70, 4, 2, 128, 70},           // HS = 128 (Qwen3)
            {1, 20, 2, 1, 256, 19},           // HS = 256
    };

    // ---------------------------------------------------------------- helpers

    MemorySegment seg(float[] a) { return KernelTestSupport.seg(k, a); }

    MemorySegment segI(int[] a) { return KernelTestSupport.segI(k, a); }

    float[] get(MemorySegment m, int n) { return KernelTestSupport.get(k, m, n); }

    static int[] lengths(int[] sh) {
        return Arrays.copyOfRange(sh, 5, 5 + sh[0]);
    }

    static String name(int[] sh) {
        return " B" + sh[0] + " T" + sh[1] + " NH" + sh[2] + " NKV" + sh[3] + " HS" + sh[4];
    }

    /** Row width of the fused layout. */
    static int rw(int NH, int NKV, int HS) {
        return (NH + 2 * NKV) * HS;
    }

    /**
     * Naive double grouped-query attention: fills out[B,T,NH·HS] and lse[B,NH,T] (padding
     * rows stay 0); returns P[b][h][t][s].
     */
    static double[][][][] refForward(float[] qkv, int[] len, int B, int T, int NH, int NKV, int HS,
                                     double[] out, double[] lse) {
        int G = NH / NKV, RW = rw(NH, NKV, HS), QC = NH * HS;
        double sc = 1 / Math.sqrt(HS);
        double[][][][] P = new double[B][NH][T][T];
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++) {
                int kOff = QC + (h / G) * HS, vOff = QC + NKV * HS + (h / G) * HS;
                for (int t = 0; t < len[b]; t++) {
                    double[] s = new double[t + 1];
                    double mx = Double.NEGATIVE_INFINITY;
                    for (int u = 0; u <= t; u++) {
                        double d = 0;
                        for (int i = 0; i < HS; i++)
                            d += (double) qkv[(b * T + t) * RW + h * HS + i] * qkv[(b * T + u) * RW + kOff + i];
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
                            out[(b * T + t) * QC + h * HS + i] += p * qkv[(b * T + u) * RW + vOff + i];
                    }
                }
            }
        return P;
    }

    /** Naive double analytic gradient dqkv[B,T,RW] given dout[B,T,NH·HS]; kv heads sum over their group. */
    static double[] refBackward(float[] qkv, float[] dout, int[] len, int B, int T, int NH, int NKV, int HS) {
        int G = NH / NKV, RW = rw(NH, NKV, HS), QC = NH * HS;
        double sc = 1 / Math.sqrt(HS);
        double[] out = new double[B * T * QC], lse = new double[B * NH * T], d = new double[B * T * RW];
        double[][][][] P = refForward(qkv, len, B, T, NH, NKV, HS, out, lse);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++) {
                int kOff = QC + (h / G) * HS, vOff = QC + NKV * HS + (h / G) * HS;
                for (int t = 0; t < len[b]; t++) {
                    int q = (b * T + t) * RW + h * HS, o = (b * T + t) * QC + h * HS;
                    double[] dP = new double[t + 1];
                    double D = 0;
                    for (int u = 0; u <= t; u++) {
                        int v = (b * T + u) * RW + vOff;
                        for (int i = 0; i < HS; i++) dP[u] += (double) dout[o + i] * qkv[v + i];
                        D += P[b][h][t][u] * dP[u];
                    }
                    for (int u = 0; u <= t; u++) {
                        int kk = (b * T + u) * RW + kOff, v = (b * T + u) * RW + vOff;
                        double p = P[b][h][t][u], dS = p * (dP[u] - D);
                        for (int i = 0; i < HS; i++) {
                            d[q + i] += dS * qkv[kk + i] * sc;
                            d[kk + i] += dS * qkv[q + i] * sc;
                            d[v + i] += p * dout[o + i];
                        }
                    }
                }
            }
        return d;
    }

    /** The multi-head layout [B,T,3·NH·HS] whose head h has kv head h/(NH/NKV) of the grouped qkv. */
    static float[] replicate(float[] qkv, int B, int T, int NH, int NKV, int HS) {
        int G = NH / NKV, RW = rw(NH, NKV, HS), QC = NH * HS;
        float[] m = new float[B * T * 3 * QC];
        for (int r = 0; r < B * T; r++) {
            System.arraycopy(qkv, r * RW, m, r * 3 * QC, QC);
            for (int h = 0; h < NH; h++) {
                System.arraycopy(qkv, r * RW + QC + (h / G) * HS, m, r * 3 * QC + QC + h * HS, HS);
                System.arraycopy(qkv, r * RW + QC + NKV * HS + (h / G) * HS, m, r * 3 * QC + 2 * QC + h * HS, HS);
            }
        }
        return m;
    }

    // ---------------------------------------------------------------- forward / backward

    @Test void forwardMatchesNaive() {
        Random r = new Random(21);
        for (int[] sh : SHAPES) {
            int B = sh[0], T = sh[1], NH = sh[2], NKV = sh[3], HS = sh[4], RW = rw(NH, NKV, HS), QC = NH * HS;
            int[] len = lengths(sh);
            String s = name(sh);
            float[] qkv = rand(r, B * T * RW, 1);
            double[] eo = new double[B * T * QC], el = new double[B * NH * T];
            refForward(qkv, len, B, T, NH, NKV, HS, eo, el);
            MemorySegment so = k.allocFloats(B * T * QC), sl = k.allocFloats(B * NH * T);
            k.fill(so, B * T * QC, 9f); // "=": stale contents must be overwritten
            k.fill(sl, B * NH * T, 9f);
            MemorySegment sq = seg(qkv), slen = segI(len);
            k.attentionForward(so, sl, sq, slen, B, T, NH, NKV, HS);
            float[] out = get(so, B * T * QC), lse = get(sl, B * NH * T);
            close(eo, out, 2e-6, 1e-5, "out" + s);
            close(el, lse, 2e-6, 1e-5, "lse" + s);
            for (int b = 0; b < B; b++)
                for (int t = len[b]; t < T; t++) {
                    for (int c = 0; c < QC; c++) assertEquals(0f, out[(b * T + t) * QC + c], "pad out" + s);
                    for (int h = 0; h < NH; h++) assertEquals(0f, lse[(b * NH + h) * T + t], "pad lse" + s);
                }
            MemorySegment o1 = k.allocFloats(B * T * QC), l1 = k.allocFloats(B * NH * T);
            k1.attentionForward(o1, l1, sq, slen, B, T, NH, NKV, HS);
            assertArrayEquals(out, get(o1, B * T * QC), "out, 1 thread vs 2" + s);
            assertArrayEquals(lse, get(l1, B * NH * T), "lse, 1 thread vs 2" + s);
        }
    }

    @Test void backwardMatchesNaive() {
        Random r = new Random(22);
        for (int[] sh : SHAPES) {
            int B = sh[0], T = sh[1], NH = sh[2], NKV = sh[3], HS = sh[4], RW = rw(NH, NKV, HS), QC = NH * HS;
            int[] len = lengths(sh);
            String s = name(sh);
            float[] qkv = rand(r, B * T * RW, 1), dout = rand(r, B * T * QC, 1);
            double[] e = refBackward(qkv, dout, len, B, T, NH, NKV, HS);
            MemorySegment sq = seg(qkv), slen = segI(len), sdo = seg(dout);
            MemorySegment so = k.allocFloats(B * T * QC), sl = k.allocFloats(B * NH * T);
            k.attentionForward(so, sl, sq, slen, B, T, NH, NKV, HS);
            MemorySegment sd = k.allocFloats(B * T * RW);
            k.fill(sd, B * T * RW, 9f); // "=": stale contents must be overwritten
            k.attentionBackward(sd, sdo, sq, so, sl, slen, B, T, NH, NKV, HS);
            float[] d = get(sd, B * T * RW);
            close(e, d, 1e-5, 1e-4, "dqkv" + s);
            for (int b = 0; b < B; b++)
                for (int t = len[b]; t < T; t++)
                    for (int c = 0; c < RW; c++) assertEquals(0f, d[(b * T + t) * RW + c], "pad dqkv" + s);
            MemorySegment d1 = k.allocFloats(B * T * RW);
            k1.attentionBackward(d1, sdo, sq, so, sl, slen, B, T, NH, NKV, HS);
            assertArrayEquals(d, get(d1, B * T * RW), "dqkv, 1 thread vs 2" + s);
        }
    }

    @Test void backwardFiniteDifferences() {
        Random r = new Random(23);
        int B = 2, T = 4, NH = 4, NKV = 2, HS = 3, RW = rw(NH, NKV, HS), QC = NH * HS;
        int[] len = {4, 3};
        int n = B * T * RW;
        float[] w = rand(r, B * T * QC, 1);
        MemorySegment sq = seg(rand(r, n, 1)), slen = segI(len);
        MemorySegment so = k.allocFloats(B * T * QC), sl = k.allocFloats(B * NH * T), sd = k.allocFloats(n);
        Runnable fwd = () -> k.attentionForward(so, sl, sq, slen, B, T, NH, NKV, HS);
        fwd.run();
        k.attentionBackward(sd, seg(w), sq, so, sl, slen, B, T, NH, NKV, HS);
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
                fail("dqkv fd[" + i + "] (row " + i / RW + " col " + i % RW + "): finite difference " + fd
                        + " vs analytic " + g[i]);
            if (Math.abs(g[i]) > 1e-2) nonZero++;
        }
        if (nonZero < n / 3) fail("too few non-trivial gradient entries: " + nonZero);
    }

    /**
     * NKV &lt; NH equals multi-head attention on a qkv whose kv heads are replicated: the
     * same per-head computation, so out, lse and dq bitwise; dk and dv of a kv head are the
     * sums over its replicas' gradients (summed in a different order, so within rounding).
     */
    @Test void equalsMultiHeadOnReplicatedKv() {
        Random r = new Random(24);
        int[][] shapes = {{2, 70, 4, 2, 16, 70, 45}, {1, 130, 3, 1, 40, 130}, {2, 9, 8, 2, 64, 9, 6}};
        for (int[] sh : shapes) {
            int B = sh[0], T = sh[1], NH = sh[2], NKV = sh[3], HS = sh[4], RW = rw(NH, NKV, HS), QC = NH * HS;
            int G = NH / NKV;
            int[] len = lengths(sh);
            String s = name(sh);
            float[] qkv = rand(r, B * T * RW, 1), dout = rand(r, B * T * QC, 1);
            float[] mqkv = replicate(qkv, B, T, NH, NKV, HS);
            MemorySegment slen = segI(len), sdo = seg(dout), sq = seg(qkv), smq = seg(mqkv);
            MemorySegment go = k.allocFloats(B * T * QC), gl = k.allocFloats(B * NH * T);
            MemorySegment mo = k.allocFloats(B * T * QC), ml = k.allocFloats(B * NH * T);
            k.attentionForward(go, gl, sq, slen, B, T, NH, NKV, HS);
            k.attentionForward(mo, ml, smq, slen, B, T, NH, NH, HS);
            assertArrayEquals(get(mo, B * T * QC), get(go, B * T * QC), "out" + s);
            assertArrayEquals(get(ml, B * NH * T), get(gl, B * NH * T), "lse" + s);

            MemorySegment gd = k.allocFloats(B * T * RW), md = k.allocFloats(B * T * 3 * QC);
            k.attentionBackward(gd, sdo, sq, go, gl, slen, B, T, NH, NKV, HS);
            k.attentionBackward(md, sdo, smq, mo, ml, slen, B, T, NH, NH, HS);
            float[] g = get(gd, B * T * RW), m = get(md, B * T * 3 * QC);
            double[] dkv = new double[B * T * 2 * NKV * HS];
            float[] gkv = new float[dkv.length];
            for (int row = 0; row < B * T; row++) {
                for (int c = 0; c < QC; c++)
                    assertEquals(m[row * 3 * QC + c], g[row * RW + c], 0f, "dq row " + row + " col " + c + s);
                for (int h = 0; h < NH; h++)
                    for (int i = 0; i < HS; i++) {
                        int kv = row * 2 * NKV * HS + (h / G) * HS + i;
                        dkv[kv] += m[row * 3 * QC + QC + h * HS + i];
                        dkv[kv + NKV * HS] += m[row * 3 * QC + 2 * QC + h * HS + i];
                    }
                System.arraycopy(g, row * RW + QC, gkv, row * 2 * NKV * HS, 2 * NKV * HS);
            }
            // a row's dk, dv sum up to T·G terms of O(0.01–0.1) in another order: fp32 differences
            // of ~1e-7 of Σ|terms|, a few 1e-6 at T = 130, G = 3
            close(dkv, gkv, 1e-5, 1e-5, "dk|dv vs the replicas' sum" + s);
        }
    }

    @Test void paddingDoesNotLeak() {
        Random r = new Random(25);
        int B = 3, T = 9, NH = 4, NKV = 2, HS = 8, RW = rw(NH, NKV, HS), QC = NH * HS;
        int[] len = {9, 5, 1};
        float[] qkv = rand(r, B * T * RW, 1), dout = rand(r, B * T * QC, 1);
        float[][] outs = new float[2][], grads = new float[2][];
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 1) { // scribble over every padding position of qkv and dout
                for (int b = 0; b < B; b++)
                    for (int t = len[b]; t < T; t++) {
                        for (int c = 0; c < RW; c++) qkv[(b * T + t) * RW + c] = (float) (r.nextGaussian() * 50);
                        for (int c = 0; c < QC; c++) dout[(b * T + t) * QC + c] = (float) (r.nextGaussian() * 50);
                    }
            }
            MemorySegment sq = seg(qkv), slen = segI(len), so = k.allocFloats(B * T * QC), sl = k.allocFloats(B * NH * T);
            MemorySegment sd = k.allocFloats(B * T * RW);
            k.attentionForward(so, sl, sq, slen, B, T, NH, NKV, HS);
            k.attentionBackward(sd, seg(dout), sq, so, sl, slen, B, T, NH, NKV, HS);
            outs[pass] = get(so, B * T * QC);
            grads[pass] = get(sd, B * T * RW);
        }
        assertArrayEquals(outs[0], outs[1], "out changed by padding values");
        assertArrayEquals(grads[0], grads[1], "dqkv changed by padding values");
    }

    /** The GPT-2 signatures are the grouped-query ones with NKV = NH, HS = C/NH. */
    @Test void gpt2SignaturesDelegate() {
        Random r = new Random(26);
        int B = 2, T = 20, NH = 3, HS = 8, C = NH * HS;
        int[] len = {20, 11};
        float[] qkv = rand(r, B * T * 3 * C, 1), dout = rand(r, B * T * C, 1);
        MemorySegment sq = seg(qkv), slen = segI(len), sdo = seg(dout);
        MemorySegment o1 = k.allocFloats(B * T * C), l1 = k.allocFloats(B * NH * T), d1 = k.allocFloats(B * T * 3 * C);
        MemorySegment o2 = k.allocFloats(B * T * C), l2 = k.allocFloats(B * NH * T), d2 = k.allocFloats(B * T * 3 * C);
        k.attentionForward(o1, l1, sq, slen, B, T, C, NH);
        k.attentionForward(o2, l2, sq, slen, B, T, NH, NH, HS);
        assertArrayEquals(get(o1, B * T * C), get(o2, B * T * C));
        assertArrayEquals(get(l1, B * NH * T), get(l2, B * NH * T));
        k.attentionBackward(d1, sdo, sq, o1, l1, slen, B, T, C, NH);
        k.attentionBackward(d2, sdo, sq, o2, l2, slen, B, T, NH, NH, HS);
        assertArrayEquals(get(d1, B * T * 3 * C), get(d2, B * T * 3 * C));
    }

    @Test void rejectsBadHeadLayouts() {
        MemorySegment x = k.allocFloats(4096), len = segI(new int[]{2});
        assertThrows(IllegalArgumentException.class, () -> k.attentionForward(x, x, x, len, 1, 2, 4, 3, 8));
        assertThrows(IllegalArgumentException.class, () -> k.attentionBackward(x, x, x, x, x, len, 1, 2, 4, 3, 8));
        assertThrows(IllegalArgumentException.class, () -> k.kvCacheWrite(x, x, x, 1, 2, 4, 3, 8, 4));
        assertThrows(IllegalArgumentException.class, () -> k.attentionDecode(x, x, x, x, len, 1, 4, 3, 8, 4));
        assertThrows(IllegalArgumentException.class, () -> k.attentionForward(x, x, x, len, 1, 2, 4, 0, 8));
        assertThrows(IllegalArgumentException.class, () -> k.attentionForward(x, x, x, len, 1, 2, 25, 3)); // C % NH
    }

    // ---------------------------------------------------------------- KV cache and decode

    @Test void kvCacheWriteLayout() {
        Random r = new Random(27);
        int B = 2, T = 5, NH = 4, NKV = 2, HS = 10, maxT = 8, RW = rw(NH, NKV, HS), QC = NH * HS;
        float[] qkv = rand(r, B * T * RW, 1);
        int n = B * NKV * maxT * HS;
        MemorySegment kc = k.allocFloats(n), vc = k.allocFloats(n);
        k.kvCacheWrite(kc, vc, seg(qkv), B, T, NH, NKV, HS, maxT);
        float[] kk = get(kc, n), vv = get(vc, n);
        for (int b = 0; b < B; b++)
            for (int g = 0; g < NKV; g++)
                for (int t = 0; t < maxT; t++)
                    for (int i = 0; i < HS; i++) {
                        int ci = ((b * NKV + g) * maxT + t) * HS + i;
                        float ek = t < T ? qkv[(b * T + t) * RW + QC + g * HS + i] : 0f;
                        float ev = t < T ? qkv[(b * T + t) * RW + QC + NKV * HS + g * HS + i] : 0f;
                        assertEquals(ek, kk[ci], "k cache b" + b + " g" + g + " t" + t + " i" + i);
                        assertEquals(ev, vv[ci], "v cache b" + b + " g" + g + " t" + t + " i" + i);
                    }
        assertThrows(IllegalArgumentException.class, () -> k.kvCacheWrite(kc, vc, seg(qkv), B, T, NH, NKV, HS, T - 1));
    }

    /**
     * Prefill of the first P tokens, then one decode step per position (rows starting at
     * different points, fast rows re-decoding the last position): each step equals the
     * forward's row at that position, and afterwards the caches hold exactly the prefill of
     * the whole sequence. GQA, MQA (several decode key blocks), an odd head size, MHA.
     */
    @Test void decodeMatchesForward() {
        Random r = new Random(28);
        int[][] shapes = {{2, 9, 4, 2, 64}, {3, 140, 4, 1, 128}, {2, 12, 6, 2, 40}, {1, 6, 2, 2, 8}};
        for (int[] sh : shapes) {
            int B = sh[0], T = sh[1], NH = sh[2], NKV = sh[3], HS = sh[4], RW = rw(NH, NKV, HS), QC = NH * HS;
            int maxT = T + 3, cn = B * NKV * maxT * HS;
            String s = " B" + B + " T" + T + " NH" + NH + " NKV" + NKV + " HS" + HS;
            float[] qkv = rand(r, B * T * RW, 1);
            int[] full = new int[B];
            Arrays.fill(full, T);
            MemorySegment so = k.allocFloats(B * T * QC), sl = k.allocFloats(B * NH * T);
            k.attentionForward(so, sl, seg(qkv), segI(full), B, T, NH, NKV, HS);
            float[] ref = get(so, B * T * QC);

            int P = Math.min(5, T - 1);
            float[] prefix = new float[B * P * RW];
            for (int b = 0; b < B; b++) System.arraycopy(qkv, b * T * RW, prefix, b * P * RW, P * RW);
            MemorySegment kc = k.allocFloats(cn), vc = k.allocFloats(cn);
            k.kvCacheWrite(kc, vc, seg(prefix), B, P, NH, NKV, HS, maxT);
            int[] start = new int[B];
            for (int b = 0; b < B; b++) start[b] = P - (b % 3); // row 1 re-decodes position P-1, row 2 P-2
            MemorySegment step = k.allocFloats(B * RW), pos = k.allocInts(B), dout = k.allocFloats(B * QC);
            MemorySegment dout1 = k.allocFloats(B * QC);
            int checked = 0;
            for (int i = 0; i < T - start[Math.min(B - 1, 2)]; i++) {
                int[] p = new int[B];
                float[] q = new float[B * RW];
                for (int b = 0; b < B; b++) {
                    p[b] = Math.min(start[b] + i, T - 1);
                    System.arraycopy(qkv, (b * T + p[b]) * RW, q, b * RW, RW);
                }
                k.write(step, q);
                k.writeInts(pos, p);
                k.fill(dout, B * QC, 9f);
                k.attentionDecode(dout, step, kc, vc, pos, B, NH, NKV, HS, maxT);
                float[] got = get(dout, B * QC);
                for (int b = 0; b < B; b++)
                    for (int c = 0; c < QC; c++) {
                        double e = ref[(b * T + p[b]) * QC + c];
                        if (!(Math.abs(got[b * QC + c] - e) <= 1e-6 + 1e-5 * Math.abs(e)))
                            fail("decode b" + b + " pos" + p[b] + " c" + c + ": " + got[b * QC + c] + " vs forward " + e + s);
                        checked++;
                    }
                if (i % 7 == 0) { // one thread: bitwise the same (it rewrites the same cache rows)
                    k1.attentionDecode(dout1, step, kc, vc, pos, B, NH, NKV, HS, maxT);
                    assertArrayEquals(got, get(dout1, B * QC), "decode, 1 thread vs 2" + s);
                }
            }
            if (checked == 0) fail("nothing decoded" + s);
            MemorySegment kf = k.allocFloats(cn), vf = k.allocFloats(cn);
            k.kvCacheWrite(kf, vf, seg(qkv), B, T, NH, NKV, HS, maxT);
            assertArrayEquals(get(kf, cn), get(kc, cn), "k cache after decoding" + s);
            assertArrayEquals(get(vf, cn), get(vc, cn), "v cache after decoding" + s);
        }
    }

    @Test void decodeRejectsPositionsOutsideCache() {
        int B = 1, NH = 2, NKV = 1, HS = 8, maxT = 4;
        MemorySegment step = k.allocFloats(rw(NH, NKV, HS)), out = k.allocFloats(NH * HS);
        MemorySegment kc = k.allocFloats(maxT * HS), vc = k.allocFloats(maxT * HS);
        assertThrows(IllegalArgumentException.class,
                () -> k.attentionDecode(out, step, kc, vc, segI(new int[]{maxT}), B, NH, NKV, HS, maxT));
        assertThrows(IllegalArgumentException.class,
                () -> k.attentionDecode(out, step, kc, vc, segI(new int[]{-1}), B, NH, NKV, HS, maxT));
    }
}
