package io.pref4j.loss;

import io.pref4j.UserInputException;
import io.pref4j.config.Doc;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every parameter of every loss of SPEC §2, with the defaults of {@link #defaults(String)}.
 * A loss reads only the fields of its family; the others are recorded but unused. Config
 * files name the fields in snake_case under {@code loss.} ({@link #fromMap}, {@link #toMap}).
 *
 * @param type           one of {@link #TYPES}
 * @param beta           β of dpo, wdpo, hinge and of the implicit-reward metrics (0.1)
 * @param labelSmoothing ε of dpo/wdpo: −(1−ε) log σ(βh) − ε log σ(−βh), in [0, 0.5) (0)
 * @param ipoTau         τ of ipo: (h − 1/(2τ))² with h from summed (not per-token-averaged)
 *                       log-ratios; τ = 0.05 is "margin 10" (0.1)
 * @param wdpoMode       wdpo weight: exp, sigmoid, linear, none (exp)
 * @param beta2          β₂ of the wdpo weights (1.0)
 * @param rwrTau         τ of rwr: w = min(exp(r/τ), w_max) (1.0)
 * @param rwrWMax        w_max of rwr (10)
 * @param rwrMode        weight (exponential weights) or filter (top-k per prompt, weight 1) (weight)
 * @param rwrTopK        k of the filter mode (1)
 * @param bonNegative    best-of-N negative term: none, average_over_worse, worst (none)
 * @param bonBetaNeg     β_neg of the negative term (0.1)
 * @param baseline       reinforce baseline: none, moving_average, batch_mean, per_prompt_mean,
 *                       rloo (batch_mean)
 * @param baselineDecay  decay of the moving-average baseline, in [0, 1) (0.9)
 * @param klCoef         reinforce: KL penalty c in r' = r − c·(logp − ref) (0 disables);
 *                       ppo: the initial KL-in-reward coefficient (0.05)
 * @param advClip        reinforce advantages are clipped to ±advClip (10)
 * @param ppoClip        ε of the PPO surrogate (0.2)
 * @param ppoValueClip   ε_v of the PPO value clipping (0.2)
 * @param gamma          γ of GAE (1.0)
 * @param lambda         λ of GAE (0.95)
 * @param vfCoef         value-loss coefficient (0.1)
 * @param whiten         whiten PPO advantages over the rollout batch (true)
 * @param adaptiveKl     adaptive KL controller (Ziegler et al.) instead of a fixed one (true)
 * @param targetKl       target KL of the adaptive controller (6.0)
 * @param klHorizon      horizon of the adaptive controller (10000)
 */
@Doc("The loss (SPEC §2); a loss reads only the fields of its family.")
public record LossConfig(@Doc("Loss: sft, nll, dpo, ipo, hinge, wdpo, rwr, bon, reinforce or ppo.") String type, @Doc("β of dpo, wdpo and hinge, and of the implicit-reward metrics.") double beta, @Doc("ε of dpo/wdpo: −(1−ε) log σ(βh) − ε log σ(−βh), in [0, 0.5).") double labelSmoothing, @Doc("τ of ipo: (h − 1/(2τ))² with h from summed log-ratios; τ = 0.05 is margin 10.") double ipoTau,
                         @Doc("wdpo (OPTune) weight of a pair from Δr: exp (n·softmax over the batch), sigmoid, linear or none.") String wdpoMode, @Doc("β₂ of the wdpo weights.") double beta2,
                         @Doc("τ of rwr: w = min(exp(r/τ), w_max).") double rwrTau, @Doc("w_max of rwr.") double rwrWMax, @Doc("rwr: weight (exponential weights) or filter (top-k per prompt with weight 1).") String rwrMode, @Doc("k of the rwr filter mode.") int rwrTopK,
                         @Doc("best-of-N negative term: none, average_over_worse or worst.") String bonNegative, @Doc("β_neg of the best-of-N negative term.") double bonBetaNeg,
                         @Doc("reinforce baseline: none, moving_average, batch_mean, per_prompt_mean or rloo (needs ≥ 2 responses per prompt).") String baseline, @Doc("Decay of the moving-average baseline, in [0, 1).") double baselineDecay, @Doc("reinforce: KL penalty c in r' = r − c·(logp − ref) (0 disables); ppo: the initial KL-in-reward coefficient.") double klCoef, @Doc("reinforce advantages are clipped to ±adv_clip.") double advClip,
                         @Doc("ε of the PPO clipped surrogate.") double ppoClip, @Doc("ε_v of the PPO value clipping.") double ppoValueClip, @Doc("γ of GAE.") double gamma, @Doc("λ of GAE.") double lambda, @Doc("PPO value-loss coefficient.") double vfCoef,
                         @Doc("Whiten PPO advantages over the rollout.") boolean whiten, @Doc("PPO: adaptive KL coefficient (Ziegler et al.) instead of a fixed one.") boolean adaptiveKl, @Doc("Target KL of the adaptive controller.") double targetKl, @Doc("Horizon of the adaptive controller.") double klHorizon) {

    public static final List<String> TYPES =
            List.of("sft", "nll", "dpo", "ipo", "hinge", "wdpo", "rwr", "bon", "reinforce", "ppo");
    public static final List<String> WDPO_MODES = List.of("exp", "sigmoid", "linear", "none");
    public static final List<String> RWR_MODES = List.of("weight", "filter");
    public static final List<String> BON_NEGATIVES = List.of("none", "average_over_worse", "worst");
    public static final List<String> BASELINES =
            List.of("none", "moving_average", "batch_mean", "per_prompt_mean", "rloo");

    /** The config defaults: dpo with the SPEC's parameters. */
    public static LossConfig defaults() {
        return defaults("dpo");
    }

    /** The SPEC defaults for a loss type (not validated: {@link Losses#create} does that). */
    public static LossConfig defaults(String type) {
        return new LossConfig(type, 0.1, 0.0, 0.1, "exp", 1.0,
                1.0, 10.0, "weight", 1, "none", 0.1,
                "batch_mean", 0.9, 0.05, 10.0,
                0.2, 0.2, 1.0, 0.95, 0.1, true, true, 6.0, 10000);
    }

    /**
     * A config from {@code loss.*} fields given as strings (snake_case names as in
     * {@link #toMap}; {@code type} is required, the others default). Unknown keys and
     * malformed numbers are UserInputExceptions; so are out-of-range values.
     */
    public static LossConfig fromMap(Map<String, String> fields) {
        String type = fields.get("type");
        if (type == null) throw new UserInputException("loss.type is required: one of " + String.join(", ", TYPES));
        Map<String, String> m = defaults(type).toMap();
        for (var e : fields.entrySet()) {
            if (!m.containsKey(e.getKey()))
                throw new UserInputException("unknown config field loss." + e.getKey() + "; known: " + String.join(", ", m.keySet()));
            m.put(e.getKey(), e.getValue().trim());
        }
        LossConfig c = new LossConfig(m.get("type"), num(m, "beta"), num(m, "label_smoothing"), num(m, "ipo_tau"),
                m.get("wdpo_mode"), num(m, "beta2"),
                num(m, "rwr_tau"), num(m, "rwr_w_max"), m.get("rwr_mode"), integer(m, "rwr_top_k"),
                m.get("bon_negative"), num(m, "bon_beta_neg"),
                m.get("baseline"), num(m, "baseline_decay"), num(m, "kl_coef"), num(m, "adv_clip"),
                num(m, "ppo_clip"), num(m, "ppo_value_clip"), num(m, "gamma"), num(m, "lambda"), num(m, "vf_coef"),
                bool(m, "whiten"), bool(m, "adaptive_kl"), num(m, "target_kl"), num(m, "kl_horizon"));
        c.check();
        return c;
    }

    /** Every field by its config name (snake_case, without the {@code loss.} prefix), in order. */
    public Map<String, String> toMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("type", type);
        m.put("beta", str(beta));
        m.put("label_smoothing", str(labelSmoothing));
        m.put("ipo_tau", str(ipoTau));
        m.put("wdpo_mode", wdpoMode);
        m.put("beta2", str(beta2));
        m.put("rwr_tau", str(rwrTau));
        m.put("rwr_w_max", str(rwrWMax));
        m.put("rwr_mode", rwrMode);
        m.put("rwr_top_k", Integer.toString(rwrTopK));
        m.put("bon_negative", bonNegative);
        m.put("bon_beta_neg", str(bonBetaNeg));
        m.put("baseline", baseline);
        m.put("baseline_decay", str(baselineDecay));
        m.put("kl_coef", str(klCoef));
        m.put("adv_clip", str(advClip));
        m.put("ppo_clip", str(ppoClip));
        m.put("ppo_value_clip", str(ppoValueClip));
        m.put("gamma", str(gamma));
        m.put("lambda", str(lambda));
        m.put("vf_coef", str(vfCoef));
        m.put("whiten", Boolean.toString(whiten));
        m.put("adaptive_kl", Boolean.toString(adaptiveKl));
        m.put("target_kl", str(targetKl));
        m.put("kl_horizon", str(klHorizon));
        return m;
    }

    /** Checks names and ranges; throws a UserInputException naming the first bad field. */
    /** {@link #validate()} with messages naming the key as {@code loss.KEY} (outside a config file). */
    public void check() {
        try {
            validate();
        } catch (io.pref4j.config.InvalidValueException e) {
            throw new UserInputException("loss." + e.key() + " " + e.problem(), e);
        }
    }

    public void validate() {
        oneOf("type", type, TYPES);
        positive("beta", beta);
        range("label_smoothing", labelSmoothing, 0, 0.5, false);
        positive("ipo_tau", ipoTau);
        oneOf("wdpo_mode", wdpoMode, WDPO_MODES);
        nonNegative("beta2", beta2);
        positive("rwr_tau", rwrTau);
        positive("rwr_w_max", rwrWMax);
        oneOf("rwr_mode", rwrMode, RWR_MODES);
        if (rwrTopK < 1) throw new io.pref4j.config.InvalidValueException("rwr_top_k", "must be >= 1; got " + rwrTopK);
        oneOf("bon_negative", bonNegative, BON_NEGATIVES);
        nonNegative("bon_beta_neg", bonBetaNeg);
        oneOf("baseline", baseline, BASELINES);
        range("baseline_decay", baselineDecay, 0, 1, false);
        nonNegative("kl_coef", klCoef);
        positive("adv_clip", advClip);
        range("ppo_clip", ppoClip, 0, 1, false);
        if (ppoClip == 0) throw new io.pref4j.config.InvalidValueException("ppo_clip", "must be in (0, 1); got 0");
        positive("ppo_value_clip", ppoValueClip);
        range("gamma", gamma, 0, 1, true);
        range("lambda", lambda, 0, 1, true);
        nonNegative("vf_coef", vfCoef);
        positive("target_kl", targetKl);
        if (!(klHorizon >= 1) || Double.isInfinite(klHorizon))
            throw new io.pref4j.config.InvalidValueException("kl_horizon", "must be >= 1; got " + str(klHorizon));
    }

    // ---------------------------------------------------------------- helpers

    private static void oneOf(String key, String value, List<String> allowed) {
        io.pref4j.config.Check.oneOf(key, value, allowed);
    }

    private static void positive(String key, double v) {
        if (!(v > 0) || Double.isInfinite(v)) throw new io.pref4j.config.InvalidValueException(key, "must be > 0; got " + str(v));
    }

    private static void nonNegative(String key, double v) {
        if (!(v >= 0) || Double.isInfinite(v)) throw new io.pref4j.config.InvalidValueException(key, "must be >= 0; got " + str(v));
    }

    private static void range(String key, double v, double lo, double hi, boolean hiInclusive) {
        if (!(v >= lo) || !(hiInclusive ? v <= hi : v < hi))
            throw new io.pref4j.config.InvalidValueException(key, "must be in [" + str(lo) + ", " + str(hi) + (hiInclusive ? "]" : ")")
                    + "; got " + str(v));
    }

    private static String str(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }

    private static double num(Map<String, String> m, String key) {
        try {
            return Double.parseDouble(m.get(key));
        } catch (NumberFormatException e) {
            throw new UserInputException("loss." + key + " must be a number; got '" + m.get(key) + "'");
        }
    }

    private static int integer(Map<String, String> m, String key) {
        try {
            return Integer.parseInt(m.get(key));
        } catch (NumberFormatException e) {
            throw new UserInputException("loss." + key + " must be an integer; got '" + m.get(key) + "'");
        }
    }

    private static boolean bool(Map<String, String> m, String key) {
        return switch (m.get(key)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new UserInputException("loss." + key + " must be true or false; got '" + m.get(key) + "'");
        };
    }
}
