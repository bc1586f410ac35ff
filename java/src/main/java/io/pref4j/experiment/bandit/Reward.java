package io.pref4j.experiment.bandit;

import io.pref4j.reward.BanditRewards;

/** The two bandit rewards of SPEC §6.1 (delegating to {@link BanditRewards}). */
public enum Reward {
    /** exp(−((a−70)/10)²): the peak lies where π_ref puts little mass. */
    R1,
    /** exp(−((a−20)/10)²): the peak lies where π_ref puts much mass. */
    R2;

    /** The reward of one action (or token). */
    public double of(int a) {
        return this == R1 ? BanditRewards.r1(a) : BanditRewards.r2(a);
    }

    /** The sequence form: the mean over the tokens. */
    public double ofSequence(int[] tokens) {
        return this == R1 ? BanditRewards.r1Sequence(tokens) : BanditRewards.r2Sequence(tokens);
    }

    public String key() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
