package io.pref4j.experiment.bandit;

import io.pref4j.reward.BanditRewards;

import java.util.SplittableRandom;
import java.util.function.IntToDoubleFunction;

/**
 * The bandits' reference policy π_ref (SPEC §6.1): a histogram over 100 equal bins on [−1, 1]
 * of 10,000 samples of tanh(Cauchy(loc −0.7, scale 0.4)). Action a is bin a, covering
 * [−1 + 0.02a, −1 + 0.02(a+1)). It does not depend on the context (or, in the sequence
 * bandit, on the prefix). A bin that received no sample would get half a count so that
 * log π_ref stays finite; with 10,000 samples every bin expects at least about 15.
 */
public final class RefPolicy {
    /** Samples in the histogram. */
    public static final int SAMPLES = 10_000;
    public static final double LOC = -0.7, SCALE = 0.4;

    private final double[] probs;
    private final double[] logProbs;
    private final double[] cdf;

    private RefPolicy(double[] probs) {
        this.probs = probs;
        this.logProbs = new double[probs.length];
        this.cdf = new double[probs.length];
        double c = 0;
        for (int a = 0; a < probs.length; a++) {
            logProbs[a] = Math.log(probs[a]);
            c += probs[a];
            cdf[a] = c;
        }
        cdf[probs.length - 1] = 1.0;
    }

    /** The histogram of {@link #SAMPLES} draws, deterministic in the seed. */
    public static RefPolicy histogram(long seed) {
        int A = BanditRewards.ACTIONS;
        double[] counts = new double[A];
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = 0; i < SAMPLES; i++) {
            double x = LOC + SCALE * Math.tan(Math.PI * (rng.nextDouble() - 0.5));
            double y = Math.tanh(x);
            int bin = (int) Math.floor((y + 1.0) / 2.0 * A);
            counts[Math.min(A - 1, Math.max(0, bin))]++;
        }
        double total = 0;
        for (int a = 0; a < A; a++) {
            if (counts[a] == 0) counts[a] = 0.5;
            total += counts[a];
        }
        for (int a = 0; a < A; a++) counts[a] /= total;
        return new RefPolicy(counts);
    }

    public int actions() {
        return probs.length;
    }

    public double prob(int a) {
        return probs[a];
    }

    public double logProb(int a) {
        return logProbs[a];
    }

    /** A copy of log π_ref over the actions. */
    public double[] logProbs() {
        return logProbs.clone();
    }

    /** E_{a ~ π_ref}[f(a)] exactly. */
    public double expectation(IntToDoubleFunction f) {
        double s = 0;
        for (int a = 0; a < probs.length; a++) s += probs[a] * f.applyAsDouble(a);
        return s;
    }

    /** One action drawn from π_ref. */
    public int sample(SplittableRandom rng) {
        double u = rng.nextDouble();
        int lo = 0, hi = cdf.length - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (cdf[mid] > u) hi = mid;
            else lo = mid + 1;
        }
        return lo;
    }
}
