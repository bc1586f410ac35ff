package io.pref4j.experiment.bandit;

import io.pref4j.kernel.Kernels;

import java.util.SplittableRandom;

/**
 * The categorical bandit of SPEC §6.1 for one seed: 100 actions, contexts x ∈ [0, 1)^100
 * uniform, π_ref the histogram of {@link RefPolicy}, the {@link MlpPolicy} started from 100
 * full-batch Adam steps (lr 0.01) of KL(π‖π_ref) on a batch of random contexts. Every run of
 * this seed starts from that same initial policy and uses the same train and held-out states
 * (the first {@code states} of a pool). Evaluation is the mean over the held-out states of
 * the exact expected reward Σ_a π(a|x) R(a) (the expectation of the mean reward of samples,
 * without the sampling noise).
 */
public final class CategoricalBandit {
    public static final int A = MlpPolicy.OUT, D = MlpPolicy.IN;

    /** Sizes of the shared part of the experiment. */
    public record Setup(int maxTrainStates, int evalStates, int klStates, int klSteps, float klLr) {
        public static Setup standard(int maxTrainStates) {
            return new Setup(maxTrainStates, 100, 100, 100, 0.01f);
        }
    }

    private final Kernels k;
    private final long seed;
    private final Setup setup;
    private final RefPolicy ref;
    private final float[] trainContexts, evalContexts;
    private final MlpPolicy init, policy;
    private final double klBefore, klAfter;

