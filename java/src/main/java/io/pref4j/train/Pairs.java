package io.pref4j.train;

import java.util.ArrayList;
import java.util.List;

/**
 * Builds preference pairs from the rewards of the C responses to one prompt (SPEC §3 step
 * 3): best versus worst, or every ordered pair whose reward gap exceeds a threshold.
 */
public final class Pairs {
    private Pairs() {}

    /** How pairs are built. */
    public enum Mode { BEST_WORST, ALL }

    /** A pair of response indices: chosen has the higher reward. */
    public record Pair(int chosen, int rejected) {}

    /**
     * Pairs for one prompt. BEST_WORST: the highest versus the lowest reward (lowest index on
     * ties), if their gap exceeds threshold. ALL: every (i, j) with r_i − r_j &gt; threshold,
     * in index order. Equal rewards never form a pair.
     */
    public static List<Pair> build(double[] rewards, Mode mode, double threshold) {
        List<Pair> out = new ArrayList<>();
        int n = rewards.length;
        if (n < 2) return out;
        double gap = Math.max(0, threshold);
        if (mode == Mode.BEST_WORST) {
            int best = 0, worst = 0;
            for (int i = 1; i < n; i++) {
                if (rewards[i] > rewards[best]) best = i;
                if (rewards[i] < rewards[worst]) worst = i;
            }
            if (rewards[best] - rewards[worst] > gap) out.add(new Pair(best, worst));
        } else {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    if (i != j && rewards[i] - rewards[j] > gap) out.add(new Pair(i, j));
                }
            }
        }
        return out;
    }
}
