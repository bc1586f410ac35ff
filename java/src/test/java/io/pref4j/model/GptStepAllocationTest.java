package io.pref4j.model;

import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.train.AdamW;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/** A training step (forward, backward, clipping, AdamW) allocates no buffers after construction. */
class GptStepAllocationTest {

    @Test
    void stepLoopAllocatesNoBuffers() {
        GptConfig cfg = new GptConfig(16, 40, 2, 2, 16);
        try (CpuKernels k = new CpuKernels(2)) {
            Gpt m = new Gpt(k, cfg, 3, 16, true);
            m.initRandom(1);
            AdamW opt = new AdamW(k, m.layout(), m.params(), m.grads(), 0.1f);
            long before = k.allocatedBytes();
            assertTrue(before > 0);
            int B = 3, T = 12;
            int[] toks = new int[B * T], lens = {12, 5, 9}, targets = new int[B * T];
            Arrays.fill(targets, -1);
            for (int i = 0; i < toks.length; i++) toks[i] = (i * 7) % 40;
            for (int b = 0; b < B; b++) for (int t = 0; t < lens[b] - 1; t++) targets[b * T + t] = toks[b * T + t + 1];
            float[] d = new float[B * T];
            Arrays.fill(d, -0.1f);
            float[] before0 = m.readParam("transformer.h.0.attn.c_attn.weight");
            for (int step = 0; step < 3; step++) {
                m.forward(toks, lens, targets, B, T);
                m.zeroGrad();
                m.backward(d, d, d);
                opt.clipGradNorm(1.0);
                opt.step(1e-3f);
            }
            assertEquals(before, k.allocatedBytes(), "no buffer allocated inside the step loop");
            assertFalse(Arrays.equals(before0, m.readParam("transformer.h.0.attn.c_attn.weight")), "the steps changed the weights");
        }
    }
}