    public CategoricalBandit(Kernels k, long seed, Setup setup) {
        this.k = k;
        this.seed = seed;
        this.setup = setup;
        this.ref = RefPolicy.histogram(seed);
        SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + 17);
        trainContexts = uniform(rng, setup.maxTrainStates() * D);
        evalContexts = uniform(rng, setup.evalStates() * D);
        float[] klContexts = uniform(rng, setup.klStates() * D);
        int rows = Math.max(setup.maxTrainStates(), Math.max(setup.evalStates(), setup.klStates()));
        init = new MlpPolicy(k, rows, seed);
        klBefore = meanKl(init, ref, klContexts, setup.klStates());
        klInit(init, ref, klContexts, setup.klStates(), setup.klSteps(), setup.klLr());
        klAfter = meanKl(init, ref, klContexts, setup.klStates());
        policy = new MlpPolicy(k, rows, seed);
    }

    private static float[] uniform(SplittableRandom rng, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rng.nextDouble();
        return x;
    }

    public RefPolicy ref() {
        return ref;
    }

    /** Mean KL(π‖π_ref) over the KL batch before and after the initialisation. */
    public double klBeforeInit() {
        return klBefore;
    }

    public double klAfterInit() {
        return klAfter;
    }

    /** The initial policy (after the KL initialisation). */
    public MlpPolicy initialPolicy() {
        return init;
    }

    // ---------------------------------------------------------------- KL initialisation

    /** Mean over rows of KL(π(·|x)‖π_ref). */
    public static double meanKl(MlpPolicy p, RefPolicy ref, float[] contexts, int rows) {
        double[] logq = ref.logProbs();
        float[] z = p.forward(contexts, rows);
        double s = 0;
        double[] lp = new double[A];
        for (int r = 0; r < rows; r++) {
            logSoftmax(z, r, lp);
            for (int a = 0; a < A; a++) s += Math.exp(lp[a]) * (lp[a] - logq[a]);
        }
        return s / rows;
    }

    /**
     * steps full-batch Adam steps (learning rate lr) on the mean over the contexts of
     * KL(π(·|x)‖π_ref), whose gradient in the logits is π_j (log π_j − log q_j − KL).
     */
    public static void klInit(MlpPolicy p, RefPolicy ref, float[] contexts, int rows, int steps, float lr) {
        double[] logq = ref.logProbs();
        double[] lp = new double[A];
        float[] dz = new float[rows * A];
        for (int s = 0; s < steps; s++) {
            float[] z = p.forward(contexts, rows);
            for (int r = 0; r < rows; r++) {
                logSoftmax(z, r, lp);
                double kl = 0;
                for (int a = 0; a < A; a++) kl += Math.exp(lp[a]) * (lp[a] - logq[a]);
                for (int a = 0; a < A; a++) dz[r * A + a] = (float) (Math.exp(lp[a]) * (lp[a] - logq[a] - kl) / rows);
            }
            p.zeroGrad();
            p.backward(dz);
            p.adamStep(lr);
        }
    }

    /** out = log softmax of row r of z[rows, A]. */
    static void logSoftmax(float[] z, int r, double[] out) {
        double max = Double.NEGATIVE_INFINITY;
        for (int a = 0; a < A; a++) max = Math.max(max, z[r * A + a]);
        double sum = 0;
        for (int a = 0; a < A; a++) sum += Math.exp(z[r * A + a] - max);
        double lse = max + Math.log(sum);
        for (int a = 0; a < A; a++) out[a] = z[r * A + a] - lse;
    }

    // ---------------------------------------------------------------- evaluation

    /** Mean over the held-out states of E_{a~π(·|x)} R(a), and the mean KL(π‖π_ref). */
    double[] evaluate(MlpPolicy p, Reward reward) {
        int rows = setup.evalStates();
        double[] logq = ref.logProbs();
        float[] z = p.forward(evalContexts, rows);
        double[] lp = new double[A];
        double r = 0, kl = 0;
        for (int s = 0; s < rows; s++) {
            logSoftmax(z, s, lp);
            for (int a = 0; a < A; a++) {
                double pa = Math.exp(lp[a]);
                r += pa * reward.of(a);
                kl += pa * (lp[a] - logq[a]);
            }
        }
        return new double[]{r / rows, kl / rows};
    }

    /** The reward the initial policy scores on the held-out states. */
    public double initialReward(Reward reward) {
        return evaluate(init, reward)[0];
    }

    // ---------------------------------------------------------------- training

    /** Trains one setting from the initial policy and returns its curve. */
    public RunResult run(BanditMethod m, Reward reward) {
        if (m.states() > setup.maxTrainStates())
            throw new IllegalArgumentException(m.name() + ": " + m.states() + " states exceed the pool of " + setup.maxTrainStates());
        long start = System.nanoTime();
        policy.copyFrom(init);
        int S = m.states(), groupsPerState = m.reuse(), perState = m.n() * groupsPerState;
        int samples = S * perState;
        int maxPairs = m.loss().type().equals("dpo") || m.loss().type().equals("ipo")
                ? S * groupsPerState * m.n() * (m.n() - 1) / 2 : 1;
        BanditLoss loss = new BanditLoss(k, m.loss(), m.pairThreshold(), samples, maxPairs);
        SplittableRandom rng = new SplittableRandom(mix(seed, m.name(), reward));
        long[] queries = new long[m.rounds() + 1];
        double[] curve = new double[m.rounds() + 1];
        curve[0] = evaluate(policy, reward)[0];

        int[] state = new int[samples], action = new int[samples], group = new int[samples], length = new int[samples];
        double[] r = new double[samples], refLp = new double[samples], logp = new double[samples];
        java.util.Arrays.fill(length, 1);
        double[] lp = new double[A];
        double[][] probs = new double[S][A];
        float[] dz = new float[S * A];
        long q = 0;
        for (int round = 0; round < m.rounds(); round++) {
            // 1. draw the responses: from the current policy (on-policy) or from π_ref (offline)
            float[] z = policy.forward(trainContexts, S);
            int i = 0;
            for (int s = 0; s < S; s++) {
                logSoftmax(z, s, lp);
                for (int a = 0; a < A; a++) probs[s][a] = Math.exp(lp[a]);
                for (int j = 0; j < perState; j++, i++) {
                    state[i] = s;
                    group[i] = s * groupsPerState + j / m.n();
                    action[i] = m.online() ? sample(probs[s], rng) : ref.sample(rng);
                    r[i] = reward.of(action[i]);
                    refLp[i] = ref.logProb(action[i]);
                }
            }
            q += samples;
            loss.setBatch(group, r, refLp, length, S * groupsPerState);
            // 2. full-batch steps on them
            for (int t = 0; t < m.stepsPerRound() && loss.hasSignal(); t++) {
                if (t > 0) {
                    z = policy.forward(trainContexts, S);
                    for (int s = 0; s < S; s++) {
                        logSoftmax(z, s, lp);
                        for (int a = 0; a < A; a++) probs[s][a] = Math.exp(lp[a]);
                    }
                }
                for (int j = 0; j < samples; j++) logp[j] = Math.log(probs[state[j]][action[j]]);
                double[] d = loss.gradient(logp);
                java.util.Arrays.fill(dz, 0f);
                for (int j = 0; j < samples; j++) {
                    if (d[j] == 0) continue;
                    int s = state[j];
                    for (int a = 0; a < A; a++) dz[s * A + a] -= (float) (d[j] * probs[s][a]);
                    dz[s * A + action[j]] += (float) d[j];
                }
                policy.zeroGrad();
                policy.backward(dz);
                policy.adamStep(m.lr());
            }
            queries[round + 1] = q;
            curve[round + 1] = evaluate(policy, reward)[0];
        }
        double[] fin = evaluate(policy, reward);
        return new RunResult(m, reward, seed, queries, curve, fin[0], fin[1], (System.nanoTime() - start) / 1e9);
    }

    static int sample(double[] p, SplittableRandom rng) {
        double u = rng.nextDouble(), c = 0;
        for (int a = 0; a < p.length; a++) {
            c += p[a];
            if (u < c) return a;
        }
        for (int a = p.length - 1; a >= 0; a--) if (p[a] > 0) return a;
        return p.length - 1;
    }

    static long mix(long seed, String name, Reward reward) {
        long h = seed * 0x9E3779B97F4A7C15L + name.hashCode() * 0xBF58476D1CE4E5B9L + reward.ordinal() * 0x94D049BB133111EBL;
        h ^= h >>> 31;
        return h;
    }
}
