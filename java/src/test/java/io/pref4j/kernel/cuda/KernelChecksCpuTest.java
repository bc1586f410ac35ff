package io.pref4j.kernel.cuda;

import io.pref4j.kernel.Kernels;
import io.pref4j.kernel.cpu.CpuKernels;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The checker itself, on the CPU: every check passes when the backend under test is another
 * CPU context (1 thread against 2), the error measure catches unwritten (poisoned) elements,
 * and the sampling oracle accepts what the reference sampler draws.
 */
class KernelChecksCpuTest {

    @Test
    void everyCheckPassesCpuAgainstCpu() {
        try (Kernels ref = new CpuKernels(2); Kernels dev = new CpuKernels(1)) {
            List<KernelChecks.Result> results = KernelChecks.runAll(ref, dev, 12345);
            String table = KernelChecks.table(results);
            assertTrue(results.size() > 60, table);
            for (KernelChecks.Result r : results) assertTrue(r.pass(), table);
        }
    }

    @Test
    void errorMeasure() {
        assertEquals(0, KernelChecks.error(new float[] {1, 2}, new float[] {1, 2}));
        assertEquals(0.25, KernelChecks.error(new float[] {4, -2}, new float[] {4, -1}), 1e-12);
        assertEquals(Double.POSITIVE_INFINITY, KernelChecks.error(new float[] {1, 2}, new float[] {1, Float.NaN}));
        assertEquals(Double.POSITIVE_INFINITY, KernelChecks.error(new float[] {1, 2}, new float[] {1}));
        assertEquals(0, KernelChecks.error(new float[] {Float.NaN}, new float[] {Float.NaN}));
    }

    @Test
    void aCheckWithAnUnwrittenOutputFails() {
        KernelChecks.Check lazy = new KernelChecks.Check("lazy", "n 10", KernelChecks.Precision.FP32, c -> {
            KernelChecks.Buf x = c.f(c.gauss(10, 1)), o = c.nan(10);
            c.run((k, s) -> k.geluForward(s.apply(o), s.apply(x), k == c.ref ? 10 : 9)); // the tested side skips one
            c.expect("out", o);
        });
        try (Kernels ref = new CpuKernels(1); Kernels dev = new CpuKernels(1)) {
            KernelChecks.Result r = lazy.run(ref, dev, 1);
            assertTrue(!r.pass() && Double.isInfinite(r.error()), r.toString());
        }
    }

    @Test
    void samplingOracleAcceptsTheReferenceSampler() {
        SplittableRandom rnd = new SplittableRandom(3);
        int B = 32, V = 301;
        float[][] configs = {{1f, 0, 1f}, {0.7f, 20, 1f}, {1.2f, 0, 0.85f}, {0.9f, 30, 0.7f}, {0f, 0, 1f}};
        try (Kernels k = new CpuKernels(1)) {
            for (float[] cf : configs) {
                float[] logits = new float[B * V];
                for (int i = 0; i < logits.length; i++) logits[i] = (float) (rnd.nextGaussian() * 2);
                long[] seeds = new long[B];
                for (int b = 0; b < B; b++) seeds[b] = rnd.nextLong();
                MemorySegment lg = k.allocFloats(B * V), sd = k.allocLongs(B), tok = k.allocInts(B);
                k.write(lg, logits);
                k.writeLongs(sd, seeds);
                k.sample(tok, null, lg, sd, 5, B, V, cf[0], (int) cf[1], cf[2]);
                int[] t = new int[B];
                k.readInts(tok, t);
                for (int b = 0; b < B; b++) {
                    float[] row = java.util.Arrays.copyOfRange(logits, b * V, (b + 1) * V);
                    float u = io.pref4j.kernel.CounterRng.uniform(seeds[b], 5);
                    assertTrue(KernelChecks.SampleOracle.acceptable(row, cf[0], (int) cf[1], cf[2], u, t[b]),
                            "config " + java.util.Arrays.toString(cf) + " row " + b);
                    // and a token far from the draw is rejected (the oracle is not vacuous)
                    if (cf[0] > 0 && cf[1] == 0 && cf[2] == 1f) {
                        int far = (t[b] + V / 2) % V;
                        assertTrue(!KernelChecks.SampleOracle.acceptable(row, cf[0], 0, 1f, u, far) || far == t[b]);
                    }
                }
            }
        }
    }
}
