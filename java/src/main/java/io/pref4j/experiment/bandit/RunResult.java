package io.pref4j.experiment.bandit;

/**
 * One training run of one setting, reward and seed: the evaluation reward after each round
 * (index 0 = before training) at the cumulative reward queries, the final reward, the final
 * KL(π‖π_ref) on the evaluation states, and the wall clock.
 */
public record RunResult(BanditMethod method, Reward reward, long seed, long[] queries, double[] rewardCurve,
                        double finalReward, double finalKl, double wallSeconds) {
}
