package io.pref4j.experiment.bandit;

import io.pref4j.loss.LossConfig;

/**
 * One training setting of a bandit experiment.
 *
 * <p><b>Offline</b> ({@code online = false}): one dataset of {@code states} states × n
 * responses drawn from π_ref, scored once, then {@code stepsPerRound} full-batch Adam steps
 * on it ({@code rounds} = 1). <b>On-policy</b>: {@code rounds} rounds; each draws
 * {@code n · reuse} fresh responses per train state from the current policy, as
 * {@code reuse} groups of n, and takes {@code stepsPerRound} full-batch steps on them. Reward
 * queries = rounds · states · n · reuse.
 *
 * @param name          unique name of the setting (a table row)
 * @param family        the method, shared by settings that differ only in size (a plot series)
 * @param group         which part of the experiment: "main", "offline-size" or "reuse"
 * @param loss          the SPEC §2 loss
 * @param pairThreshold pairwise losses: pairs with |Δr| below it are dropped
 * @param reuse         the sample-reuse factor k of the fixed-budget ablation (1 elsewhere)
 */
public record BanditMethod(String name, String family, String group, LossConfig loss, double pairThreshold,
                           boolean online, float lr, int states, int n, int rounds, int stepsPerRound, int reuse) {

    public BanditMethod {
        if (states < 1 || n < 1 || rounds < 1 || stepsPerRound < 1 || reuse < 1)
            throw new IllegalArgumentException(name + ": sizes must be >= 1");
        if (!online && rounds != 1) throw new IllegalArgumentException(name + ": an offline setting has one round");
    }

    /** Total reward queries of the setting. */
    public long queries() {
        return (long) rounds * states * n * reuse;
    }

    public BanditMethod named(String newName, String newGroup) {
        return new BanditMethod(newName, family, newGroup, loss, pairThreshold, online, lr, states, n, rounds, stepsPerRound, reuse);
    }

    public BanditMethod withStates(int s) {
        return new BanditMethod(name, family, group, loss, pairThreshold, online, lr, s, n, rounds, stepsPerRound, reuse);
    }

    public BanditMethod withRounds(int r) {
        return new BanditMethod(name, family, group, loss, pairThreshold, online, lr, states, n, r, stepsPerRound, reuse);
    }

    public BanditMethod withSteps(int s) {
        return new BanditMethod(name, family, group, loss, pairThreshold, online, lr, states, n, rounds, s, reuse);
    }

    public BanditMethod withReuse(int k, int r, int steps) {
        return new BanditMethod(name, family, group, loss, pairThreshold, online, lr, states, n, r, steps, k);
    }

    public BanditMethod withLr(float newLr) {
        return new BanditMethod(name, family, group, loss, pairThreshold, online, newLr, states, n, rounds, stepsPerRound, reuse);
    }

    /** A one-line description of the loss's parameters that matter for this family. */
    public String lossSummary() {
        LossConfig c = loss;
        return switch (c.type()) {
            case "bon" -> "bon" + (c.bonNegative().equals("none") ? "" : " neg=" + c.bonNegative() + " beta_neg=" + c.bonBetaNeg());
            case "rwr" -> "rwr tau=" + c.rwrTau() + " w_max=" + c.rwrWMax();
            case "dpo" -> "dpo beta=" + c.beta() + " |dr|>=" + pairThreshold;
            case "ipo" -> "ipo margin=" + (1 / (2 * c.ipoTau())) + " |dr|>=" + pairThreshold;
            case "reinforce" -> "reinforce baseline=" + c.baseline();
            default -> c.type();
        };
    }
}
