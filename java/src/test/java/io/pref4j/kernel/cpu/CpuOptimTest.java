package io.pref4j.kernel.cpu;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * AdamW against a double-precision reference of PyTorch's torch.optim.AdamW update, and
 * sumSquares against a double sum.
 *
 * <p>Tolerances: the kernel runs ~10 fp32 operations per element and step (each ≤ 2⁻²⁴
 * relative), so after 3 steps each quantity is within a few 1e-7 of the magnitude of the
 * terms it sums (m sums ±g terms and can cancel). We allow 2e-6 × that magnitude:
 * m: 2e-6·Σ|terms of m|; v (no cancellation): 2e-6·|v|; p: 2e-6·(|p| + Σ_steps lr·|m̂|/(√v̂+eps)).
 * A wrong coefficient (β, bias correction, eps placement, decay) is off by ≳ 1e-3 relative.
 */
class CpuOptimTest {

    @Test
    void adamwMatchesPyTorchReference() {
        Random r = new Random(1);
        float lr = 1e-2f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
        try (CpuKernels k = new CpuKernels(2)) {
            for (int n : new int[] {1, 7, 37, CpuOptim.BLOCK * 3 + 13}) {
                float[] p = new float[n], m = new float[n], v = new float[n];
                for (int i = 0; i < n; i++) p[i] = (float) r.nextGaussian();
                double[] rp = new double[n], rm = new double[n], rv = new double[n];
                double[] mAbs = new double[n], pTol = new double[n]; // magnitudes of the summed terms
                for (int i = 0; i < n; i++) rp[i] = p[i];
                MemorySegment gp = k.allocFloats(n), gg = k.allocFloats(n), gm = k.allocFloats(n), gv = k.allocFloats(n);
                k.write(gp, p);
                for (int step = 1; step <= 3; step++) {
                    float[] g = new float[n];
                    for (int i = 0; i < n; i++) g[i] = (float) (r.nextGaussian() * (i % 3 == 0 ? 1e-3 : 1.0));
                    k.write(gg, g);
                    k.adamw(gp, gg, gm, gv, n, lr, b1, b2, eps, wd, step);
                    double bc1 = 1 - Math.pow(b1, step), bc2 = 1 - Math.pow(b2, step);
                    for (int i = 0; i < n; i++) {
                        rp[i] *= 1 - (double) lr * wd;
                        rm[i] = b1 * rm[i] + (1 - (double) b1) * g[i];
                        mAbs[i] = b1 * mAbs[i] + (1 - (double) b1) * Math.abs(g[i]);
                        rv[i] = b2 * rv[i] + (1 - (double) b2) * g[i] * (double) g[i];
                        rp[i] -= lr * (rm[i] / bc1) / (Math.sqrt(rv[i] / bc2) + eps);
                        pTol[i] += lr * (mAbs[i] / bc1) / (Math.sqrt(rv[i] / bc2) + eps);
                    }
                }
                k.read(gp, p);
                k.read(gm, m);
                k.read(gv, v);
                for (int i = 0; i < n; i++) {
                    assertEquals(rp[i], p[i], 2e-6 * (Math.abs(rp[i]) + pTol[i]), "p[" + i + "] n=" + n);
                    assertEquals(rm[i], m[i], 2e-6 * mAbs[i] + 1e-12, "m[" + i + "] n=" + n);
                    assertEquals(rv[i], v[i], 2e-6 * Math.abs(rv[i]) + 1e-12, "v[" + i + "] n=" + n);
                }
            }
        }
    }

    @Test
    void adamwFirstStepMovesEachWeightByAboutLr() {
        // Step 1 with no decay: m̂ = g, v̂ = g², so p moves by lr·g/(|g| + eps) ≈ ±lr.
        try (CpuKernels k = new CpuKernels(1)) {
            MemorySegment p = k.allocFloats(3), g = k.allocFloats(3), m = k.allocFloats(3), v = k.allocFloats(3);
            k.write(p, new float[] {1f, 1f, 1f});
            k.write(g, new float[] {2f, -0.5f, 0f});
            k.adamw(p, g, m, v, 3, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 1);
            float[] got = new float[3];
            k.read(p, got);
            assertEquals(0.9f, got[0], 1e-6f);
            assertEquals(1.1f, got[1], 1e-6f);
            assertEquals(1.0f, got[2], 0f);
            assertThrows(IllegalArgumentException.class, () -> k.adamw(p, g, m, v, 3, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 0));
        }
    }

    @Test
    void sumSquaresInDouble() {
        Random r = new Random(2);
        try (CpuKernels k = new CpuKernels(2)) {
            assertEquals(0.0, k.sumSquares(k.allocFloats(1), 0));
            for (int n : new int[] {1, 13, CpuOptim.BLOCK * 3 + 5}) {
                float[] x = new float[n];
                double ref = 0;
                for (int i = 0; i < n; i++) {
                    // A wide dynamic range: an fp32 accumulator would lose the small terms.
                    x[i] = (float) (r.nextGaussian() * (i % 100 == 0 ? 1e4 : 1e-3));
                    ref += (double) x[i] * x[i];
                }
                MemorySegment g = k.allocFloats(n);
                k.write(g, x);
                assertEquals(ref, k.sumSquares(g, n), 1e-12 * ref, "n=" + n);
            }
        }
    }
}
