package io.pref4j.reward;

import io.pref4j.io.ModelFiles;
import io.pref4j.model.CausalLm;
import io.pref4j.UserInputException;
import io.pref4j.io.TokenizedPair;
import io.pref4j.kernel.Kernels;
import io.pref4j.model.GptConfig;
import io.pref4j.model.ParameterLayout;
import io.pref4j.train.AdamW;
import io.pref4j.train.Sequences;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Trains a Bradley–Terry reward model (SPEC §4): the policy's transformer with a scalar
 * head, the reward r(x, y) being the head's value at the end-of-text token of
 * {@code prompt + response + end-of-text} ({@link RewardHead#sequence}; an empty prompt is
 * the end-of-text id, as for the policy). The loss of a pair
 * is −log σ(r_w − r_l), averaged over a minibatch of pairs; AdamW with linear warm-up and
 * cosine decay ({@link AdamW#cosineLr}), global gradient-norm clipping; a held-out split
 * evaluated (loss, pair accuracy r_w &gt; r_l, mean margin) before training and after each
 * epoch. Everything random (split, shuffles, head initialisation) follows the seed; with the
 * same backend and thread count a run is reproducible.
 *
 * <p>Usage: {@link #fromBase} (or {@link #withHead}) builds the model, {@link #split} the
 * held-out set, {@link #train} runs, {@link #save} writes a Hugging Face folder with the
 * head that {@link LearnedReward} loads.
 */
public final class RewardModelTrainer {

    /**
     * Training settings.
     *
     * @param epochs        passes over the training pairs
     * @param batchPairs    pairs per step (2× sequences per forward)
     * @param lr            peak learning rate
     * @param weightDecay   AdamW weight decay on the matrices (head included)
     * @param warmupSteps   linear warm-up steps; −1 = 5% of all steps
     * @param minLrFraction the cosine decays to this fraction of lr
     * @param gradClip      global gradient-norm clip (≤ 0: none)
     * @param evalFraction  held-out fraction of the pairs in [0, 1) (used by {@link #split})
     * @param seed          seed for the split, the shuffles and the head
     * @param headInitStd   standard deviation of the new head's weights (bias 0)
     * @param logEvery      a progress line every this many steps (and at each epoch's end)
     */
    public record Options(int epochs, int batchPairs, float lr, float weightDecay, int warmupSteps,
                          float minLrFraction, double gradClip, double evalFraction, long seed,
                          double headInitStd, int logEvery) {
        public Options {
            if (epochs < 1) throw bad("epochs must be >= 1, got " + epochs);
            if (batchPairs < 1) throw bad("batch must be >= 1 pair, got " + batchPairs);
            if (!(lr > 0) || !Float.isFinite(lr)) throw bad("lr must be > 0, got " + lr);
            if (!(weightDecay >= 0) || !Float.isFinite(weightDecay)) throw bad("weight decay must be >= 0, got " + weightDecay);
            if (warmupSteps < -1) throw bad("warm-up steps must be >= 0 (or -1 for 5% of the steps), got " + warmupSteps);
            if (!(minLrFraction >= 0 && minLrFraction <= 1)) throw bad("min lr fraction must be in [0, 1], got " + minLrFraction);
            if (Double.isNaN(gradClip)) throw bad("gradient clip must be a number");
            if (!(evalFraction >= 0 && evalFraction < 1)) throw bad("eval fraction must be in [0, 1), got " + evalFraction);
            if (!(headInitStd >= 0) || !Double.isFinite(headInitStd)) throw bad("head init std must be >= 0, got " + headInitStd);
            if (logEvery < 1) throw bad("log interval must be >= 1, got " + logEvery);
        }

        private static UserInputException bad(String m) {
            return new UserInputException("reward-model training: " + m);
        }

        /** 1 epoch, 8 pairs, lr 1e-4, weight decay 0.01, 5% warm-up, cosine to 10%, clip 1, 10% held out, seed 1. */
        public static Options defaults() {
            return new Options(1, 8, 1e-4f, 0.01f, -1, 0.1f, 1.0, 0.1, 1, 0.02, 10);
        }

        public Options withEpochs(int v) {
            return new Options(v, batchPairs, lr, weightDecay, warmupSteps, minLrFraction, gradClip, evalFraction, seed, headInitStd, logEvery);
        }

        public Options withBatchPairs(int v) {
            return new Options(epochs, v, lr, weightDecay, warmupSteps, minLrFraction, gradClip, evalFraction, seed, headInitStd, logEvery);
        }

        public Options withLr(float v) {
            return new Options(epochs, batchPairs, v, weightDecay, warmupSteps, minLrFraction, gradClip, evalFraction, seed, headInitStd, logEvery);
        }

        public Options withWeightDecay(float v) {
            return new Options(epochs, batchPairs, lr, v, warmupSteps, minLrFraction, gradClip, evalFraction, seed, headInitStd, logEvery);
        }

        public Options withWarmupSteps(int v) {
            return new Options(epochs, batchPairs, lr, weightDecay, v, minLrFraction, gradClip, evalFraction, seed, headInitStd, logEvery);
        }

        public Options withGradClip(double v) {
            return new Options(epochs, batchPairs, lr, weightDecay, warmupSteps, minLrFraction, v, evalFraction, seed, headInitStd, logEvery);
        }

        public Options withEvalFraction(double v) {
            return new Options(epochs, batchPairs, lr, weightDecay, warmupSteps, minLrFraction, gradClip, v, seed, headInitStd, logEvery);
        }

        public Options withSeed(long v) {
            return new Options(epochs, batchPairs, lr, weightDecay, warmupSteps, minLrFraction, gradClip, evalFraction, v, headInitStd, logEvery);
        }

        public Options withLogEvery(int v) {
            return new Options(epochs, batchPairs, lr, weightDecay, warmupSteps, minLrFraction, gradClip, evalFraction, seed, headInitStd, v);
        }

        /** The settings as a JSON-friendly map (for a run's resolved config). */
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("epochs", epochs);
            m.put("batch_pairs", batchPairs);
            m.put("lr", (double) lr);
            m.put("weight_decay", (double) weightDecay);
            m.put("warmup_steps", warmupSteps);
            m.put("min_lr_fraction", (double) minLrFraction);
            m.put("grad_clip", gradClip);
            m.put("eval_fraction", evalFraction);
            m.put("seed", seed);
            m.put("head_init_std", headInitStd);
            return m;
        }
    }

    /** Pairs split into training and held-out parts. */
    public record Split(List<TokenizedPair> train, List<TokenizedPair> eval) {}

    /**
     * Held-out metrics.
     *
     * @param loss     mean −log σ(r_w − r_l)
     * @param accuracy fraction of pairs with r_w &gt; r_l
     * @param margin   mean r_w − r_l
     * @param pairs    number of pairs (0: the metrics are NaN)
     */
    public record Eval(double loss, double accuracy, double margin, int pairs) {}

    /**
     * The outcome of {@link #train}.
     *
     * @param steps    optimiser steps taken
     * @param evals    held-out metrics before training (index 0) and after each epoch
     * @param lastLoss the last step's training loss
     */
    public record Result(int steps, List<Eval> evals, double lastLoss) {
        /** The held-out metrics after the last epoch. */
        public Eval finalEval() {
            return evals.getLast();
        }
    }

    private final CausalLm model;
    private final Kernels k;
    private final int eosId;
    private final Options opt;
    private final AdamW adamw;
    private final Sequences.Packed packed;

    /**
     * A trainer for {@code model} (which must have the scalar head), appending
     * {@code eosId} to every sequence.
     */
    public RewardModelTrainer(CausalLm model, int eosId, Options options) {
        if (!model.hasHead()) throw new IllegalArgumentException("the reward model needs a CausalLm built with the scalar head");
        if (model.maxBatch() < 2) throw new IllegalArgumentException("the reward model needs maxBatch >= 2 (a pair per forward)");
        if (eosId < 0 || eosId >= model.config().vocabSize())
            throw new UserInputException("end-of-text id " + eosId + " is outside the model's vocabulary [0, " + model.config().vocabSize() + ")");
        this.model = model;
        this.k = model.kernels();
        this.eosId = eosId;
        this.opt = options;
        this.adamw = new AdamW(k, model.layout(), model.params(), model.grads(), options.weightDecay());
        this.packed = new Sequences.Packed(model.maxBatch(), model.maxT());
    }

    public CausalLm model() {
        return model;
    }

    public Options options() {
        return opt;
    }

    // ------------------------------------------------------------------ building the model

    /**
     * Loads the base GPT-2 folder ({@code dir}, or {@code dir/model} of a run folder) and
     * returns the same transformer with a scalar head, sized for batches of maxBatch
     * sequences of up to maxT tokens. See {@link #withHead}.
     */
    public static CausalLm fromBase(Kernels k, Path baseDir, int maxBatch, int maxT, long seed, double headInitStd) {
        Path dir = ModelFiles.resolveModelDir(baseDir);
        CausalLm base = ModelFiles.load(k, dir, 1, 1); // minimal activations: only its weights are used
        return withHead(base, maxBatch, maxT, seed, headInitStd);
    }

    /**
     * A new model with {@code base}'s weights and a scalar head. When {@code base} already
     * has a head (e.g. a reward model trained further), its head is kept; otherwise the
     * head's weights are N(0, headInitStd²) from the seed and its bias 0.
     */
    public static CausalLm withHead(CausalLm base, int maxBatch, int maxT, long seed, double headInitStd) {
        return base.withHead(maxBatch, maxT, seed, headInitStd);
    }

    /**
     * The longest prompt + response + end-of-text over the pairs, checking each against
     * {@code limit} (the model's positions) with a message naming the pair's line.
     */
    public static int longestSequence(List<TokenizedPair> pairs, int limit) {
        int max = 1;
        for (int i = 0; i < pairs.size(); i++) {
            TokenizedPair p = pairs.get(i);
            int n = Math.max(1, p.promptIds().length) + Math.max(p.chosenIds().length, p.rejectedIds().length) + 1;
            if (n > limit)
                throw new UserInputException(where(p, i) + ": prompt + response + end-of-text is " + n
                        + " tokens, longer than the model's " + limit + " positions");
            max = Math.max(max, n);
        }
        return max;
    }

    private static String where(TokenizedPair p, int i) {
        return p.source() != null ? p.source().where() : "pair " + i;
    }

    /**
     * Splits the pairs at random (seeded) into training pairs and ⌈fraction·n⌉-ish held-out
     * pairs: round(fraction·n), at least 1 when fraction &gt; 0. Leaves at least one
     * training pair.
     */
    public static Split split(List<TokenizedPair> pairs, double fraction, long seed) {
        int n = pairs.size();
        if (n == 0) throw new UserInputException("reward-model training: no preference pairs");
        if (!(fraction >= 0 && fraction < 1)) throw new UserInputException("reward-model training: eval fraction must be in [0, 1), got " + fraction);
        int nEval = fraction == 0 ? 0 : Math.max(1, (int) Math.round(fraction * n));
        if (nEval >= n)
            throw new UserInputException("reward-model training: eval fraction " + fraction + " of " + n
                    + " pairs leaves no training pairs");
        int[] perm = permutation(n, new SplittableRandom(seed ^ 0x5b11e7L));
        List<TokenizedPair> eval = new ArrayList<>(nEval), train = new ArrayList<>(n - nEval);
        for (int i = 0; i < n; i++) (i < nEval ? eval : train).add(pairs.get(perm[i]));
        return new Split(List.copyOf(train), List.copyOf(eval));
    }

    private static int[] permutation(int n, SplittableRandom rng) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        shuffle(p, rng);
        return p;
    }

    private static void shuffle(int[] p, SplittableRandom rng) {
        for (int i = p.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
    }

    // ------------------------------------------------------------------ training

    /** One step's training metrics. */
    record Stats(double loss, double accuracy, double margin) {}

    /**
     * Trains on {@code train}, evaluating {@code eval} (may be empty) before training and
     * after each epoch. {@code metrics} receives one map per step (step, epoch, loss,
     * accuracy, margin, lr, grad_norm, elapsed_s, and eval_* at the end of an epoch);
     * {@code progress} receives human-readable lines. Either may be null.
     *
     * @throws IllegalStateException if the loss or the gradient norm stops being finite
     */
    public Result train(List<TokenizedPair> train, List<TokenizedPair> eval,
                        Consumer<Map<String, Object>> metrics, Consumer<String> progress) {
        if (train.isEmpty()) throw new UserInputException("reward-model training: no training pairs");
        longestSequence(train, model.maxT());
        longestSequence(eval, model.maxT());
        Consumer<String> log = progress != null ? progress : s -> { };
        int P = Math.min(opt.batchPairs(), model.maxBatch() / 2);
        int perEpoch = (train.size() + P - 1) / P;
        int total = perEpoch * opt.epochs();
        int warmup = opt.warmupSteps() >= 0 ? opt.warmupSteps() : total / 20;
        log.accept(String.format(Locale.ROOT, "reward model: %d training pairs, %d held out; %d epochs of %d steps (%d pairs each), lr %.2e, warm-up %d",
                train.size(), eval.size(), opt.epochs(), perEpoch, P, opt.lr(), warmup));
        List<Eval> evals = new ArrayList<>();
        Eval before = evaluate(eval);
        evals.add(before);
        if (before.pairs() > 0)
            log.accept(String.format(Locale.ROOT, "epoch 0  eval loss %.4f  eval accuracy %.3f", before.loss(), before.accuracy()));
        SplittableRandom rng = new SplittableRandom(opt.seed());
        int[] order = new int[train.size()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        long start = System.nanoTime();
        int step = 0;
        double lastLoss = Double.NaN;
        for (int epoch = 1; epoch <= opt.epochs(); epoch++) {
            shuffle(order, rng);
            double epochLoss = 0, epochAcc = 0;
            int epochPairs = 0;
            for (int s = 0; s < perEpoch; s++, step++) {
                List<TokenizedPair> batch = new ArrayList<>(P);
                for (int i = s * P; i < Math.min(order.length, (s + 1) * P); i++) batch.add(train.get(order[i]));
                Stats st = lossAndGradient(batch);
                double norm = adamw.clipGradNorm(opt.gradClip());
                if (!Double.isFinite(st.loss()) || !Double.isFinite(norm))
                    throw new IllegalStateException(String.format(Locale.ROOT,
                            "reward-model training stopped at step %d (epoch %d): loss %s, gradient norm %s; lower the learning rate (now %.3g)",
                            step, epoch, st.loss(), norm, opt.lr()));
                float lr = AdamW.cosineLr(step, warmup, total, opt.lr(), opt.minLrFraction());
                adamw.step(lr);
                lastLoss = st.loss();
                epochLoss += st.loss() * batch.size();
                epochAcc += st.accuracy() * batch.size();
                epochPairs += batch.size();
                double secs = (System.nanoTime() - start) / 1e9;
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("step", step);
                m.put("epoch", epoch);
                m.put("loss", st.loss());
                m.put("accuracy", st.accuracy());
                m.put("margin", st.margin());
                m.put("lr", (double) lr);
                m.put("grad_norm", norm);
                m.put("elapsed_s", secs);
                boolean last = s == perEpoch - 1;
                if ((step + 1) % opt.logEvery() == 0 && !last)
                    log.accept(String.format(Locale.ROOT, "step %5d/%d  epoch %d  loss %.4f  accuracy %.3f  lr %.2e  %.1fs",
                            step + 1, total, epoch, st.loss(), st.accuracy(), lr, secs));
                if (last) {
                    Eval ev = evaluate(eval);
                    evals.add(ev);
                    if (ev.pairs() > 0) {
                        m.put("eval_loss", ev.loss());
                        m.put("eval_accuracy", ev.accuracy());
                        m.put("eval_margin", ev.margin());
                    }
                    log.accept(String.format(Locale.ROOT, "epoch %d/%d  step %d  train loss %.4f  train accuracy %.3f%s  %.1fs",
                            epoch, opt.epochs(), step + 1, epochLoss / epochPairs, epochAcc / epochPairs,
                            ev.pairs() > 0 ? String.format(Locale.ROOT, "  eval loss %.4f  eval accuracy %.3f", ev.loss(), ev.accuracy()) : "",
                            (System.nanoTime() - start) / 1e9));
                }
                if (metrics != null) metrics.accept(m);
            }
        }
        return new Result(step, List.copyOf(evals), lastLoss);
    }

    /**
     * Zeroes the gradients, runs the pairs forward and backward, and returns the mean
     * Bradley–Terry loss (gradients of that mean are left in the model's gradient buffer).
     * At most maxBatch/2 pairs.
     */
    Stats lossAndGradient(List<TokenizedPair> batch) {
        int P = batch.size();
        List<Sequences.Seq> seqs = sequences(batch);
        model.zeroGrad();
        double[] r = RewardHead.lastTokenValues(model, seqs, eosId, packed);
        int T = packed.T;
        float[] dhead = new float[2 * P * T];
        double loss = 0, acc = 0, margin = 0;
        for (int i = 0; i < P; i++) {
            double d = r[i] - r[P + i];
            loss += softplus(-d);
            if (d > 0) acc++;
            margin += d;
            // d/dd of softplus(−d) = −σ(−d)
            float g = (float) (sigmoid(-d) / P);
            dhead[i * T + packed.lengths[i] - 1] = -g;
            dhead[(P + i) * T + packed.lengths[P + i] - 1] = g;
        }
        model.backward(null, null, dhead);
        return new Stats(loss / P, acc / P, margin / P);
    }

    /** The mean loss of the pairs (at most maxBatch/2) without touching the gradients. */
    double loss(List<TokenizedPair> batch) {
        int P = batch.size();
        double[] r = RewardHead.lastTokenValues(model, sequences(batch), eosId, packed);
        double loss = 0;
        for (int i = 0; i < P; i++) loss += softplus(r[P + i] - r[i]);
        return loss / P;
    }

    /** chosen sequences of the pairs, then their rejected sequences. */
    private List<Sequences.Seq> sequences(List<TokenizedPair> batch) {
        List<Sequences.Seq> seqs = new ArrayList<>(2 * batch.size());
        for (TokenizedPair p : batch) seqs.add(RewardHead.sequence(p.promptIds(), p.chosenIds(), eosId));
        for (TokenizedPair p : batch) seqs.add(RewardHead.sequence(p.promptIds(), p.rejectedIds(), eosId));
        return seqs;
    }

    /** Held-out loss, pair accuracy and margin (NaN for no pairs). */
    public Eval evaluate(List<TokenizedPair> pairs) {
        if (pairs.isEmpty()) return new Eval(Double.NaN, Double.NaN, Double.NaN, 0);
        int P = model.maxBatch() / 2;
        double loss = 0, acc = 0, margin = 0;
        for (int start = 0; start < pairs.size(); start += P) {
            List<TokenizedPair> batch = pairs.subList(start, Math.min(pairs.size(), start + P));
            double[] r = RewardHead.lastTokenValues(model, sequences(batch), eosId, packed);
            int n = batch.size();
            for (int i = 0; i < n; i++) {
                double d = r[i] - r[n + i];
                loss += softplus(-d);
                if (d > 0) acc++;
                margin += d;
            }
        }
        int n = pairs.size();
        return new Eval(loss / n, acc / n, margin / n, n);
    }

    /** Rewards of prompt/response pairs of ids under the current weights. */
    public double[] rewards(List<int[]> prompts, List<int[]> responses) {
        int n = prompts.size();
        double[] out = new double[n];
        for (int start = 0; start < n; start += model.maxBatch()) {
            List<Sequences.Seq> seqs = new ArrayList<>();
            for (int i = start; i < Math.min(n, start + model.maxBatch()); i++)
                seqs.add(RewardHead.sequence(prompts.get(i), responses.get(i), eosId));
            double[] r = RewardHead.lastTokenValues(model, seqs, eosId, packed);
            System.arraycopy(r, 0, out, start, r.length);
        }
        return out;
    }

    /** Writes the model with its head as a Hugging Face folder of its family (see {@link LearnedReward}). */
    public void save(Path dir, String tokenizerName) throws IOException {
        ModelFiles.save(model, dir, tokenizerName);
    }

    static double softplus(double x) {
        return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
    }

    static double sigmoid(double x) {
        return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    }
}
