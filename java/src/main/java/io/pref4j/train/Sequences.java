package io.pref4j.train;

import io.pref4j.model.CausalLm;

import java.util.Arrays;
import java.util.List;

/**
 * Prompt + response sequences and their packing into the model's right-padded batches:
 * tokens = prompt (an empty prompt becomes the end-of-text id, GPT-2's start token) then
 * response; targets mark the response tokens only (a language model predicts token t+1
 * at position t), so the per-token log-probs summed over a row are
 * Σ log π(response | prompt).
 */
public final class Sequences {
    private Sequences() {}

    /** One sequence. response may end with the end-of-text id (it is then scored too). */
    public record Seq(int[] prompt, int[] response) {
        /** Tokens after packing (an empty prompt counts as one token). */
        public int length() {
            return Math.max(1, prompt.length) + response.length;
        }
    }

    /** Host arrays for one right-padded batch of B rows × T positions. */
    public static final class Packed {
        public final int[] tokens, lengths, targets;
        public int B, T;

        public Packed(int maxB, int maxT) {
            tokens = new int[maxB * maxT];
            lengths = new int[maxB];
            targets = new int[maxB * maxT];
        }

        /** Copies of the arrays trimmed to the current B·T (what the model's forward takes). */
        public int[] tokens() { return Arrays.copyOf(tokens, B * T); }
        public int[] lengths() { return Arrays.copyOf(lengths, B); }
        public int[] targets() { return Arrays.copyOf(targets, B * T); }
    }

    /** Longest packed length in the list. */
    public static int maxLength(List<Seq> seqs) {
        int t = 1;
        for (Seq s : seqs) t = Math.max(t, s.length());
        return t;
    }

    /**
     * Packs seqs (at most the packed buffers' rows) with T = the longest sequence; padding
     * positions hold token 0 and target −1.
     */
    public static Packed pack(List<Seq> seqs, int eosId, Packed into) {
        int B = seqs.size(), T = maxLength(seqs);
        if (B * T > into.tokens.length || B > into.lengths.length)
            throw new IllegalArgumentException("batch of " + B + " x " + T + " does not fit the packing buffers");
        into.B = B;
        into.T = T;
        Arrays.fill(into.tokens, 0, B * T, 0);
        Arrays.fill(into.targets, 0, B * T, -1);
        for (int b = 0; b < B; b++) {
            Seq s = seqs.get(b);
            int[] prompt = s.prompt().length == 0 ? new int[]{eosId} : s.prompt();
            int o = b * T;
            System.arraycopy(prompt, 0, into.tokens, o, prompt.length);
            System.arraycopy(s.response(), 0, into.tokens, o + prompt.length, s.response().length);
            into.lengths[b] = prompt.length + s.response().length;
            for (int t = prompt.length - 1; t < into.lengths[b] - 1; t++) into.targets[o + t] = into.tokens[o + t + 1];
        }
        return into;
    }

    /** Packs into fresh buffers. */
    public static Packed pack(List<Seq> seqs, int eosId) {
        return pack(seqs, eosId, new Packed(seqs.size(), maxLength(seqs)));
    }

    /**
     * Σ log π(response | prompt) of every sequence under the model, in forward passes of at
     * most model.maxBatch() rows (every sequence must fit the model's maxT).
     */
    public static double[] logp(CausalLm model, List<Seq> seqs, int eosId) {
        double[] out = new double[seqs.size()];
        int maxB = model.maxBatch();
        Packed p = new Packed(maxB, model.maxT());
        for (int start = 0; start < seqs.size(); start += maxB) {
            List<Seq> batch = seqs.subList(start, Math.min(seqs.size(), start + maxB));
            pack(batch, eosId, p);
            model.forward(p.tokens(), p.lengths(), p.targets(), p.B, p.T);
            float[] lp = model.tokenLogp();
            for (int b = 0; b < p.B; b++) {
                double s = 0;
                for (int t = 0; t < p.T; t++) if (p.targets[b * p.T + t] >= 0) s += lp[b * p.T + t];
                out[start + b] = s;
            }
        }
        return out;
    }
}
