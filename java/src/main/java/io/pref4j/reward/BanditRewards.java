package io.pref4j.reward;

/**
 * The bandit rewards of SPEC §6: on an action a ∈ [0, 100),
 * R1(a) = exp(−((a−70)/10)²) (peak where π_ref puts little mass) and
 * R2(a) = exp(−((a−20)/10)²) (peak where π_ref puts much). The sequence form (§6.2) scores a
 * response of tokens over a 100-token vocabulary as the mean of R over its token ids; an
 * empty response scores 0 (the reward's infimum).
 */
public final class BanditRewards {
    private BanditRewards() {
    }

    /** Number of actions (and the sequence bandit's vocabulary). */
    public static final int ACTIONS = 100;

    /** R1(a) = exp(−((a−70)/10)²). */
    public static double r1(int a) {
        return bump(a, 70);
    }

    /** R2(a) = exp(−((a−20)/10)²). */
    public static double r2(int a) {
        return bump(a, 20);
    }

    private static double bump(int a, int center) {
        if (a < 0 || a >= ACTIONS) throw new IllegalArgumentException("action " + a + " outside [0, " + ACTIONS + ")");
        double z = (a - center) / 10.0;
        return Math.exp(-z * z);
    }

    /** The mean of R1 over the response's token ids. */
    public static double r1Sequence(int[] responseIds) {
        return mean(responseIds, 70);
    }

    /** The mean of R2 over the response's token ids. */
    public static double r2Sequence(int[] responseIds) {
        return mean(responseIds, 20);
    }

    private static double mean(int[] ids, int center) {
        if (ids.length == 0) return 0;
        double s = 0;
        for (int a : ids) s += bump(a, center);
        return s / ids.length;
    }

    /** R1 in sequence form (a one-token response scores R1 of its token). */
    public static RewardSource r1Source() {
        return RewardFunction.of("bandit_r1", c -> r1Sequence(c.requireResponseIds()));
    }

    /** R2 in sequence form. */
    public static RewardSource r2Source() {
        return RewardFunction.of("bandit_r2", c -> r2Sequence(c.requireResponseIds()));
    }
}
