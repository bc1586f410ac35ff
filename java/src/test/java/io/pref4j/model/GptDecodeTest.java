package io.pref4j.model;

import io.pref4j.kernel.cpu.CpuKernels;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** KV-cache decoding gives the same logits as the full forward over the whole sequence. */
class GptDecodeTest {

    static void randomize(Gpt m, long seed, double std) {
        SplittableRandom r = new SplittableRandom(seed);
        for (ParameterLayout.Entry e : m.layout().entries()) {
            float[] v = new float[(int) e.size()];
            boolean lnWeight = e.name().endsWith("ln_1.weight") || e.name().endsWith("ln_2.weight") || e.name().endsWith("ln_f.weight");
            for (int i = 0; i < v.length; i++) v[i] = (float) ((lnWeight ? 1 : 0) + r.nextGaussian() * std);
            m.writeParam(e.name(), v);
        }
    }

    @Test
    void decodeMatchesFullForward() {
        GptConfig cfg = new GptConfig(24, 37, 2, 3, 24);
        int B = 3, maxT = 20, steps = 6;
        int[] promptLens = {5, 2, 9};
        try (CpuKernels k = new CpuKernels(2)) {
            Gpt m = new Gpt(k, cfg, B, maxT);
            randomize(m, 7, 0.25);
            SplittableRandom r = new SplittableRandom(3);
            int[][] seqs = new int[B][];
            for (int b = 0; b < B; b++) {
                seqs[b] = new int[promptLens[b] + steps];
                for (int t = 0; t < seqs[b].length; t++) seqs[b][t] = r.nextInt(cfg.vocabSize());
            }
            // full forward over every complete sequence, right-padded
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

            // prefill with the prompts, then feed the remaining tokens one by one
            int P = 9;
            int[] ptoks = new int[B * P];
            for (int b = 0; b < B; b++) System.arraycopy(seqs[b], 0, ptoks, b * P, promptLens[b]);
            m.prefill(ptoks, promptLens, B, P);
            double maxAbs = 0, maxErr = 0;
            for (int s = 0; s <= steps; s++) {
                float[] got = m.readLogits(B);
                for (int b = 0; b < B; b++) {
                    int pos = promptLens[b] - 1 + s; // the position whose next-token logits these are
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
