package io.pref4j.loss;

import io.pref4j.kernel.Kernels;
import io.pref4j.kernel.Kernels.LossOps;

import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * PPO at token level (Ziegler et al. / TRL style). Once per rollout,
 * {@link #advantages} computes per-token rewards (−c·(old_logp − ref), plus the sequence
 * score at the last response token), GAE(γ, λ) from the rollout's values, the returns, and
 * whitens the advantages over the rollout batch ({@link Kernels#ppoAdvantages}). Then, for
 * each epoch and minibatch, {@link #compute} gives the clipped surrogate plus vf_coef times
 * the clipped value loss and the per-token gradients wrt log-probs and values
 * ({@link Kernels#ppoLoss}). The KL coefficient c comes from {@link #klController()},
 * which the trainer updates after each rollout with the "kl" metric of {@link #advantages}.
 */
public final class PpoLoss implements Loss {
    private final LossConfig cfg;
    private final AdaptiveKlController kl;
    private final MetricsBuffer metrics = new MetricsBuffer();

    PpoLoss(LossConfig cfg) {
        if (!cfg.type().equals("ppo")) throw new IllegalArgumentException("not ppo: " + cfg.type());
        this.cfg = cfg;
        this.kl = new AdaptiveKlController(cfg.klCoef(), cfg.targetKl(), cfg.klHorizon(), cfg.adaptiveKl());
    }

    @Override public LossConfig config() {
        return cfg;
    }

    public AdaptiveKlController klController() {
        return kl;
    }

    /**
     * Fills b.advantages() and b.returns() from the rollout (oldLogp, refLogp, oldValues,
     * scores, mask). Metrics, in order: reward (mean score), kl (mean over rows of
     * Σ_t (old_logp − ref)), return_mean, tokens, kl_coef (the coefficient used).
     */
    public Map<String, Double> advantages(Kernels k, PpoBatch b) {
        double c = kl.coef();
        k.ppoAdvantages(metrics.on(k), b.advantages(), b.returns(), b.oldLogp(), b.refLogp(), b.oldValues(),
                b.scores(), b.mask(), b.rows(), b.T(), (float) c, (float) cfg.gamma(), (float) cfg.lambda(),
                cfg.whiten());
        float[] m = metrics.read(k);
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("reward", (double) m[LossOps.MEAN_REWARD]);
        out.put("kl", (double) m[LossOps.KL]);
        out.put("return_mean", (double) m[LossOps.MEAN_RETURN]);
        out.put("tokens", (double) m[LossOps.COUNT]);
        out.put("kl_coef", c);
        return out;
    }

    /**
     * The PPO loss of one minibatch; dlogp[B·T] and dvalue[B·T] (=) its gradients wrt the
     * per-token log-probs and value-head outputs. Metrics, in order: loss, policy_loss,
     * value_loss (before vf_coef), clip_frac, approx_kl, tokens, entropy (when given).
     */
    public LossResult compute(Kernels k, PpoBatch b, MemorySegment dlogp, MemorySegment dvalue) {
        k.ppoLoss(metrics.on(k), dlogp, dvalue, b.logp(), b.oldLogp(), b.values(), b.oldValues(), b.advantages(),
                b.returns(), b.mask(), b.rows(), b.T(), (float) cfg.ppoClip(), (float) cfg.ppoValueClip(),
                (float) cfg.vfCoef());
        float[] m = metrics.read(k);
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("loss", (double) m[LossOps.LOSS]);
        out.put("policy_loss", (double) m[LossOps.POLICY_LOSS]);
        out.put("value_loss", (double) m[LossOps.VALUE_LOSS]);
        out.put("clip_frac", (double) m[LossOps.CLIP_FRAC]);
        out.put("approx_kl", (double) m[LossOps.APPROX_KL]);
        out.put("tokens", (double) m[LossOps.COUNT]);
        if (!Double.isNaN(b.meanEntropy())) out.put("entropy", b.meanEntropy());
        return new LossResult(m[LossOps.LOSS], out);
    }
}
