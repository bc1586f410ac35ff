package io.pref4j.reward;

import io.pref4j.UserInputException;
import io.pref4j.io.HfCheckpoint;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;
import io.pref4j.text.Tokenizer;
import io.pref4j.text.Tokenizers;

import java.nio.file.Path;
import java.util.List;

/**
 * What the reward-model trainer and scorer share: the sequence a reward is read from
 * (prompt + response + end-of-text) and the batched forward that reads the scalar head at
 * each sequence's last real token.
 */
public final class RewardHead {
    private RewardHead() {
    }

    /** prompt ++ response ++ [eos]: the reward is the head's value at the end-of-text token. */
    public static int[] sequence(int[] prompt, int[] response, int eosId) {
        int[] s = new int[prompt.length + response.length + 1];
        System.arraycopy(prompt, 0, s, 0, prompt.length);
        System.arraycopy(response, 0, s, prompt.length, response.length);
        s[s.length - 1] = eosId;
        return s;
    }

    /**
     * One forward of up to {@code model.maxBatch()} sequences (right-padded to the longest)
     * and the head's value at each one's last token. The per-token head values stay in the
     * model's buffers for a backward.
     *
     * @param padded receives the padded length T (index 0) when not null
     */
    public static double[] lastTokenValues(Gpt model, List<int[]> sequences, int[] padded) {
        int B = sequences.size(), T = 1;
        for (int[] s : sequences) T = Math.max(T, s.length);
        int[] toks = new int[B * T], lens = new int[B];
        for (int b = 0; b < B; b++) {
            int[] s = sequences.get(b);
            System.arraycopy(s, 0, toks, b * T, s.length);
            lens[b] = s.length;
        }
        model.forward(toks, lens, null, B, T);
        float[] h = model.headValues();
        double[] r = new double[B];
        for (int b = 0; b < B; b++) r[b] = h[b * T + lens[b] - 1];
        if (padded != null) padded[0] = T;
        return r;
    }

    /**
     * The tokenizer for a model folder: {@code choice} when it is not {@code auto}, else the
     * one config.json records ({@code pref4j_tokenizer}), else by vocabulary size (50257 =
     * gpt2, 258 = byte). Checks that the tokenizer's ids fit the model's vocabulary.
     */
    public static Tokenizer tokenizerFor(Path dir, GptConfig cfg, String choice) {
        Tokenizer tok;
        if (choice != null && !choice.equalsIgnoreCase("auto")) {
            tok = Tokenizers.byName(choice);
        } else {
            String named = HfCheckpoint.tokenizerName(dir);
            if (named != null) tok = Tokenizers.byName(named);
            else if (cfg.vocabSize() == 50257) tok = Tokenizers.byName("gpt2");
            else if (cfg.vocabSize() == 258) tok = Tokenizers.byName("byte");
            else throw new UserInputException(dir.resolve(HfCheckpoint.CONFIG) + ": cannot tell the tokenizer from vocab_size "
                        + cfg.vocabSize() + "; pass --tokenizer byte or gpt2");
        }
        if (tok.vocabSize() > cfg.vocabSize())
            throw new UserInputException(dir.resolve(HfCheckpoint.CONFIG) + ": vocab_size " + cfg.vocabSize()
                    + " is smaller than the " + tok.name() + " tokenizer's " + tok.vocabSize());
        return tok;
    }
}
