package io.pref4j.experiment.bandit;

import io.pref4j.kernel.Kernels;
import io.pref4j.loss.Loss;
import io.pref4j.loss.LossConfig;
import io.pref4j.loss.LossResult;
import io.pref4j.loss.Losses;
import io.pref4j.loss.PairBatch;
import io.pref4j.loss.PairwiseLoss;
import io.pref4j.loss.SampleBatch;
import io.pref4j.loss.SampleLoss;

import java.lang.foreign.MemorySegment;

/**
 * A loss of SPEC §2 ({@link Losses#create}) applied to a bandit batch: S samples, each a
 * response (one action, or a sequence of tokens) in a group of N responses to the same
 * state, with its reward and its reference log-prob. Pairwise losses (dpo, ipo) use every
 * pair within a group whose rewards differ by at least the threshold, the higher reward
 * chosen. {@link #gradient} maps the current per-sample log-prob sums to dLoss/dlogp.
 */
final class BanditLoss {
    private final Kernels k;
    private final Loss loss;
    private final double pairThreshold;
    private final MemorySegment logp, ref, lengths, rewards, groups, dlogp, chosen, rejected;
    private int S, G, P;
    private LossResult last;

    BanditLoss(Kernels k, LossConfig cfg, double pairThreshold, int maxSamples, int maxPairs) {
        this.k = k;
        this.loss = Losses.create(cfg);
        this.pairThreshold = pairThreshold;
        logp = k.allocFloats(maxSamples);
        ref = k.allocFloats(maxSamples);
        lengths = k.allocInts(maxSamples);
        rewards = k.allocFloats(maxSamples);
        groups = k.allocInts(maxSamples);
        dlogp = k.allocFloats(maxSamples);
        chosen = k.allocInts(Math.max(1, maxPairs));
        rejected = k.allocInts(Math.max(1, maxPairs));
    }

    boolean pairwise() {
        return loss instanceof PairwiseLoss;
    }

    /**
     * Sets the batch: group[i] in [0, numGroups) (members of a group are contiguous or not),
     * reward[i], refLogp[i] and length[i] (response tokens).
     */
    void setBatch(int[] group, double[] reward, double[] refLogp, int[] length, int numGroups) {
        S = group.length;
        G = numGroups;
        float[] r = new float[S], rl = new float[S];
        for (int i = 0; i < S; i++) {
            r[i] = (float) reward[i];
            rl[i] = (float) refLogp[i];
        }
        k.write(rewards, r);
        k.write(ref, rl);
        k.writeInts(groups, group);
        k.writeInts(lengths, length);
        P = 0;
        if (pairwise()) {
            java.util.List<int[]> byGroup = new java.util.ArrayList<>();
            int[] count = new int[G];
            for (int g : group) count[g]++;
            for (int g = 0; g < G; g++) byGroup.add(new int[count[g]]);
            java.util.Arrays.fill(count, 0);
            for (int i = 0; i < S; i++) byGroup.get(group[i])[count[group[i]]++] = i;
            java.util.List<int[]> pairs = new java.util.ArrayList<>();
            for (int[] members : byGroup) {
                for (int a = 0; a < members.length; a++) {
                    for (int b = a + 1; b < members.length; b++) {
                        int i = members[a], j = members[b];
                        double d = reward[i] - reward[j];
                        if (Math.abs(d) < pairThreshold || d == 0) continue;
                        pairs.add(d > 0 ? new int[]{i, j} : new int[]{j, i});
                    }
                }
            }
            P = pairs.size();
            int[] c = new int[P], rj = new int[P];
            for (int p = 0; p < P; p++) {
                c[p] = pairs.get(p)[0];
                rj[p] = pairs.get(p)[1];
            }
            if (P > 0) {
                k.writeInts(chosen, c);
                k.writeInts(rejected, rj);
            }
        }
    }

    /** Pairs in the current batch (pairwise losses). */
    int pairs() {
        return P;
    }

    /** Whether the batch gives the loss anything to learn from (pairwise: at least one pair). */
    boolean hasSignal() {
        return !pairwise() || P > 0;
    }

    /** dLoss/dlogp[S] for the current per-sample log-prob sums. */
    double[] gradient(double[] currentLogp) {
        float[] lp = new float[S];
        for (int i = 0; i < S; i++) lp[i] = (float) currentLogp[i];
        k.write(logp, lp);
        if (loss instanceof PairwiseLoss pl) {
            last = pl.compute(k, new PairBatch(logp, ref, rewards, chosen, rejected, S, P), dlogp);
        } else {
            last = ((SampleLoss) loss).compute(k, new SampleBatch(logp, ref, lengths, rewards, groups, S, G, Double.NaN), dlogp);
        }
        float[] d = new float[S];
        k.read(dlogp, d);
        double[] out = new double[S];
        for (int i = 0; i < S; i++) out[i] = d[i];
        return out;
    }

    /** The last evaluation's loss and metrics. */
    LossResult last() {
        return last;
    }
}
