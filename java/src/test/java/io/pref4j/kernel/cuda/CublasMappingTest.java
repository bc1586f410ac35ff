package io.pref4j.kernel.cuda;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The row-major → column-major GEMM mapping, checked without a GPU: cuBLAS's column-major
 * GEMM is simulated in Java on the very arrays (same memory, read column-major with the
 * mapped leading dimensions) and compared with a plain row-major product, for all four
 * transpose combinations, with and without accumulation.
 */
class CublasMappingTest {

    /** Column-major C(m×n, ldc) = alpha·op(X)·op(Y) + beta·C, as cublasSgemm defines it. */
    static void columnMajorGemm(int transa, int transb, int m, int n, int k, float[] x, int ldx, float[] y, int ldy,
                                float beta, float[] c, int ldc) {
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    // op(X)[i,p]: X is column-major, element (r, col) at x[r + col*ldx]
                    double xv = transa == Cublas.OP_N ? x[i + p * ldx] : x[p + i * ldx];
                    double yv = transb == Cublas.OP_N ? y[p + j * ldy] : y[j + p * ldy];
                    s += xv * yv;
                }
                c[i + j * ldc] = (float) (s + beta * c[i + j * ldc]);
            }
        }
    }

    /** Row-major reference: out[M,N] (+)= op(A)·op(B), A stored [M,K] or [K,M], B [K,N] or [N,K]. */
    static void rowMajorReference(float[] out, float[] a, float[] b, int M, int N, int K, boolean ta, boolean tb, boolean acc) {
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < N; j++) {
                double s = 0;
                for (int p = 0; p < K; p++) {
                    double av = ta ? a[p * M + i] : a[i * K + p];
                    double bv = tb ? b[j * K + p] : b[p * N + j];
                    s += av * bv;
                }
                out[i * N + j] = (float) (s + (acc ? out[i * N + j] : 0));
            }
        }
    }

    @Test
    void allFourTransposeCombinationsMatchTheRowMajorProduct() {
        SplittableRandom r = new SplittableRandom(7);
        int[][] shapes = {{3, 5, 4}, {1, 7, 2}, {6, 1, 3}, {5, 4, 1}, {7, 9, 11}};
        for (int[] sh : shapes) {
            int M = sh[0], N = sh[1], K = sh[2];
            for (int t = 0; t < 8; t++) {
                boolean ta = (t & 1) != 0, tb = (t & 2) != 0, acc = (t & 4) != 0;
                float[] a = rand(r, M * K), b = rand(r, K * N), init = rand(r, M * N);
                float[] want = init.clone(), got = init.clone();
                rowMajorReference(want, a, b, M, N, K, ta, tb, acc);
                Cublas.ColumnMajor g = Cublas.rowMajor(M, N, K, ta, tb);
                assertTrue(g.firstIsB());
                assertEquals(N, g.m());
                assertEquals(M, g.n());
                assertEquals(K, g.k());
                assertEquals(N, g.ldc());
                // leading dimensions must be valid for the stored shapes (cuBLAS rejects others)
                assertTrue(g.lda() >= Math.max(1, g.transa() == Cublas.OP_N ? g.m() : g.k()));
                assertTrue(g.ldb() >= Math.max(1, g.transb() == Cublas.OP_N ? g.k() : g.n()));
                columnMajorGemm(g.transa(), g.transb(), g.m(), g.n(), g.k(), b, g.lda(), a, g.ldb(), acc ? 1f : 0f, got, g.ldc());
                for (int i = 0; i < want.length; i++) {
                    assertEquals(want[i], got[i], 1e-5f * (1 + Math.abs(want[i])),
                            "M " + M + " N " + N + " K " + K + " transA " + ta + " transB " + tb + " acc " + acc + " at " + i);
                }
            }
        }
    }

    @Test
    void mappingIsTheOneTheLogprobChunkGemmNeeds() {
        // pref4j.h: chunk[N, Vc] = hidden · weight[v0:v0+Vc]ᵀ is cublasGemmEx(OP_T, OP_N, Vc, N, C, weight, lda=C, hidden, ldb=C, chunk, ldc=Vc)
        int N = 13, Vc = 256, C = 40;
        Cublas.ColumnMajor g = Cublas.rowMajor(N, Vc, C, false, true);
        assertEquals(new Cublas.ColumnMajor(Cublas.OP_T, Cublas.OP_N, Vc, N, C, C, C, Vc, true), g);
    }

    private static float[] rand(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }
}
