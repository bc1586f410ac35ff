package io.pref4j.loss;

import io.pref4j.kernel.Kernels;
import io.pref4j.kernel.Kernels.LossOps;

import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * KTO (TRL's KTOTrainer, loss_type sigmoid): one call of {@link Kernels#ktoLoss}, whose
 * Javadoc defines it. Config: beta, desirable_weight, undesirable_weight. The reference point
 * z_ref comes with the batch; {@link #klEstimate} computes it as TRL does from the
 * log-probs of mismatched prompt–completion pairs (TRL pairs each prompt with the next
 * example's completion). Metrics, in order: loss, reward_chosen, reward_rejected (mean
 * β·(logp − ref) over the desirable and the undesirable examples; 0 where there are none),
 * kl (the z_ref used), weight_mean, count.
 */
public final class KtoLoss implements Loss {
    private final LossConfig cfg;
    private final MetricsBuffer metrics = new MetricsBuffer();

    KtoLoss(LossConfig cfg) {
        if (!cfg.type().equals("kto")) throw new IllegalArgumentException("not kto: " + cfg.type());
        this.cfg = cfg;
    }

    @Override public LossConfig config() {
        return cfg;
    }

    /**
     * TRL's KL reference point: max(0, mean over the K mismatched pairs of (logp − ref)),
     * accumulated in double (0 when K = 0). Reads the two [K] buffers back (synchronises).
     */
    public static double klEstimate(Kernels k, MemorySegment klLogp, MemorySegment klRefLogp, int K) {
        if (K == 0) return 0;
        float[] a = new float[K], r = new float[K];
        k.read(klLogp, a);
        k.read(klRefLogp, r);
        double s = 0;
        for (int i = 0; i < K; i++) s += (double) a[i] - r[i];
        return Math.max(0, s / K);
    }

    /** Computes the loss and its metrics; dlogp[S] (=) ∂loss/∂logp per sequence. */
    public LossResult compute(Kernels k, KtoBatch b, MemorySegment dlogp) {
        k.ktoLoss(metrics.on(k), dlogp, b.logp(), b.refLogp(), b.labels(), b.sequences(), (float) cfg.beta(),
                (float) b.zRef(), (float) cfg.desirableWeight(), (float) cfg.undesirableWeight());
        float[] m = metrics.read(k);
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("loss", (double) m[LossOps.LOSS]);
        out.put("reward_chosen", (double) m[LossOps.CHOSEN_REWARD]);
        out.put("reward_rejected", (double) m[LossOps.REJECTED_REWARD]);
        out.put("kl", (double) m[LossOps.KL]);
        out.put("weight_mean", (double) m[LossOps.MEAN_WEIGHT]);
        out.put("count", (double) m[LossOps.COUNT]);
        return new LossResult(m[LossOps.LOSS], out);
    }
}
