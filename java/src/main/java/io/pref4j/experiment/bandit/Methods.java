package io.pref4j.experiment.bandit;

import io.pref4j.loss.LossConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * The settings of the bandit experiments, starting from the authors' own (SPEC §6.1):
 * offline best-of-N lr 0.01 on 5 states, one batch from π_ref, 200 full-batch Adam steps;
 * on-policy best-of-N lr 0.001 on 10 states, rounds of fresh samples with T = 15 steps each;
 * IPO margin 10, lr 0.003 offline and 0.01 on-policy; DPO pairs dropped when |Δr| &lt; 0.2.
 * Where the SPEC gives no value we chose one and say so here: DPO β 0.1 with the IPO
 * learning rates; RWR τ 0.1 (w = min(exp(r/0.1), 10)) at the best-of-N learning rates;
 * best-of-N negative term average_over_worse with β_neg 0.1; REINFORCE with the RLOO
 * baseline, lr 0.01, one step per round (no reuse); IPO pairs use the DPO threshold.
 */
public final class Methods {
    private Methods() {}

    public static final int N = 10;
    public static final double PAIR_THRESHOLD = 0.2;

    public static LossConfig loss(String type) {
        return LossConfig.defaults(type);
    }

    public static LossConfig bonNeg() {
        LossConfig d = LossConfig.defaults("bon");
        return new LossConfig("bon", d.beta(), d.labelSmoothing(), d.ipoTau(), d.wdpoMode(), d.beta2(), d.rwrTau(), d.rwrWMax(),
                d.rwrMode(), d.rwrTopK(), "average_over_worse", 0.1, d.baseline(), d.baselineDecay(), d.klCoef(), d.advClip(),
                d.ppoClip(), d.ppoValueClip(), d.gamma(), d.lambda(), d.vfCoef(), d.whiten(), d.adaptiveKl(), d.targetKl(), d.klHorizon());
    }

    public static LossConfig rwr(double tau) {
        LossConfig d = LossConfig.defaults("rwr");
        return new LossConfig("rwr", d.beta(), d.labelSmoothing(), d.ipoTau(), d.wdpoMode(), d.beta2(), tau, d.rwrWMax(),
                d.rwrMode(), d.rwrTopK(), d.bonNegative(), d.bonBetaNeg(), d.baseline(), d.baselineDecay(), d.klCoef(), d.advClip(),
                d.ppoClip(), d.ppoValueClip(), d.gamma(), d.lambda(), d.vfCoef(), d.whiten(), d.adaptiveKl(), d.targetKl(), d.klHorizon());
    }

    /** IPO in the margin form (h − margin)², i.e. τ = 1/(2·margin). */
    public static LossConfig ipo(double margin) {
        LossConfig d = LossConfig.defaults("ipo");
        return new LossConfig("ipo", d.beta(), d.labelSmoothing(), 1 / (2 * margin), d.wdpoMode(), d.beta2(), d.rwrTau(), d.rwrWMax(),
                d.rwrMode(), d.rwrTopK(), d.bonNegative(), d.bonBetaNeg(), d.baseline(), d.baselineDecay(), d.klCoef(), d.advClip(),
                d.ppoClip(), d.ppoValueClip(), d.gamma(), d.lambda(), d.vfCoef(), d.whiten(), d.adaptiveKl(), d.targetKl(), d.klHorizon());
    }

    public static LossConfig reinforce(String baseline) {
        LossConfig d = LossConfig.defaults("reinforce");
        return new LossConfig("reinforce", d.beta(), d.labelSmoothing(), d.ipoTau(), d.wdpoMode(), d.beta2(), d.rwrTau(), d.rwrWMax(),
                d.rwrMode(), d.rwrTopK(), d.bonNegative(), d.bonBetaNeg(), baseline, d.baselineDecay(), 0.0, d.advClip(),
                d.ppoClip(), d.ppoValueClip(), d.gamma(), d.lambda(), d.vfCoef(), d.whiten(), d.adaptiveKl(), d.targetKl(), d.klHorizon());
    }

    static BanditMethod online(String name, LossConfig loss, float lr, int rounds, int steps) {
        return new BanditMethod(name, name, "main", loss, PAIR_THRESHOLD, true, lr, 10, N, rounds, steps, 1);
    }

    static BanditMethod offline(String name, LossConfig loss, float lr, int states) {
        return new BanditMethod(name + "@" + states * N, name, "offline-size", loss, PAIR_THRESHOLD, false, lr, states, N, 1, 200, 1);
    }

    /** The on-policy methods of the categorical bandit with the given rounds (10 states, N = 10). */
    public static List<BanditMethod> categoricalOnline(int rounds) {
        return List.of(
                online("onpolicy-bon", loss("bon"), 0.001f, rounds, 15),
                online("onpolicy-bon-neg", bonNeg(), 0.001f, rounds, 15),
                online("onpolicy-rwr", rwr(0.1), 0.001f, rounds, 15),
                online("onpolicy-dpo", loss("dpo"), 0.01f, rounds, 15),
                online("onpolicy-ipo", ipo(10), 0.01f, rounds, 15),
                online("reinforce", reinforce("rloo"), 0.01f, rounds, 1));
    }

    /** The offline methods, each at every dataset size (states; N = 10 responses each). */
    public static List<BanditMethod> categoricalOffline(int[] stateCounts) {
        List<BanditMethod> out = new ArrayList<>();
        for (int s : stateCounts) {
            out.add(offline("offline-bon", loss("bon"), 0.01f, s));
            out.add(offline("offline-bon-neg", bonNeg(), 0.01f, s));
            out.add(offline("offline-rwr", rwr(0.1), 0.01f, s));
            out.add(offline("offline-dpo", loss("dpo"), 0.003f, s));
            out.add(offline("offline-ipo", ipo(10), 0.003f, s));
        }
        return out;
    }

    /**
     * The fixed-budget reuse ablation: for T = k, N·k responses per state per round (k groups
     * of N), rounds/k rounds, k full-batch steps per round, so reward queries and gradient
     * steps stay equal across k.
     */
    public static List<BanditMethod> reuse(List<BanditMethod> bases, int rounds, int[] ks) {
        List<BanditMethod> out = new ArrayList<>();
        for (BanditMethod b : bases) {
            for (int k : ks) {
                out.add(b.named(b.family() + "@T" + k, "reuse").withReuse(k, Math.max(1, rounds / k), k));
            }
        }
        return out;
    }
}
