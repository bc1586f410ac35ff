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
 * @param beta           β of dpo, wdpo, hinge, kto, simpo and of the implicit-reward metrics;
 *                       grpo: the coefficient of the k3 KL term, ≥ 0 (TRL's beta, whose GRPO
 *                       default is 0) (0.1)
 * @param labelSmoothing ε of dpo/wdpo/simpo: −(1−ε) log σ(m) − ε log σ(−m), in [0, 0.5) (0)
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
 * @param epsilon        grpo: ε of the lower clip 1 − ε (TRL's epsilon) (0.2)
 * @param epsilonHigh    grpo: ε_high of the upper clip 1 + ε_high (DAPO's clip-higher; TRL's
 *                       epsilon_high); 0 means "= epsilon", TRL's None (0)
 * @param lossType       grpo aggregation (TRL's loss_type): grpo, bnpo, dr_grpo, dapo (grpo)
 * @param scaleRewards   grpo advantage scaling (TRL's scale_rewards): group, batch, none (group)
 * @param importanceSamplingLevel grpo importance ratio (TRL's importance_sampling_level): token
 *                       or sequence (GSPO) (token)
 * @param desirableWeight   kto weight of the desirable examples (TRL's desirable_weight) (1)
 * @param undesirableWeight kto weight of the undesirable examples (1)
 * @param simpoGamma     simpo target margin γ (TRL's simpo_gamma) (0.5)
 * @param orpoLambda     orpo λ of the odds-ratio term (TRL's ORPOConfig calls it beta) (0.1)
 */
@Doc("The loss (SPEC §2); a loss reads only the fields of its family.")
public record LossConfig(@Doc("Loss: sft, nll, dpo, ipo, hinge, wdpo, rwr, bon, reinforce, ppo, grpo, kto, simpo or orpo. ppo and grpo train online only (their own samples), kto offline only (labelled data); simpo and orpo run no reference model, nor does grpo with beta 0.") String type, @Doc("β of dpo, wdpo, hinge, kto and simpo and of the implicit-reward metrics; grpo: the coefficient of the k3 KL term (TRL's beta; 0 disables it and needs no reference model).") double beta, @Doc("ε of dpo/wdpo/simpo: −(1−ε) log σ(m) − ε log σ(−m) with m the sigmoid's argument, in [0, 0.5).") double labelSmoothing, @Doc("τ of ipo: (h − 1/(2τ))² with h from summed log-ratios; τ = 0.05 is margin 10.") double ipoTau,
                         @Doc("wdpo (OPTune) weight of a pair from Δr: exp (n·softmax over the batch), sigmoid, linear or none.") String wdpoMode, @Doc("β₂ of the wdpo weights.") double beta2,
                         @Doc("τ of rwr: w = min(exp(r/τ), w_max).") double rwrTau, @Doc("w_max of rwr.") double rwrWMax, @Doc("rwr: weight (exponential weights) or filter (top-k per prompt with weight 1).") String rwrMode, @Doc("k of the rwr filter mode.") int rwrTopK,
                         @Doc("best-of-N negative term: none, average_over_worse or worst.") String bonNegative, @Doc("β_neg of the best-of-N negative term.") double bonBetaNeg,
                         @Doc("reinforce baseline: none, moving_average, batch_mean, per_prompt_mean or rloo (needs ≥ 2 responses per prompt).") String baseline, @Doc("Decay of the moving-average baseline, in [0, 1).") double baselineDecay, @Doc("reinforce: KL penalty c in r' = r − c·(logp − ref) (0 disables); ppo: the initial KL-in-reward coefficient.") double klCoef, @Doc("reinforce advantages are clipped to ±adv_clip.") double advClip,
                         @Doc("ε of the PPO clipped surrogate.") double ppoClip, @Doc("ε_v of the PPO value clipping.") double ppoValueClip, @Doc("γ of GAE.") double gamma, @Doc("λ of GAE.") double lambda, @Doc("PPO value-loss coefficient.") double vfCoef,
                         @Doc("Whiten PPO advantages over the rollout.") boolean whiten, @Doc("PPO: adaptive KL coefficient (Ziegler et al.) instead of a fixed one.") boolean adaptiveKl, @Doc("Target KL of the adaptive controller.") double targetKl, @Doc("Horizon of the adaptive controller.") double klHorizon,
                         @Doc("grpo: ε of the lower clip 1 − ε (TRL's epsilon).") double epsilon, @Doc("grpo: ε_high of the upper clip 1 + ε_high (DAPO's clip-higher); 0 means equal to epsilon (TRL's None).") double epsilonHigh,
                         @Doc("grpo aggregation (TRL's loss_type): grpo (mean over sequences of each one's token mean), bnpo (token mean over the batch), dr_grpo (token sum / (sequences · max completion length)) or dapo (token mean over the batch: the same as bnpo in one process).") String lossType,
                         @Doc("grpo advantage scaling (TRL's scale_rewards): group (divide by the group's reward std + 1e-4), batch (by the batch's) or none.") String scaleRewards,
                         @Doc("grpo importance ratio (TRL's importance_sampling_level): token, or sequence (GSPO: the exp of the sequence's mean log-ratio).") String importanceSamplingLevel,
                         @Doc("kto: weight of the desirable examples.") double desirableWeight, @Doc("kto: weight of the undesirable examples.") double undesirableWeight,
                         @Doc("simpo: target margin γ in −log σ(β·(lp_w − lp_l) − γ) (TRL's simpo_gamma).") double simpoGamma,
                         @Doc("orpo: λ of the odds-ratio term (TRL's ORPOConfig calls it beta).") double orpoLambda) {

    public static final List<String> TYPES =
            List.of("sft", "nll", "dpo", "ipo", "hinge", "wdpo", "rwr", "bon", "reinforce", "ppo",
                    "grpo", "kto", "simpo", "orpo");
    public static final List<String> GRPO_LOSS_TYPES = List.of("grpo", "bnpo", "dr_grpo", "dapo");
    public static final List<String> SCALE_REWARDS = List.of("group", "batch", "none");
    public static final List<String> IMPORTANCE_LEVELS = List.of("token", "sequence");
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
                0.2, 0.2, 1.0, 0.95, 0.1, true, true, 6.0, 10000,
                0.2, 0.0, "grpo", "group", "token", 1.0, 1.0, 0.5, 0.1);
    }

    /**
     * The fields before the grpo/kto/simpo/orpo ones, which take their defaults (kept so that
     * code written against the earlier field list compiles unchanged).
     */
    public LossConfig(String type, double beta, double labelSmoothing, double ipoTau, String wdpoMode, double beta2,
                      double rwrTau, double rwrWMax, String rwrMode, int rwrTopK, String bonNegative, double bonBetaNeg,
                      String baseline, double baselineDecay, double klCoef, double advClip, double ppoClip,
                      double ppoValueClip, double gamma, double lambda, double vfCoef, boolean whiten,
                      boolean adaptiveKl, double targetKl, double klHorizon) {
        this(type, beta, labelSmoothing, ipoTau, wdpoMode, beta2, rwrTau, rwrWMax, rwrMode, rwrTopK, bonNegative,
                bonBetaNeg, baseline, baselineDecay, klCoef, advClip, ppoClip, ppoValueClip, gamma, lambda, vfCoef,
                whiten, adaptiveKl, targetKl, klHorizon, 0.2, 0.0, "grpo", "group", "token", 1.0, 1.0, 0.5, 0.1);
    }

    /** The upper clip ε_high in effect: {@link #epsilonHigh()}, or {@link #epsilon()} when that is 0. */
    public double effectiveEpsilonHigh() {
        return epsilonHigh == 0 ? epsilon : epsilonHigh;
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
                bool(m, "whiten"), bool(m, "adaptive_kl"), num(m, "target_kl"), num(m, "kl_horizon"),
                num(m, "epsilon"), num(m, "epsilon_high"), m.get("loss_type"), m.get("scale_rewards"),
                m.get("importance_sampling_level"), num(m, "desirable_weight"), num(m, "undesirable_weight"),
                num(m, "simpo_gamma"), num(m, "orpo_lambda"));
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
        m.put("epsilon", str(epsilon));
        m.put("epsilon_high", str(epsilonHigh));
        m.put("loss_type", lossType);
        m.put("scale_rewards", scaleRewards);
        m.put("importance_sampling_level", importanceSamplingLevel);
        m.put("desirable_weight", str(desirableWeight));
        m.put("undesirable_weight", str(undesirableWeight));
        m.put("simpo_gamma", str(simpoGamma));
        m.put("orpo_lambda", str(orpoLambda));
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
        if ("grpo".equals(type)) nonNegative("beta", beta); // the KL coefficient: 0 disables the term
        else positive("beta", beta);
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
        range("epsilon", epsilon, 0, 1, false);
        if (epsilon == 0) throw new io.pref4j.config.InvalidValueException("epsilon", "must be in (0, 1); got 0");
        nonNegative("epsilon_high", epsilonHigh);
        oneOf("loss_type", lossType, GRPO_LOSS_TYPES);
        oneOf("scale_rewards", scaleRewards, SCALE_REWARDS);
        oneOf("importance_sampling_level", importanceSamplingLevel, IMPORTANCE_LEVELS);
        positive("desirable_weight", desirableWeight);
        positive("undesirable_weight", undesirableWeight);
        nonNegative("simpo_gamma", simpoGamma);
        nonNegative("orpo_lambda", orpoLambda);
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
