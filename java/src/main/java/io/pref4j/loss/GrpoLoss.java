package io.pref4j.loss;

import io.pref4j.kernel.Kernels;
import io.pref4j.kernel.Kernels.LossOps;

import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * GRPO and its variants (DAPO, Dr. GRPO, GSPO), as TRL's GRPOTrainer. Once per generation
 * batch, {@link #advantages} computes the group-relative advantages from the rows' rewards
 * ({@link Kernels#grpoAdvantages}); then, for each of the μ iterations and each minibatch,
 * {@link #compute} gives the clipped surrogate plus β times the k3 KL estimate, aggregated by
 * loss_type, and its per-token gradient ({@link Kernels#grpoLoss}). Both Javadocs define the
 * computation. Config: epsilon, epsilon_high (0 = epsilon), beta (the KL coefficient; 0 needs
 * no reference log-probs), loss_type, scale_rewards, importance_sampling_level.
 * TRL's num_generations and num_iterations are loop concepts (the groups and the passes).
 */
public final class GrpoLoss implements Loss {
    private final LossConfig cfg;
    private final int lossType, scale, level;
    private final MetricsBuffer metrics = new MetricsBuffer();

    GrpoLoss(LossConfig cfg) {
        if (!cfg.type().equals("grpo")) throw new IllegalArgumentException("not grpo: " + cfg.type());
        this.cfg = cfg;
        this.lossType = switch (cfg.lossType()) {
            case "bnpo" -> LossOps.AGG_BNPO;
            case "dr_grpo" -> LossOps.AGG_DR_GRPO;
            case "dapo" -> LossOps.AGG_DAPO;
            default -> LossOps.AGG_GRPO;
        };
        this.scale = switch (cfg.scaleRewards()) {
            case "batch" -> LossOps.SCALE_BATCH;
            case "none" -> LossOps.SCALE_NONE;
            default -> LossOps.SCALE_GROUP;
        };
        this.level = cfg.importanceSamplingLevel().equals("sequence") ? LossOps.IS_SEQUENCE : LossOps.IS_TOKEN;
    }

    @Override public LossConfig config() {
        return cfg;
    }

    /** Whether {@link GrpoBatch#refLogp()} is read for the loss (beta ≠ 0; with it given anyway, "kl" is reported). */
    public boolean needsReference() {
        return cfg.beta() != 0;
    }

    /** The fewest responses per prompt the advantages accept (2). */
    public int minGroupSize() {
        return 2;
    }

    /**
     * Fills b.advantages() from b.rewards() and b.groups(). Metrics, in order: reward (mean),
     * reward_std (mean over rows of the std used), frac_reward_zero_std (fraction of prompt
     * groups whose rewards are all equal), groups (non-empty prompt groups).
     */
    public Map<String, Double> advantages(Kernels k, GrpoBatch b) {
        if (b.rewards() == null || b.groups() == null) throw new IllegalArgumentException("grpo advantages need rewards and groups");
        k.grpoAdvantages(metrics.on(k), b.advantages(), b.rewards(), b.groups(), b.rows(), b.numGroups(), scale);
        float[] m = metrics.read(k);
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("reward", (double) m[LossOps.MEAN_REWARD]);
        out.put("reward_std", (double) m[LossOps.REWARD_STD]);
        out.put("frac_reward_zero_std", (double) m[LossOps.ZERO_STD_FRAC]);
        out.put("groups", (double) m[LossOps.COUNT]);
        return out;
    }

    /**
     * The loss of one minibatch; dlogp[B·T] (=) its gradient wrt the per-token log-probs.
     * Metrics, in order: loss, kl (token mean of k3; when refLogp is given), clip_ratio_low,
     * clip_ratio_high, clip_ratio (TRL's clip_ratio/low_mean, high_mean, region_mean), tokens,
     * entropy (when given).
     */
    public LossResult compute(Kernels k, GrpoBatch b, MemorySegment dlogp) {
        if (b.logp() == null || b.oldLogp() == null || b.mask() == null)
            throw new IllegalArgumentException("grpo needs logp, oldLogp and mask in its batch");
        if (needsReference() && b.refLogp() == null)
            throw new IllegalArgumentException("grpo with beta != 0 needs refLogp in its batch");
        if (lossType == LossOps.AGG_DR_GRPO && b.maxCompletionLength() < 1)
            throw new IllegalArgumentException("dr_grpo needs the batch's maxCompletionLength >= 1");
        k.grpoLoss(metrics.on(k), dlogp, b.logp(), b.oldLogp(), b.refLogp(), b.advantages(), b.mask(), b.rows(), b.T(),
                lossType, level, (float) cfg.epsilon(), (float) cfg.effectiveEpsilonHigh(), (float) cfg.beta(),
                b.maxCompletionLength());
        float[] m = metrics.read(k);
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("loss", (double) m[LossOps.LOSS]);
        if (b.refLogp() != null) out.put("kl", (double) m[LossOps.KL]);
        out.put("clip_ratio_low", (double) m[LossOps.CLIP_LOW_FRAC]);
        out.put("clip_ratio_high", (double) m[LossOps.CLIP_HIGH_FRAC]);
        out.put("clip_ratio", (double) m[LossOps.CLIP_FRAC]);
        out.put("tokens", (double) m[LossOps.COUNT]);
        if (!Double.isNaN(b.meanEntropy())) out.put("entropy", b.meanEntropy());
        return new LossResult(m[LossOps.LOSS], out);
    }
}
