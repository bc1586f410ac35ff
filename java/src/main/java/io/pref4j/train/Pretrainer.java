package io.pref4j.train;

import io.pref4j.model.CausalLm;
import io.pref4j.text.Tokenizer;

import java.util.Arrays;
import java.util.List;

/**
 * Next-token pretraining of a GPT on whole documents: each row of a batch is one document
 * followed by the end-of-text id (cut at the model's maxT), the loss is the mean negative
 * log-likelihood over every predicted token, AdamW with warm-up, cosine decay and gradient
 * clipping. Documents are taken in order, cycling. Used by the demo and the length tasks'
 * reference policy.
 */
public final class Pretrainer {
    private Pretrainer() {}

    /** Settings; weight decay applies to the matrices only. */
    public record Options(int steps, int batch, float lr, int warmup, float minLrFraction, float weightDecay, double clip) {
        public Options {
            if (steps < 1 || batch < 1) throw new IllegalArgumentException("steps and batch must be >= 1");
        }
    }

    /** Called after every step. */
    @FunctionalInterface
    public interface StepListener {
        void step(int step, double loss, float lr, double gradNorm, int tokens);
    }

    /**
     * Trains model (already initialised, maxBatch ≥ o.batch()) on docs; a non-finite loss
     * stops with an IllegalStateException naming the step.
     */
    public static void train(CausalLm model, Tokenizer tok, List<String> docs, Options o, StepListener listener) {
        int B = o.batch(), T = model.maxT();
        if (B > model.maxBatch()) throw new IllegalArgumentException("batch " + B + " exceeds the model's " + model.maxBatch());
        AdamW opt = new AdamW(model.kernels(), model.layout(), model.params(), model.grads(), o.weightDecay());
        int[] toks = new int[B * T], lens = new int[B], targets = new int[B * T];
        float[] dlogp = new float[B * T];
        int cursor = 0;
        for (int step = 0; step < o.steps(); step++) {
            Arrays.fill(toks, 0);
            Arrays.fill(targets, -1);
            Arrays.fill(dlogp, 0f);
            int count = 0;
            for (int b = 0; b < B; b++) {
                int[] ids = tok.encode(docs.get(cursor++ % docs.size()));
                int n = Math.min(ids.length + 1, T);
                System.arraycopy(ids, 0, toks, b * T, n - 1);
                toks[b * T + n - 1] = tok.eosId();
                lens[b] = n;
                for (int t = 0; t < n - 1; t++) {
                    targets[b * T + t] = toks[b * T + t + 1];
                    count++;
                }
            }
            model.forward(toks, lens, targets, B, T);
            float[] lp = model.tokenLogp();
            double sum = 0;
            for (int i = 0; i < lp.length; i++) if (targets[i] >= 0) sum += lp[i];
            double loss = -sum / count;
            if (!Double.isFinite(loss)) throw new IllegalStateException("pretraining loss became " + loss + " at step " + step);
            for (int i = 0; i < dlogp.length; i++) if (targets[i] >= 0) dlogp[i] = (float) (-1.0 / count);
            model.zeroGrad();
            model.backward(dlogp);
            double norm = opt.clipGradNorm(o.clip());
            float rate = AdamW.cosineLr(step, o.warmup(), o.steps(), o.lr(), o.minLrFraction());
            opt.step(rate);
            listener.step(step, loss, rate, norm, count);
        }
    }
}
