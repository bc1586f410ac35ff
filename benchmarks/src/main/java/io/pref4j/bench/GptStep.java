package io.pref4j.bench;

import io.pref4j.kernel.Kernels;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;

/**
 * One training step's forward and backward of a small GPT-2 on the CPU backend, the
 * workload of SPEC §7's CPU side-by-side (tools/bench/torch_gpt_cpu.py runs the same one
 * in PyTorch). Loss = −mean log-prob of the next token over the B·(T−1) positions that
 * have one; random tokens, all sequences full length. The optimiser step is not included
 * (neither is it in the PyTorch script).
 */
final class GptStep implements AutoCloseable {

    /** The default workload: 4 layers, d 256, 4 heads, T 128, batch 8, GPT-2 vocabulary. */
    static final int LAYERS = 4, CHANNELS = 256, HEADS = 4, T = 128, BATCH = 8, VOCAB = 50257, MAX_SEQ = 1024;

    final Kernels k;
    final Gpt model;
    final int B, Tlen;
    final int[] tokens, lengths, targets;
    final float[] dlogp;
    final int count;

    GptStep(int threads, int vocab, int layers, int channels, int heads, int T, int B, long seed) {
        this.k = new CpuKernels(threads);
        this.B = B;
        this.Tlen = T;
        GptConfig cfg = new GptConfig(Math.max(MAX_SEQ, T), vocab, layers, heads, channels);
        this.model = new Gpt(k, cfg, B, T);
        model.initRandom(seed);
        tokens = Data.ints(seed + 1, B * T, vocab);
        lengths = Data.filled(B, T);
        targets = new int[B * T];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) targets[b * T + t] = t + 1 < T ? tokens[b * T + t + 1] : -1;
        }
        count = B * (T - 1);
        dlogp = new float[B * T];
        for (int i = 0; i < B * T; i++) dlogp[i] = targets[i] >= 0 ? -1f / count : 0f;
    }

    static GptStep defaults(int threads, int vocab) {
        return new GptStep(threads, vocab, LAYERS, CHANNELS, HEADS, T, BATCH, 1234);
    }

    /** zero_grad, forward, loss, backward; returns the loss. */
    double step() {
        model.zeroGrad();
        model.forward(tokens, lengths, targets, B, Tlen);
        float[] lp = model.tokenLogp();
        double s = 0;
        for (int i = 0; i < lp.length; i++) if (targets[i] >= 0) s += lp[i];
        model.backward(dlogp);
        k.synchronize();
        return -s / count;
    }

    int tokensPerStep() {
        return B * Tlen;
    }

    @Override
    public void close() {
        model.close();
        k.close();
    }
}
