package io.pref4j.kernel.cpu;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * CpuMatmul against naive double-precision loops.
 *
 * <p>Tolerance: each output is a length-K fp32 dot product (accumulated in blocks by FMA),
 * whose rounding error is at most about K·2⁻²⁴·Σ_k|a_ik·b_kj| and in practice ~√K·2⁻²⁴·Σ|ab|.
 * We allow {@code 1e-5·Σ_k|a_ik b_kj| + 1e-6}: above the rounding for every K used here, far
 * below the error of a missing, duplicated or misplaced term (≈ |a b| ≈ Σ|ab|/K ≥ 1e-3·Σ|ab|).
 */
class CpuMatmulTest {

    private static final float SENTINEL = 12345.0f;

    /** Stored A [M,K] or [K,M] etc.; returns op(A)[i,k] for the naive reference. */
    private static float opA(float[] a, int i, int k, int M, int K, boolean transA) {
        return transA ? a[k * M + i] : a[i * K + k];
    }

    private static float opB(float[] b, int k, int j, int N, int K, boolean transB) {
        return transB ? b[j * K + k] : b[k * N + j];
    }

    private static float[] random(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian());
        return x;
    }

    /** Runs one matmul on k and checks it (and that nothing past M·N was written). */
    private static void check(CpuKernels kern, Random r, int M, int N, int K, boolean transA, boolean transB,
                              boolean withBias, boolean accumulate) {
        float[] a = random(r, M * K), b = random(r, K * N), bias = withBias ? random(r, N) : null;
        float[] c0 = random(r, M * N);
        MemorySegment sa = kern.allocFloats(a.length), sb = kern.allocFloats(b.length);
        MemorySegment sc = kern.allocFloats((long) M * N + 16);
        MemorySegment sbias = withBias ? kern.allocFloats(N) : null;
        kern.write(sa, a);
        kern.write(sb, b);
        if (withBias) kern.write(sbias, bias);
        float[] init = new float[M * N + 16];
        System.arraycopy(c0, 0, init, 0, M * N);
        for (int i = M * N; i < init.length; i++) init[i] = SENTINEL;
        kern.write(sc, init);

        kern.matmul(sc, sa, sb, sbias, M, N, K, transA, transB, accumulate);
        float[] got = new float[M * N + 16];
        kern.read(sc, got);

        String what = "M=" + M + " N=" + N + " K=" + K + " tA=" + transA + " tB=" + transB
                + " bias=" + withBias + " acc=" + accumulate;
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < N; j++) {
                double s = 0, abs = 0;
                for (int k = 0; k < K; k++) {
                    double p = (double) opA(a, i, k, M, K, transA) * opB(b, k, j, N, K, transB);
                    s += p;
                    abs += Math.abs(p);
                }
                if (withBias) { s += bias[j]; abs += Math.abs(bias[j]); }
                if (accumulate) { s += c0[i * N + j]; abs += Math.abs(c0[i * N + j]); }
                double tol = 1e-5 * abs + 1e-6;
                float g = got[i * N + j];
                if (!(Math.abs(g - s) <= tol)) {
                    fail(what + ": C[" + i + "," + j + "] = " + g + ", expected " + s + " (tol " + tol + ")");
                }
            }
        }
        for (int i = M * N; i < got.length; i++) assertEquals(SENTINEL, got[i], what + ": wrote past the end");
    }

    @Test
    void allTransposesAwkwardSizes() {
        Random r = new Random(42);
        int[][] shapes = {
            {1, 1, 1}, {1, 17, 3}, {3, 1, 17}, {17, 3, 1}, {5, 16, 8}, {4, 16, 256},
            {7, 33, 65}, {63, 65, 17}, {65, 63, 257}, {13, 257, 9}, {150, 40, 300},
        };
        try (CpuKernels k = new CpuKernels(2)) {
            for (int[] s : shapes) {
                for (int t = 0; t < 4; t++) {
                    check(k, r, s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0, false, false);
                }
            }
        }
    }

    @Test
    void biasAndAccumulate() {
        Random r = new Random(7);
        try (CpuKernels k = new CpuKernels(2)) {
            for (int t = 0; t < 4; t++) {
                boolean tA = (t & 1) != 0, tB = (t & 2) != 0;
                check(k, r, 19, 37, 29, tA, tB, true, false);
                check(k, r, 19, 37, 29, tA, tB, false, true);
                check(k, r, 19, 37, 29, tA, tB, true, true);
                // Large enough to run in parallel (both the row split and the column split).
                check(k, r, 131, 67, 300, tA, tB, true, true);
                check(k, r, 9, 301, 260, tA, tB, true, false);
            }
        }
    }

    @Test
    void wideAndDeepBlocks() {
        // N past one NC column block and K past one KC slice, with partial tiles everywhere.
        Random r = new Random(3);
        try (CpuKernels k = new CpuKernels(2)) {
            check(k, r, 5, CpuMatmul.NC + 37, 3, false, false, true, false);
            check(k, r, 6, CpuMatmul.NC + 37, 2 * CpuMatmul.KC + 5, false, true, false, true);
            check(k, r, CpuMatmul.MC + 9, 19, CpuMatmul.KC + 1, true, false, true, false);
        }
    }

    @Test
    void zeroKGivesBiasOrLeavesOutput() {
        try (CpuKernels k = new CpuKernels(1)) {
            MemorySegment c = k.allocFloats(6), bias = k.allocFloats(3), a = k.allocFloats(1), b = k.allocFloats(1);
            k.write(bias, new float[] {1, 2, 3});
            k.write(c, new float[] {9, 9, 9, 9, 9, 9});
            k.matmul(c, a, b, bias, 2, 3, 0, false, false, false);
            float[] got = new float[6];
            k.read(c, got);
            assertArrayEquals(new float[] {1, 2, 3, 1, 2, 3}, got);
            k.matmul(c, a, b, bias, 2, 3, 0, false, false, true);
            k.read(c, got);
            assertArrayEquals(new float[] {2, 4, 6, 2, 4, 6}, got);
        }
    }

    @Test
    void resultIndependentOfThreadCount() {
        Random r = new Random(11);
        int M = 203, N = 129, K = 301;
        float[] a = random(r, M * K), b = random(r, K * N);
        float[][] results = new float[3][];
        for (int threads = 1; threads <= 3; threads++) {
            try (CpuKernels k = new CpuKernels(threads)) {
                MemorySegment sa = k.allocFloats(a.length), sb = k.allocFloats(b.length), sc = k.allocFloats((long) M * N);
                k.write(sa, a);
                k.write(sb, b);
                k.matmul(sc, sa, sb, null, M, N, K, true, false, false);
                results[threads - 1] = new float[M * N];
                k.read(sc, results[threads - 1]);
            }
        }
        assertArrayEquals(results[0], results[1]);
        assertArrayEquals(results[0], results[2]);
    }

    @Test
    void sharedPackedBParallelPathIsCorrectAndThreadCountIndependent() {
        // Tall enough for the row-chunked parallel path (shared packed B), past one NC column
        // block and one KC slice, with partial row chunks, tiles and k groups; every
        // transpose, with bias and accumulate. Checked against the reference, and bit for bit
        // against the single-threaded result.
        Random r = new Random(13);
        int M = 150, N = CpuMatmul.NC + 37, K = CpuMatmul.KC + 13;
        for (int t = 0; t < 4; t++) {
            boolean tA = (t & 1) != 0, tB = (t & 2) != 0, acc = t >= 2;
            float[] a = random(r, M * K), b = random(r, K * N), bias = random(r, N), c0 = random(r, M * N);
            float[][] results = new float[3][];
            for (int threads = 1; threads <= 3; threads++) {
                try (CpuKernels k = new CpuKernels(threads)) {
                    MemorySegment sa = k.allocFloats(a.length), sb = k.allocFloats(b.length);
                    MemorySegment sc = k.allocFloats((long) M * N), sbias = k.allocFloats(N);
                    k.write(sa, a);
                    k.write(sb, b);
                    k.write(sbias, bias);
                    k.write(sc, c0);
                    k.matmul(sc, sa, sb, sbias, M, N, K, tA, tB, acc);
                    results[threads - 1] = new float[M * N];
                    k.read(sc, results[threads - 1]);
                }
            }
            for (int i = 0; i < M; i += 7) {
                for (int j = 0; j < N; j += 5) {
                    double sum = bias[j] + (acc ? c0[i * N + j] : 0), abs = Math.abs(bias[j]) + (acc ? Math.abs(c0[i * N + j]) : 0);
                    for (int q = 0; q < K; q++) {
                        double p = (double) opA(a, i, q, M, K, tA) * opB(b, q, j, N, K, tB);
                        sum += p;
                        abs += Math.abs(p);
                    }
                    assertEquals(sum, results[1][i * N + j], 1e-5 * abs + 1e-6, "t=" + t + " [" + i + "," + j + "]");
                }
            }
            assertArrayEquals(results[0], results[1], "t=" + t + ": 2 threads differ from 1");
            assertArrayEquals(results[0], results[2], "t=" + t + ": 3 threads differ from 1");
        }
    }

    @Test
    void packersProduceTheDocumentedLayout() {
        // packA / packB (vectorised transposes for whole micro-panels and 8-deep k groups,
        // scalar for the rest) against their definitions, for depths that are and are not
        // multiples of 8 and for partial panels.
        Random r = new Random(17);
        CpuMatmul.Scratch sc = new CpuMatmul.Scratch();
        int MR = CpuMatmul.MR, NR = CpuMatmul.NR;
        for (int kc : new int[] {1, 7, 8, 21, 64, CpuMatmul.KC}) {
            for (int trans = 0; trans < 2; trans++) {
                boolean tr = trans == 1;
                // op(X) is rows × cols = (ic + mc) × (pc + kc) for A, (pc + kc) × (jc + nc) for B.
                int ic = 3, pc = 5, mc = 2 * MR + 3;
                int rowsA = ic + mc, colsA = pc + kc;
                float[] a = random(r, rowsA * colsA);
                int lda = tr ? rowsA : colsA;
                MemorySegment sa = MemorySegment.ofArray(a);
                CpuMatmul.packA(sc, sa, 0, lda, tr, ic, pc, mc, kc);
                for (int p = 0; p < (mc + MR - 1) / MR; p++) {
                    for (int q = 0; q < kc; q++) {
                        for (int i = 0; i < MR; i++) {
                            int row = p * MR + i;
                            float want = row < mc ? (tr ? a[(pc + q) * lda + ic + row] : a[(ic + row) * lda + pc + q]) : 0f;
                            assertEquals(want, sc.ap[p * MR * kc + q * MR + i], "packA kc=" + kc + " tr=" + tr);
                        }
                    }
                }
                int jc = 2, nc = 2 * NR + 5;
                int rowsB = pc + kc, colsB = jc + nc;
                float[] b = random(r, rowsB * colsB);
                int ldb = tr ? rowsB : colsB;
                MemorySegment sb = MemorySegment.ofArray(b);
                float[] bp = new float[((nc + NR - 1) / NR) * NR * kc + 3];
                CpuMatmul.packB(sc, bp, 3, sb, 0, ldb, tr, pc, jc, kc, nc);
                for (int p = 0; p < (nc + NR - 1) / NR; p++) {
                    for (int q = 0; q < kc; q++) {
                        for (int j = 0; j < NR; j++) {
                            int col = p * NR + j;
                            float want = col < nc ? (tr ? b[(jc + col) * ldb + pc + q] : b[(pc + q) * ldb + jc + col]) : 0f;
                            assertEquals(want, bp[3 + p * NR * kc + q * NR + j], "packB kc=" + kc + " tr=" + tr);
                        }
                    }
                }
            }
        }
    }

    @Test
    void batchedMatchesSeparateProblems() {
        Random r = new Random(5);
        int batch = 5, M = 9, N = 17, K = 33;
        long sA = M * K + 3, sB = K * N + 5, sC = M * N + 7;
        try (CpuKernels k = new CpuKernels(2)) {
            for (int t = 0; t < 4; t++) {
                boolean tA = (t & 1) != 0, tB = (t & 2) != 0;
                float[] a = random(r, (int) (batch * sA)), b = random(r, (int) (batch * sB));
                float[] c = random(r, (int) (batch * sC));
                MemorySegment ga = k.allocFloats(a.length), gb = k.allocFloats(b.length), gc = k.allocFloats(c.length);
                k.write(ga, a);
                k.write(gb, b);
                k.write(gc, c);
                boolean acc = t == 3;
                k.matmulBatched(gc, ga, gb, batch, sC, sA, sB, M, N, K, tA, tB, acc);
                float[] got = new float[c.length];
                k.read(gc, got);
                for (int p = 0; p < batch; p++) {
                    for (int i = 0; i < M; i++) {
                        for (int j = 0; j < N; j++) {
                            double s = acc ? c[(int) (p * sC) + i * N + j] : 0, abs = Math.abs(s);
                            for (int q = 0; q < K; q++) {
                                double v = (double) a[(int) (p * sA) + (tA ? q * M + i : i * K + q)]
                                        * b[(int) (p * sB) + (tB ? j * K + q : q * N + j)];
                                s += v;
                                abs += Math.abs(v);
                            }
                            assertEquals(s, got[(int) (p * sC) + i * N + j], 1e-5 * abs + 1e-6,
                                    "batch " + p + " t=" + t + " [" + i + "," + j + "]");
                        }
                    }
                    // the gap between problems is untouched
                    for (int g = M * N; g < sC; g++) assertEquals(c[(int) (p * sC) + g], got[(int) (p * sC) + g]);
                }
            }
        }
    }

    @Test
    void biasBackwardSumsRows() {
        Random r = new Random(9);
        try (CpuKernels k = new CpuKernels(2)) {
            for (int[] s : new int[][] {{1, 1}, {3, 17}, {257, 65}, {40, 1000}}) {
                int M = s[0], N = s[1];
                float[] d = random(r, M * N), db0 = random(r, N);
                MemorySegment gd = k.allocFloats(d.length), gdb = k.allocFloats(N);
                k.write(gd, d);
                k.write(gdb, db0);
                k.biasBackward(gdb, gd, M, N);
                float[] got = new float[N];
                k.read(gdb, got);
                for (int j = 0; j < N; j++) {
                    double sum = db0[j], abs = Math.abs(db0[j]);
                    for (int i = 0; i < M; i++) { sum += d[i * N + j]; abs += Math.abs(d[i * N + j]); }
                    assertEquals(sum, got[j], 1e-5 * abs + 1e-6, "M=" + M + " N=" + N + " j=" + j);
                }
            }
        }
    }
}
