package io.pref4j.train;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * OPTune's choice of which prompts to regenerate (Chen et al. 2024): among the iteration's
 * B prompts, those without stored responses are always regenerated; of the rest, the
 * lowest-ranked (by the reward of their current chosen response, or the mean of chosen and
 * rejected) are added until ⌈ρ·B⌉ prompts are regenerated. {@code random} picks them at
 * random instead, {@code all} regenerates every prompt (plain online training).
 */
public final class OptuneSelector {
    private OptuneSelector() {}

    public enum Selection { LOWEST, RANDOM, ALL }

    /**
     * Which of the batch's prompts to regenerate, as positions in the batch (ascending).
     *
     * @param rank  the rank statistic of each batch prompt's stored pair; NaN where the
     *              prompt has no stored responses (always regenerated) — a stored set with
     *              no valid pair should be given −∞ so it is regenerated first
     * @param rho   fraction of the batch to regenerate, in (0, 1]
     * @param rng   used only for RANDOM
     */
    public static int[] select(double[] rank, double rho, Selection selection, SplittableRandom rng) {
        int B = rank.length;
        if (selection == Selection.ALL) {
            int[] all = new int[B];
            for (int i = 0; i < B; i++) all[i] = i;
            return all;
        }
        int want = (int) Math.ceil(rho * B - 1e-9);
        List<Integer> chosen = new ArrayList<>(), stored = new ArrayList<>();
        for (int i = 0; i < B; i++) (Double.isNaN(rank[i]) ? chosen : stored).add(i);
        int more = Math.max(0, want - chosen.size());
        if (selection == Selection.RANDOM) {
            // partial Fisher–Yates over the stored prompts
            for (int i = 0; i < more && i < stored.size(); i++) {
                int j = i + rng.nextInt(stored.size() - i);
                Integer t = stored.get(i);
                stored.set(i, stored.get(j));
                stored.set(j, t);
                chosen.add(stored.get(i));
            }
        } else {
            stored.sort((a, b) -> {
                int c = Double.compare(rank[a], rank[b]);
                return c != 0 ? c : Integer.compare(a, b);
            });
            for (int i = 0; i < more && i < stored.size(); i++) chosen.add(stored.get(i));
        }
        int[] out = chosen.stream().mapToInt(Integer::intValue).toArray();
        Arrays.sort(out);
        return out;
    }
}
