package io.pref4j.reward;

import io.pref4j.io.ModelFiles;
import io.pref4j.model.CausalLm;
import io.pref4j.UserInputException;
import io.pref4j.io.HfCheckpoint;
import io.pref4j.kernel.Kernels;
import io.pref4j.model.ModelConfig;
import io.pref4j.text.Tokenizer;
import io.pref4j.train.Sequences;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A learned Bradley–Terry reward model as a {@link RewardSource}: a Hugging Face GPT-2
 * folder with pref4j's scalar head ({@code head.weight}, {@code head.bias}), as
 * {@link RewardModelTrainer} and {@code pref4j train-rm} write it. The reward of a
 * completion is the head's value at the last token of prompt + response + end-of-text.
 *
 * <p>Scoring runs batched forwards of up to {@link #maxBatch()} sequences, each padded to
 * the longest in its batch. A completion's ids are used when present (they must come from
 * the reward model's tokenizer, which {@link RewardSources#create} checks); a completion
 * with text only is tokenized with {@link #tokenizer()}. A sequence longer than the model's
 * positions keeps its last tokens (the end of the response, where the reward is read),
 * dropping the start of the prompt.
 */
public final class LearnedReward implements RewardSource {

    private final CausalLm model;
    private final Tokenizer tokenizer;
    private final Path dir;
    private final Sequences.Packed packed;

    private LearnedReward(CausalLm model, Tokenizer tokenizer, Path dir) {
        this.model = model;
        this.packed = new Sequences.Packed(model.maxBatch(), model.maxT());
        this.tokenizer = tokenizer;
        this.dir = dir;
    }

    /**
     * Loads a reward-model folder ({@code dir}, or {@code dir/model} of a run folder) on
     * the given backend.
     *
     * @param tokenizerChoice {@code auto} (the tokenizer config.json records, else by
     *                        vocabulary size), {@code byte} or {@code gpt2}
     * @param maxTokens       activation budget: maxBatch = max(1, maxTokens / n_positions),
     *                        at most 64
     */
    public static LearnedReward load(Kernels k, Path dir, String tokenizerChoice, int maxTokens) {
        Path d = ModelFiles.resolveModelDir(dir);
        ModelConfig cfg = ModelFiles.readConfig(d);
        Tokenizer tok = ModelFiles.tokenizerFor(d, cfg, tokenizerChoice);
        if (!ModelFiles.hasHead(d))
            throw new UserInputException(d.resolve(HfCheckpoint.WEIGHTS) + ": no " + "head.weight"
                    + " tensor, so it is not a reward model (train one with: pref4j train-rm)");
        int maxB = Math.max(1, Math.min(64, maxTokens / cfg.maxSeqLen()));
        return new LearnedReward(ModelFiles.load(k, d, maxB, cfg.maxSeqLen()), tok, d);
    }

    /** {@link #load(Kernels, Path, String, int)} with the tokenizer chosen automatically and 8192 tokens per forward. */
    public static LearnedReward load(Kernels k, Path dir) {
        return load(k, dir, "auto", 8192);
    }

    @Override
    public String name() {
        return "learned(" + dir + ")";
    }

    /** The reward model's tokenizer. */
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** The model (with its head). */
    public CausalLm model() {
        return model;
    }

    /** Sequences per forward. */
    public int maxBatch() {
        return model.maxBatch();
    }

    @Override
    public double[] score(List<Completion> batch) {
        int n = batch.size(), maxT = model.maxT();
        double[] out = new double[n];
        for (int start = 0; start < n; start += model.maxBatch()) {
            int end = Math.min(n, start + model.maxBatch());
            List<Sequences.Seq> seqs = new ArrayList<>(end - start);
            for (int i = start; i < end; i++) seqs.add(RewardHead.keepLast(sequenceOf(batch.get(i), i), maxT, tokenizer.eosId()));
            double[] r = RewardHead.lastTokenValues(model, seqs, tokenizer.eosId(), packed);
            System.arraycopy(r, 0, out, start, r.length);
        }
        return out;
    }

    private Sequences.Seq sequenceOf(Completion c, int index) {
        int[] p = c.promptIds(), r = c.responseIds();
        if (p == null) {
            if (c.prompt() == null) throw new IllegalArgumentException("completion " + index + " has neither prompt ids nor prompt text");
            p = tokenizer.encode(c.prompt());
        }
        if (r == null) {
            if (c.response() == null) throw new IllegalArgumentException("completion " + index + " has neither response ids nor response text");
            r = tokenizer.encode(c.response());
        }
        return RewardHead.sequence(p, r, tokenizer.eosId());
    }
}
