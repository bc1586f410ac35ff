package io.pref4j.experiment.bandit;

import io.pref4j.kernel.CounterRng;
import io.pref4j.kernel.Kernels;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;
import io.pref4j.sample.Generator;
import io.pref4j.train.AdamW;

import java.util.SplittableRandom;

/**
 * The sequence bandit of SPEC §6.2 for one seed: a 3-layer, 3-head, 48-dim GPT over a
 * 100-token vocabulary; the prompt is one random token and the response 9 sampled tokens
 * (no end-of-sequence); the reward is R1 or R2 averaged over the 9 response tokens; π_ref
 * gives every response token the {@link RefPolicy} histogram regardless of the prefix, so
 * ref(y) = Σ_t log π_ref(y_t). The policy's log-prob of y is Σ_t log π(y_t | x, y_&lt;t),
 * read at positions 0..8 of the row [x, y_1..y_9] (position t predicts token t+1).
 *
 * <p>Initialisation: 100 Adam steps (lr 0.01) on the per-position KL(π(·|prefix)‖π_ref),
 * averaged over the 9 response positions of a batch of prefixes drawn fresh each step (a
 * random prompt token and 9 tokens from π_ref). The KL is exact: each prefix is repeated
 * once per vocabulary entry v with target v at every position, which gives the model's whole
 * next-token distribution through the fused log-prob gather, and the per-token upstream
 * gradient π(v)(log π(v) − log π_ref(v)) then yields exactly ∂KL/∂logits. Every run of the
 * seed starts from that policy; evaluation is the mean reward of samples (temperature 1) on
 * held-out prompts.
 */
public final class SequenceBandit {
    public static final int V = 100, GEN = 9, T = GEN + 1;
    public static final GptConfig CONFIG = new GptConfig(T, V, 3, 3, 48);

    /**
     * Sizes of the shared part: evalPrompts held-out prompts × evalSamples samples each,
     * klPrefixes prefixes per KL step (each repeated V times), klSteps, klLr.
     */
    public record Setup(int evalPrompts, int evalSamples, int klPrefixes, int klSteps, float klLr, int maxBatch) {
        public static Setup standard(int maxTrainSequences) {
            return new Setup(100, 4, 4, 100, 0.01f, Math.max(400, maxTrainSequences));
        }
    }

    private final Kernels k;
    private final long seed;
    private final Setup setup;
    private final RefPolicy ref;
    private final double[] logq;
    private final Gpt init, policy;
    private final Generator generator;
    private final int[] trainPrompts, evalPrompts;
    private final double klBefore, klAfter;

