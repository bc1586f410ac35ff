package io.pref4j.kernel.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The log-prob gather's split of rows and vocabulary stays within its chunk buffer. */
class LogprobPlanTest {

    @Test
    void chunksStayWithinTheBudgetAndCoverEverything() {
        long budget = 16L << 20; // floats (64 MiB)
        int[][] cases = {{16384, 50257}, {512, 50257}, {7, 50257}, {100_000, 50257}, {45, 1000}, {3, 200}, {1, 1}};
        for (int[] c : cases) {
            int N = c[0], V = c[1];
            CudaKernels.LogprobPlan p = CudaKernels.plan(N, V, budget);
            assertTrue((long) p.rowsPerGroup() * p.vocabPerChunk() <= Math.max(budget, p.vocabPerChunk()), p.toString());
            assertTrue(p.rowsPerGroup() >= 1 && p.rowsPerGroup() <= N, p.toString());
            assertTrue(p.vocabPerChunk() >= 1 && p.vocabPerChunk() <= V, p.toString());
            if (V > 256) assertTrue(p.vocabPerChunk() >= 256, p.toString());
        }
        // GPT-2 training batch: all rows at once, 1024-wide vocabulary chunks
        assertEquals(new CudaKernels.LogprobPlan(16384, 1024), CudaKernels.plan(16384, 50257, budget));
        // more rows than fit with the narrowest chunk: row groups
        assertEquals(new CudaKernels.LogprobPlan(65536, 256), CudaKernels.plan(100_000, 50257, budget));
        // a small problem: the whole vocabulary in one chunk
        assertEquals(new CudaKernels.LogprobPlan(45, 1000), CudaKernels.plan(45, 1000, budget));
    }
}
