package io.pref4j.reward;

import io.pref4j.model.CausalLm;
import io.pref4j.UserInputException;
import io.pref4j.model.GptConfig;
import io.pref4j.text.Tokenizer;
import io.pref4j.text.Tokenizers;
import io.pref4j.train.Sequences;

import java.nio.file.Path;
import java.util.List;

/**
 * What the reward-model trainer and scorer share: the sequence a reward is read from
 * (prompt + response + end-of-text), the batched forward that reads the scalar head at each
 * sequence's last real token, and the choice of tokenizer for a model folder.
 */
public final class RewardHead {
    private RewardHead() {
    }

    /**
     * The sequence a reward is read from: prompt, response, end-of-text (an empty prompt
     * becomes the end-of-text id, as {@link Sequences#pack} does for the policy). The reward
     * is the head's value at the final end-of-text token.
     */
    public static Sequences.Seq sequence(int[] prompt, int[] response, int eosId) {
        int[] r = java.util.Arrays.copyOf(response, response.length + 1);
        r[response.length] = eosId;
        return new Sequences.Seq(prompt, r);
    }

    /**
     * {@code s} shortened to its last {@code maxT} tokens when it is longer (the reward is
     * read at the end, so the start of the prompt is what goes).
     */
    public static Sequences.Seq keepLast(Sequences.Seq s, int maxT, int eosId) {
        if (s.length() <= maxT) return s;
        int[] prompt = s.prompt().length == 0 ? new int[]{eosId} : s.prompt();
        int[] all = new int[prompt.length + s.response().length];
        System.arraycopy(prompt, 0, all, 0, prompt.length);
        System.arraycopy(s.response(), 0, all, prompt.length, s.response().length);
        int from = all.length - maxT;
        return new Sequences.Seq(new int[]{all[from]}, java.util.Arrays.copyOfRange(all, from + 1, all.length));
    }

    /**
     * One forward of up to {@code model.maxBatch()} sequences, packed by
     * {@link Sequences#pack} (right-padded to the longest), and the head's value at each
     * one's last token. The per-token head values stay in the model's buffers for a
     * backward; {@code packed} (when not null) receives the packing, whose lengths and T
     * place a gradient at those tokens.
     */
    public static double[] lastTokenValues(CausalLm model, List<Sequences.Seq> sequences, int eosId, Sequences.Packed packed) {
        Sequences.Packed p = packed != null ? packed : new Sequences.Packed(sequences.size(), Sequences.maxLength(sequences));
        Sequences.pack(sequences, eosId, p);
        model.forward(p.tokens(), p.lengths(), null, p.B, p.T);
        float[] h = model.headValues();
        double[] r = new double[p.B];
        for (int b = 0; b < p.B; b++) r[b] = h[b * p.T + p.lengths[b] - 1];
        return r;
    }

}