    public SequenceBandit(Kernels k, long seed, Setup setup, int maxTrainStates) {
        this.k = k;
        this.seed = seed;
        this.setup = setup;
        this.ref = RefPolicy.histogram(seed);
        this.logq = ref.logProbs();
        SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + 29);
        trainPrompts = new int[maxTrainStates];
        for (int i = 0; i < maxTrainStates; i++) trainPrompts[i] = rng.nextInt(V);
        evalPrompts = new int[setup.evalPrompts()];
        for (int i = 0; i < evalPrompts.length; i++) evalPrompts[i] = rng.nextInt(V);
        int maxB = Math.max(setup.maxBatch(), Math.max(setup.klPrefixes() * V, setup.evalPrompts() * setup.evalSamples()));
        init = new Gpt(k, CONFIG, maxB, T);
        init.initRandom(seed);
        SplittableRandom klRng = new SplittableRandom(seed ^ 0x5EEDL);
        klBefore = kl(init, prefixes(klRng, setup.klPrefixes()), setup.klPrefixes(), false);
        AdamW opt = new AdamW(k, init.layout(), init.params(), init.grads(), 0.9f, 0.999f, 1e-8f, 0f);
        for (int s = 0; s < setup.klSteps(); s++) {
            int P = setup.klPrefixes();
            kl(init, prefixes(klRng, P), P, true);
            opt.step(setup.klLr());
        }
        klAfter = kl(init, prefixes(klRng, setup.klPrefixes()), setup.klPrefixes(), false);
        policy = new Gpt(k, CONFIG, maxB, T);
        generator = new Generator(policy);
    }

    public RefPolicy ref() {
        return ref;
    }

    public double klBeforeInit() {
        return klBefore;
    }

    public double klAfterInit() {
        return klAfter;
    }

    /** P prefixes [prompt, 9 tokens from π_ref], row-major [P, T]. */
    private int[] prefixes(SplittableRandom rng, int P) {
        int[] t = new int[P * T];
        for (int p = 0; p < P; p++) {
            t[p * T] = rng.nextInt(V);
            for (int j = 1; j < T; j++) t[p * T + j] = ref.sample(rng);
        }
        return t;
    }

    /**
     * The mean over prefixes and the 9 response positions of KL(π(·|prefix)‖π_ref); with
     * grad, also zeroes the gradients and accumulates the gradient of that mean.
     */
    private double kl(Gpt m, int[] prefixes, int P, boolean grad) {
        if (P * V > m.maxBatch()) throw new IllegalArgumentException("KL batch too large");
        int B = P * V;
        int[] toks = new int[B * T], lens = new int[B], targets = new int[B * T];
        for (int p = 0; p < P; p++) {
            for (int v = 0; v < V; v++) {
                int row = p * V + v;
                System.arraycopy(prefixes, p * T, toks, row * T, T);
                lens[row] = T;
                for (int t = 0; t < T; t++) targets[row * T + t] = t < GEN ? v : -1;
            }
        }
        m.forward(toks, lens, targets, B, T);
        float[] lp = m.tokenLogp();
        float[] d = grad ? new float[B * T] : null;
        double total = 0, norm = (double) P * GEN;
        for (int p = 0; p < P; p++) {
            for (int t = 0; t < GEN; t++) {
                for (int v = 0; v < V; v++) {
                    int i = (p * V + v) * T + t;
                    double w = Math.exp(lp[i]) * (lp[i] - logq[v]);
                    total += w;
                    if (grad) d[i] = (float) (w / norm);
                }
            }
        }
        if (grad) {
            m.zeroGrad();
            m.backward(d);
        }
        return total / norm;
    }

    // ---------------------------------------------------------------- evaluation

    /** {mean reward, mean Σ_t (log π − log π_ref) of the samples} on the held-out prompts. */
    private double[] evaluate(Reward reward, long evalSeed) {
        int E = setup.evalPrompts(), n = setup.evalSamples();
        int[][] prompts = new int[E * n][];
        for (int i = 0; i < E * n; i++) prompts[i] = new int[]{evalPrompts[i / n]};
        double r = 0, kl = 0;
        int B = policy.maxBatch();
        for (int off = 0; off < prompts.length; off += B) {
            int[][] chunk = java.util.Arrays.copyOfRange(prompts, off, Math.min(prompts.length, off + B));
            Generator.Sample[] s = generator.generate(chunk, options(CounterRng.rowSeed(evalSeed, off)));
            for (Generator.Sample x : s) {
                r += reward.ofSequence(x.tokens());
                for (int t = 0; t < x.tokens().length; t++) kl += x.logps()[t] - logq[x.tokens()[t]];
            }
        }
        return new double[]{r / prompts.length, kl / prompts.length};
    }

    private static Generator.Options options(long seed) {
        return new Generator.Options(GEN, 1f, 0, 1f, -1, seed);
    }

    /** The initial policy's mean reward on the held-out prompts. */
    public double initialReward(Reward reward) {
        k.copy(policy.params(), init.params(), init.layout().size() * 4);
        return evaluate(reward, seed ^ 0xE7A1L)[0];
    }

    // ---------------------------------------------------------------- training

    /** Prompts per minibatch of an offline run (the on-policy runs' 10 train prompts). */
    public static final int OFFLINE_MINIBATCH_PROMPTS = 10;

    /**
     * Trains one setting from the initial policy. On-policy: as {@link BanditMethod} says.
     * Offline: a dataset of states prompts × n responses from π_ref, scored once, then
     * stepsPerRound Adam steps, each on a random minibatch of {@link #OFFLINE_MINIBATCH_PROMPTS}
     * prompts with all their responses (so a step costs what an on-policy step costs).
     * evalEvery: evaluate after every that many rounds (offline: steps) and at the end.
     */
    public RunResult run(BanditMethod m, Reward reward, int evalEvery) {
        if (m.states() > trainPrompts.length)
            throw new IllegalArgumentException(m.name() + ": " + m.states() + " prompts exceed the pool of " + trainPrompts.length);
        long start = System.nanoTime();
        k.copy(policy.params(), init.params(), init.layout().size() * 4);
        AdamW opt = new AdamW(k, policy.layout(), policy.params(), policy.grads(), 0.9f, 0.999f, 1e-8f, 0f);
        int groupsPerState = m.reuse(), perState = m.n() * groupsPerState;
        int batchStates = m.online() ? m.states() : Math.min(m.states(), OFFLINE_MINIBATCH_PROMPTS);
        int samples = batchStates * perState;
        if (samples > policy.maxBatch())
            throw new IllegalArgumentException(m.name() + ": " + samples + " sequences per batch exceed " + policy.maxBatch());
        boolean pairwise = m.loss().type().equals("dpo") || m.loss().type().equals("ipo");
        BanditLoss loss = new BanditLoss(k, m.loss(), m.pairThreshold(), samples,
                pairwise ? batchStates * groupsPerState * m.n() * (m.n() - 1) / 2 : 1);
        long runSeed = CategoricalBandit.mix(seed, m.name(), reward);
        SplittableRandom rng = new SplittableRandom(runSeed);
        long evalSeed = seed ^ 0xE7A1L;
        java.util.List<Long> qs = new java.util.ArrayList<>();
        java.util.List<Double> curve = new java.util.ArrayList<>();
        qs.add(0L);
        curve.add(evaluate(reward, evalSeed)[0]);
        Batch batch = new Batch(samples);
        double[] fin = null;
        if (m.online()) {
            long q = 0;
            for (int round = 0; round < m.rounds(); round++) {
                int[][] prompts = new int[samples][];
                for (int i = 0; i < samples; i++) prompts[i] = new int[]{trainPrompts[i / perState]};
                Generator.Sample[] gen = generator.generate(prompts, options(CounterRng.rowSeed(runSeed, round)));
                for (int i = 0; i < samples; i++) {
                    batch.set(i, prompts[i][0], gen[i].tokens(), (i / perState) * groupsPerState + (i % perState) / m.n(), reward);
                }
                q += samples;
                loss.setBatch(batch.group, batch.r, batch.refLp, batch.length, batchStates * groupsPerState);
                for (int step = 0; step < m.stepsPerRound() && loss.hasSignal(); step++) step(batch, samples, loss, opt, m.lr());
                if ((round + 1) % evalEvery == 0 || round == m.rounds() - 1) {
                    fin = evaluate(reward, evalSeed);
                    qs.add(q);
                    curve.add(fin[0]);
                }
            }
        } else {
            // the dataset: states prompts × perState responses from π_ref
            int D = m.states();
            int[][] data = new int[D * perState][];
            for (int i = 0; i < data.length; i++) {
                data[i] = new int[GEN];
                for (int t = 0; t < GEN; t++) data[i][t] = ref.sample(rng);
            }
            long q = (long) D * perState;
            int[] order = new int[D];
            for (int i = 0; i < D; i++) order[i] = i;
            for (int step = 0; step < m.stepsPerRound(); step++) {
                // a random minibatch of prompts without replacement
                for (int i = 0; i < batchStates; i++) {
                    int j = i + rng.nextInt(D - i);
                    int tmp = order[i];
                    order[i] = order[j];
                    order[j] = tmp;
                }
                for (int b = 0; b < batchStates; b++) {
                    int p = order[b];
                    for (int j = 0; j < perState; j++) {
                        int i = b * perState + j;
                        batch.set(i, trainPrompts[p], data[p * perState + j], b * groupsPerState + j / m.n(), reward);
                    }
                }
                loss.setBatch(batch.group, batch.r, batch.refLp, batch.length, batchStates * groupsPerState);
                if (loss.hasSignal()) step(batch, samples, loss, opt, m.lr());
                if ((step + 1) % evalEvery == 0 || step == m.stepsPerRound() - 1) {
                    fin = evaluate(reward, evalSeed);
                    qs.add(q);
                    curve.add(fin[0]);
                }
            }
        }
        long[] qa = qs.stream().mapToLong(Long::longValue).toArray();
        double[] ca = curve.stream().mapToDouble(Double::doubleValue).toArray();
        return new RunResult(m, reward, seed, qa, ca, fin[0], fin[1], (System.nanoTime() - start) / 1e9);
    }

    /** One Adam step on the batch: forward, per-sequence log-prob sums, the loss, backward. */
    private void step(Batch b, int samples, BanditLoss loss, AdamW opt, float lr) {
        policy.forward(b.toks, b.lens, b.targets, samples, T);
        float[] lp = policy.tokenLogp();
        double[] logp = new double[samples];
        for (int i = 0; i < samples; i++) {
            double s = 0;
            for (int t = 0; t < GEN; t++) s += lp[i * T + t];
            logp[i] = s;
        }
        double[] d = loss.gradient(logp);
        float[] dTok = new float[samples * T];
        for (int i = 0; i < samples; i++)
            for (int t = 0; t < GEN; t++) dTok[i * T + t] = (float) d[i];
        policy.zeroGrad();
        policy.backward(dTok);
        opt.step(lr);
    }

    /** Rows [prompt, y_1..y_9] with targets y at positions 0..8, rewards and reference log-probs. */
    private final class Batch {
        final int[] toks, lens, targets, group, length;
        final double[] r, refLp;

        Batch(int samples) {
            toks = new int[samples * T];
            lens = new int[samples];
            targets = new int[samples * T];
            group = new int[samples];
            length = new int[samples];
            r = new double[samples];
            refLp = new double[samples];
            java.util.Arrays.fill(lens, T);
            java.util.Arrays.fill(length, GEN);
        }

        void set(int i, int prompt, int[] y, int g, Reward reward) {
            if (y.length != GEN) throw new IllegalStateException("response of " + y.length + " tokens, expected " + GEN);
            toks[i * T] = prompt;
            System.arraycopy(y, 0, toks, i * T + 1, GEN);
            for (int t = 0; t < T; t++) targets[i * T + t] = t < GEN ? y[t] : -1;
            group[i] = g;
            r[i] = reward.ofSequence(y);
            double rl = 0;
            for (int t = 0; t < GEN; t++) rl += logq[y[t]];
            refLp[i] = rl;
        }
    }
}
