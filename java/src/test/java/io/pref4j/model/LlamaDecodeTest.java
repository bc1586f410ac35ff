package io.pref4j.model;

import io.pref4j.kernel.cpu.CpuKernels;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** KV-cache decoding of the Llama family gives the logits of the full forward over the whole sequence. */
class LlamaDecodeTest {

    static Stream<LlamaConfig> configs() {
        return Stream.of(
                // GQA with llama3 rope scaling (low, medium and high frequencies all present)
                new LlamaConfig("llama", 48, 64, 2, 6, 2, 8, 1e-5, 10000.0,
                        new LlamaConfig.RopeScaling("llama3", 8.0, 1.0, 4.0, 16), 32, 41, false, false, false),
                // qwen3: q/k norm, head_dim 16 != 48/4, q/k/v/o biases
                new LlamaConfig("qwen3", 48, 40, 2, 4, 2, 16, 1e-6, 1e6, null, 24, 37, true, true, true),
                // qwen2 MQA
                new LlamaConfig("qwen2", 32, 40, 2, 4, 1, 8, 1e-6, 1e6, null, 24, 29, true, true, false));
    }

    static void randomize(Llama m, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (ParameterLayout.Entry e : m.layout().entries()) {
            float[] v = new float[(int) e.size()];
            boolean norm = e.name().endsWith("norm.weight");
            double std = norm ? 0.1 : e.decayed() ? 1.2 / Math.sqrt(e.shape()[e.shape().length - 1]) : 0.05;
            if (e.name().endsWith("embed_tokens.weight") || e.name().equals("lm_head.weight")) std = 0.5;
            for (int i = 0; i < v.length; i++) v[i] = (float) ((norm ? 1 : 0) + r.nextGaussian() * std);
            m.writeParam(e.name(), v);
        }
    }

    @ParameterizedTest
    @MethodSource("configs")
    void decodeMatchesFullForward(LlamaConfig cfg) {
        int B = 3, maxT = 20, steps = 6;
        int[] promptLens = {5, 2, 9};
        try (CpuKernels k = new CpuKernels(2)) {
            Llama m = new Llama(k, cfg, B, maxT);
            randomize(m, 7);
            SplittableRandom r = new SplittableRandom(3);
            int[][] seqs = new int[B][];
            for (int b = 0; b < B; b++) {
                seqs[b] = new int[promptLens[b] + steps];
                for (int t = 0; t < seqs[b].length; t++) seqs[b][t] = r.nextInt(cfg.vocabSize());
            }
            int T = 0;
            for (int[] s : seqs) T = Math.max(T, s.length);
            int[] toks = new int[B * T], lens = new int[B];
            for (int b = 0; b < B; b++) {
                System.arraycopy(seqs[b], 0, toks, b * T, seqs[b].length);
                lens[b] = seqs[b].length;
            }
            m.forward(toks, lens, null, B, T);
            float[] full = m.fullLogits();
            int V = cfg.vocabSize();

            int P = 9;
            int[] ptoks = new int[B * P];
            for (int b = 0; b < B; b++) System.arraycopy(seqs[b], 0, ptoks, b * P, promptLens[b]);
            m.prefill(ptoks, promptLens, B, P);
            double maxAbs = 0, maxErr = 0;
            for (int s = 0; s <= steps; s++) {
                float[] got = m.readLogits(B);
                for (int b = 0; b < B; b++) {
                    int pos = promptLens[b] - 1 + s;
                    for (int v = 0; v < V; v++) {
                        double want = full[(b * T + pos) * V + v];
                        maxAbs = Math.max(maxAbs, Math.abs(want));
                        maxErr = Math.max(maxErr, Math.abs(want - got[b * V + v]));
                    }
                }
                if (s == steps) break;
                int[] next = new int[B], pos = new int[B];
                for (int b = 0; b < B; b++) {
                    pos[b] = promptLens[b] + s;
                    next[b] = seqs[b][pos[b]];
                }
                m.decode(next, pos, B);
            }
            assertTrue(maxAbs > 0.5, "logits are not trivially small: " + maxAbs);
            assertTrue(maxErr <= 1e-5 * maxAbs + 1e-5, "decode vs full forward: max error " + maxErr + " (max |logit| " + maxAbs + ")");
        }
    }
}
