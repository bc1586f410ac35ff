package io.pref4j.kernel.cpu;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static io.pref4j.kernel.cpu.KernelTestSupport.close;
import static io.pref4j.kernel.cpu.KernelTestSupport.rand;
import static io.pref4j.kernel.cpu.KernelTestSupport.sumW;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * CpuLayers against naive double-precision loops, plus central finite differences of
 * L = Σ w·out through the fp32 kernels themselves.
 *
 * <p>Finite-difference tolerances: the step is h = 1e-2 on inputs of size O(1). L is
 * accumulated in double from fp32 outputs, so its rounding noise is about
 * 1e-7·Σ|w·out| ≈ 1e-6 for these tiny sizes, i.e. ≈ 1e-4 after dividing by 2h; the
 * truncation error of the central difference is O(h²·|L'''|) ≈ 1e-4. The tolerance
 * |fd − g| ≤ 2e-3 + 1e-2·|g| is therefore safely above the noise while gradients are
 * O(0.1–1), so a wrong term (a missing factor, a wrong sign) fails it.
 */
class CpuLayersTest {

    private static CpuKernels k;

    @BeforeAll static void setUp() { k = new CpuKernels(2); }

    @AfterAll static void tearDown() { k.close(); }

    // ---------------------------------------------------------------- helpers

    MemorySegment seg(float[] a) { return KernelTestSupport.seg(k, a); }

    MemorySegment segI(int[] a) { return KernelTestSupport.segI(k, a); }

    float[] get(MemorySegment m, int n) { return KernelTestSupport.get(k, m, n); }

    /**
     * Central differences of L = Σ w·out(x) for every element of x (a segment of length n),
     * where forward recomputes out (length w.length) from the current segments.
     */
    void fdCheck(String what, MemorySegment x, int n, float[] grad, Runnable forward, MemorySegment out, float[] w) {
        final double h = 1e-2;
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
            double err = Math.abs(fd - grad[i]);
            if (!(err <= 2e-3 + 1e-2 * Math.abs(grad[i])))
                fail(what + " fd[" + i + "]: finite difference " + fd + " vs analytic " + grad[i]);
        }
        forward.run();
    }

    // ---------------------------------------------------------------- elementwise

    @Test void addAccumulateScale() {
        Random r = new Random(1);
        for (int n : new int[]{1, 13, 200_003}) {
            float[] a = rand(r, n, 1), b = rand(r, n, 1);
            MemorySegment sa = seg(a), sb = seg(b), so = k.allocFloats(n);
            k.add(so, sa, sb, n);
            float[] o = get(so, n);
            for (int i = 0; i < n; i++) assertEquals(a[i] + b[i], o[i], 0f, "add");
            k.add(sa, sa, sb, n); // aliasing out == a
            float[] o2 = get(sa, n);
            for (int i = 0; i < n; i++) assertEquals(a[i] + b[i], o2[i], 0f, "add aliased");
            k.accumulate(so, sb, n);
            o = get(so, n);
            for (int i = 0; i < n; i++) assertEquals((a[i] + b[i]) + b[i], o[i], 0f, "accumulate");
            k.scale(sb, n, -2.5f);
            o = get(sb, n);
            for (int i = 0; i < n; i++) assertEquals(b[i] * -2.5f, o[i], 0f, "scale");
        }
    }

    static double geluD(double x) {
        double s = Math.sqrt(2 / Math.PI);
        return 0.5 * x * (1 + Math.tanh(s * (x + 0.044715 * x * x * x)));
    }

    static double geluGradD(double x) {
        double s = Math.sqrt(2 / Math.PI), u = s * (x + 0.044715 * x * x * x), t = Math.tanh(u);
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * s * (1 + 3 * 0.044715 * x * x);
    }

    @Test void geluForwardBackward() {
        Random r = new Random(2);
        for (int n : new int[]{1, 7, 37, 100_001}) {
            float[] x = rand(r, n, 2), g = rand(r, n, 1);
            x[0] = 0f;
            if (n > 2) { x[1] = 12f; x[2] = -12f; }
            MemorySegment sx = seg(x), so = k.allocFloats(n), sg = seg(g), sd = k.allocFloats(n);
            k.geluForward(so, sx, n);
            double[] e = new double[n], eg = new double[n];
            for (int i = 0; i < n; i++) { e[i] = geluD(x[i]); eg[i] = geluGradD(x[i]) * g[i]; }
            close(e, get(so, n), 1e-7, 1e-5, "gelu");
            k.fill(sd, n, 7f); // "=": old contents must not matter
            k.geluBackward(sd, sx, sg, n);
            close(eg, get(sd, n), 1e-7, 1e-5, "gelu backward");
            k.geluBackward(sg, sx, sg, n); // dinp aliases dout
            close(eg, get(sg, n), 1e-7, 1e-5, "gelu backward aliased");
        }
        // finite differences through the fp32 kernel
        int n = 19;
        float[] x = rand(r, n, 1.5), w = rand(r, n, 1);
        MemorySegment sx = seg(x), so = k.allocFloats(n), sw = seg(w), sd = k.allocFloats(n);
        k.geluBackward(sd, sx, sw, n);
        fdCheck("gelu", sx, n, get(sd, n), () -> k.geluForward(so, sx, n), so, w);
    }

    // ---------------------------------------------------------------- LayerNorm

    /** Double-precision LayerNorm forward; returns out, fills mean/rstd. */
    static double[] lnRef(float[] x, float[] wt, float[] bs, int N, int C, double[] mean, double[] rstd) {
        double[] out = new double[N * C];
        for (int n = 0; n < N; n++) {
            double m = 0;
            for (int c = 0; c < C; c++) m += x[n * C + c];
            m /= C;
            double v = 0;
            for (int c = 0; c < C; c++) v += (x[n * C + c] - m) * (x[n * C + c] - m);
            v /= C;
            double rs = 1 / Math.sqrt(v + 1e-5);
            mean[n] = m;
            rstd[n] = rs;
            for (int c = 0; c < C; c++) out[n * C + c] = (x[n * C + c] - m) * rs * wt[c] + bs[c];
        }
        return out;
    }

    @Test void layerNormForward() {
        Random r = new Random(3);
        int[][] shapes = {{1, 24}, {7, 20}, {33, 8}, {5, 768}, {700, 24}, {3, 1}};
        for (int[] sh : shapes) {
            int N = sh[0], C = sh[1];
            float[] x = rand(r, N * C, 1), wt = rand(r, C, 1), bs = rand(r, C, 1);
            for (int i = 0; i < N * C; i++) x[i] += 3f; // non-zero mean
            double[] mean = new double[N], rstd = new double[N];
            double[] e = lnRef(x, wt, bs, N, C, mean, rstd);
            MemorySegment so = k.allocFloats(N * C), sm = k.allocFloats(N), sr = k.allocFloats(N);
            k.layerNormForward(so, sm, sr, seg(x), seg(wt), seg(bs), N, C);
            close(e, get(so, N * C), 1e-5, 1e-4, "ln out " + N + "x" + C);
            close(mean, get(sm, N), 1e-6, 1e-5, "ln mean");
            close(rstd, get(sr, N), 1e-6, 1e-4, "ln rstd");
        }
    }

    @Test void layerNormBackwardAnalytic() {
        Random r = new Random(4);
        int[][] shapes = {{1, 24}, {7, 20}, {33, 8}, {700, 24}, {9, 768}, {2, 3}};
        for (int[] sh : shapes) {
            int N = sh[0], C = sh[1];
            float[] x = rand(r, N * C, 1), wt = rand(r, C, 1), bs = rand(r, C, 1), g = rand(r, N * C, 1);
            float[] dx0 = rand(r, N * C, 1), dw0 = rand(r, C, 1), db0 = rand(r, C, 1);
            double[] mean = new double[N], rstd = new double[N];
            lnRef(x, wt, bs, N, C, mean, rstd);
            double[] edx = new double[N * C], edw = new double[C], edb = new double[C];
            for (int c = 0; c < C; c++) { edw[c] = dw0[c]; edb[c] = db0[c]; }
            for (int n = 0; n < N; n++) {
                double mD = 0, mDN = 0;
                for (int c = 0; c < C; c++) {
                    double nrm = (x[n * C + c] - mean[n]) * rstd[n], dn = (double) g[n * C + c] * wt[c];
                    mD += dn;
                    mDN += dn * nrm;
                    edw[c] += g[n * C + c] * nrm;
                    edb[c] += g[n * C + c];
                }
                mD /= C;
                mDN /= C;
                for (int c = 0; c < C; c++) {
                    double nrm = (x[n * C + c] - mean[n]) * rstd[n], dn = (double) g[n * C + c] * wt[c];
                    edx[n * C + c] = dx0[n * C + c] + (dn - mD - nrm * mDN) * rstd[n];
                }
            }
            MemorySegment sx = seg(x), sw = seg(wt), sb = seg(bs), so = k.allocFloats(N * C);
            MemorySegment sm = k.allocFloats(N), sr = k.allocFloats(N);
            k.layerNormForward(so, sm, sr, sx, sw, sb, N, C);
            MemorySegment sdx = seg(dx0), sdw = seg(dw0), sdb = seg(db0);
            k.layerNormBackward(sdx, sdw, sdb, seg(g), sx, sw, sm, sr, N, C);
            String s = " " + N + "x" + C;
            close(edx, get(sdx, N * C), 1e-4, 1e-4, "ln dinp" + s);
            double tol = 1e-5 * Math.sqrt(N);
            close(edw, get(sdw, C), tol, 1e-4, "ln dweight" + s);
            close(edb, get(sdb, C), tol, 1e-4, "ln dbias" + s);
        }
    }

    @Test void layerNormBackwardFiniteDifferences() {
        Random r = new Random(5);
        int N = 3, C = 5;
        float[] x = rand(r, N * C, 1), wt = rand(r, C, 1), bs = rand(r, C, 1), w = rand(r, N * C, 1);
        MemorySegment sx = seg(x), sw = seg(wt), sb = seg(bs), so = k.allocFloats(N * C);
        MemorySegment sm = k.allocFloats(N), sr = k.allocFloats(N);
        Runnable fwd = () -> k.layerNormForward(so, sm, sr, sx, sw, sb, N, C);
        fwd.run();
        MemorySegment sdx = k.allocFloats(N * C), sdw = k.allocFloats(C), sdb = k.allocFloats(C);
        k.layerNormBackward(sdx, sdw, sdb, seg(w), sx, sw, sm, sr, N, C);
        fdCheck("ln inp", sx, N * C, get(sdx, N * C), fwd, so, w);
        fdCheck("ln weight", sw, C, get(sdw, C), fwd, so, w);
        fdCheck("ln bias", sb, C, get(sdb, C), fwd, so, w);
    }

    // ---------------------------------------------------------------- embeddings

    @Test void embeddingForwardBackward() {
        Random r = new Random(6);
        int[][] shapes = {{2, 7, 24, 11}, {3, 33, 20, 5}, {1, 1, 8, 3}, {4, 9, 100, 6}};
        for (int[] sh : shapes) {
            int B = sh[0], T = sh[1], C = sh[2], V = sh[3];
            int[] tok = new int[B * T];
            for (int i = 0; i < tok.length; i++) tok[i] = r.nextInt(V); // many repeats
            float[] wte = rand(r, V * C, 1), wpe = rand(r, T * C, 1), g = rand(r, B * T * C, 1);
            float[] dwte0 = rand(r, V * C, 1), dwpe0 = rand(r, T * C, 1);
            double[] e = new double[B * T * C], edte = new double[V * C], edpe = new double[T * C];
            for (int i = 0; i < V * C; i++) edte[i] = dwte0[i];
            for (int i = 0; i < T * C; i++) edpe[i] = dwpe0[i];
            for (int b = 0; b < B; b++)
                for (int t = 0; t < T; t++)
                    for (int c = 0; c < C; c++) {
                        int row = b * T + t;
                        e[row * C + c] = (double) wte[tok[row] * C + c] + wpe[t * C + c];
                        edte[tok[row] * C + c] += g[row * C + c];
                        edpe[t * C + c] += g[row * C + c];
                    }
            MemorySegment so = k.allocFloats(B * T * C), stok = segI(tok);
            k.embeddingForward(so, stok, seg(wte), seg(wpe), B, T, C);
            close(e, get(so, B * T * C), 1e-6, 1e-6, "embedding");
            MemorySegment sdte = seg(dwte0), sdpe = seg(dwpe0);
            k.embeddingBackward(sdte, sdpe, seg(g), stok, B, T, C);
            close(edte, get(sdte, V * C), 1e-5, 1e-5, "dwte");
            close(edpe, get(sdpe, T * C), 1e-5, 1e-5, "dwpe");
        }
        // finite differences (linear, so this checks the index bookkeeping)
        int B = 2, T = 3, C = 4, V = 3;
        int[] tok = {0, 2, 0, 1, 0, 2};
        float[] w = rand(r, B * T * C, 1);
        MemorySegment ste = seg(rand(r, V * C, 1)), spe = seg(rand(r, T * C, 1)), so = k.allocFloats(B * T * C);
        MemorySegment stok = segI(tok), sdte = k.allocFloats(V * C), sdpe = k.allocFloats(T * C);
        Runnable fwd = () -> k.embeddingForward(so, stok, ste, spe, B, T, C);
        fwd.run();
        k.embeddingBackward(sdte, sdpe, seg(w), stok, B, T, C);
        fdCheck("wte", ste, V * C, get(sdte, V * C), fwd, so, w);
        fdCheck("wpe", spe, T * C, get(sdpe, T * C), fwd, so, w);
    }

    // ---------------------------------------------------------------- rows

    @Test void gatherScatterRows() {
        Random r = new Random(7);
        for (int C : new int[]{1, 20, 24, 100}) {
            int X = 6, R = 9;
            int[] rows = new int[R];
            for (int i = 0; i < R; i++) rows[i] = r.nextInt(X);
            rows[1] = rows[0]; // a repeat for sure
            float[] x = rand(r, X * C, 1), g = rand(r, R * C, 1), dx0 = rand(r, X * C, 1);
            MemorySegment so = k.allocFloats(R * C), srows = segI(rows);
            k.gatherRows(so, seg(x), srows, R, C);
            double[] e = new double[R * C], edx = new double[X * C];
            for (int i = 0; i < X * C; i++) edx[i] = dx0[i];
            for (int b = 0; b < R; b++)
                for (int c = 0; c < C; c++) {
                    e[b * C + c] = x[rows[b] * C + c];
                    edx[rows[b] * C + c] += g[b * C + c];
                }
            close(e, get(so, R * C), 0, 0, "gather");
            MemorySegment sdx = seg(dx0);
            k.scatterAddRows(sdx, seg(g), srows, R, C);
            close(edx, get(sdx, X * C), 1e-6, 1e-6, "scatterAdd");
        }
    }

    @Test void rowSumBroadcast() {
        Random r = new Random(8);
        for (int[] sh : new int[][]{{1, 1}, {5, 7}, {3, 24}, {1000, 37}, {2, 5000}}) {
            int R = sh[0], C = sh[1];
            float[] x = rand(r, R * C, 1);
            MemorySegment so = k.allocFloats(R);
            k.fill(so, R, 5f);
            k.rowSum(so, seg(x), R, C);
            double[] e = new double[R];
            for (int i = 0; i < R; i++) for (int c = 0; c < C; c++) e[i] += x[i * C + c];
            close(e, get(so, R), 1e-5 * Math.sqrt(C), 1e-5, "rowSum");
            float[] v = rand(r, R, 1);
            MemorySegment sb = k.allocFloats(R * C);
            k.fill(sb, R * C, 3f);
            k.rowBroadcast(sb, seg(v), R, C);
            float[] got = get(sb, R * C);
            for (int i = 0; i < R; i++) for (int c = 0; c < C; c++) assertEquals(v[i], got[i * C + c], 0f);
        }
    }
}
