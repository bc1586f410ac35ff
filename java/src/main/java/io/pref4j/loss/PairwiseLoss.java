package io.pref4j.loss;

import io.pref4j.kernel.Kernels;
import io.pref4j.kernel.Kernels.LossOps;

import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * dpo, ipo, hinge (SLiC) and wdpo (OPTune) over pairs of sequences: one call of
 * {@link Kernels#pairwiseLoss}, whose Javadoc defines each loss; and the reference-free,
 * length-normalised simpo and orpo: one call of {@link Kernels#lengthNormPairwiseLoss} (they
 * need {@link PairBatch#lengths()}, not refLogp). Metrics, in order: loss, h_mean (simpo,
 * orpo: the mean argument of the sigmoid), reward_chosen, reward_rejected (implicit rewards
 * β·(logp − ref); simpo β·logp/len, orpo λ·logp/len), margin, accuracy (fraction of pairs
 * whose chosen reward is the larger), weight_mean, pairs, and for orpo nll (the mean SFT
 * term).
 */
public final class PairwiseLoss implements Loss {
    private final LossConfig cfg;
    private final int type, weightMode;
    private final MetricsBuffer metrics = new MetricsBuffer();

    PairwiseLoss(LossConfig cfg) {
        this.cfg = cfg;
        this.type = switch (cfg.type()) {
            case "dpo" -> LossOps.DPO;
            case "ipo" -> LossOps.IPO;
            case "hinge" -> LossOps.HINGE;
            case "wdpo" -> LossOps.WDPO;
            case "simpo" -> LossOps.SIMPO;
            case "orpo" -> LossOps.ORPO;
            default -> throw new IllegalArgumentException("not a pairwise loss: " + cfg.type());
        };
        this.weightMode = switch (cfg.wdpoMode()) {
            case "exp" -> LossOps.WEIGHT_EXP;
            case "sigmoid" -> LossOps.WEIGHT_SIGMOID;
            case "linear" -> LossOps.WEIGHT_LINEAR;
            default -> LossOps.WEIGHT_NONE;
        };
    }

    @Override public LossConfig config() {
        return cfg;
    }

    /** Whether {@link PairBatch#rewards()} is read (wdpo with a weight mode other than none). */
    public boolean needsRewards() {
        return type == LossOps.WDPO && weightMode != LossOps.WEIGHT_NONE;
    }

    /** Whether {@link PairBatch#refLogp()} is read (false for the reference-free simpo and orpo). */
    public boolean needsReference() {
        return !lengthNormalised();
    }

    /** Whether {@link PairBatch#lengths()} is read (simpo and orpo). */
    public boolean needsLengths() {
        return lengthNormalised();
    }

    private boolean lengthNormalised() {
        return type == LossOps.SIMPO || type == LossOps.ORPO;
    }

    /** Computes the loss and its metrics; dlogp[S] (=) ∂loss/∂logp per sequence. */
    public LossResult compute(Kernels k, PairBatch b, MemorySegment dlogp) {
        if (needsRewards() && b.rewards() == null) throw new IllegalArgumentException("wdpo needs rewards");
        if (lengthNormalised()) {
            if (b.lengths() == null) throw new IllegalArgumentException("loss " + cfg.type() + " needs lengths in its batch");
            k.lengthNormPairwiseLoss(metrics.on(k), dlogp, b.logp(), b.lengths(), b.chosenIdx(), b.rejectedIdx(),
                    b.sequences(), b.pairs(), type, (float) cfg.beta(), (float) cfg.labelSmoothing(),
                    (float) cfg.simpoGamma(), (float) cfg.orpoLambda());
        } else {
            if (b.refLogp() == null) throw new IllegalArgumentException("loss " + cfg.type() + " needs refLogp in its batch");
            k.pairwiseLoss(metrics.on(k), dlogp, b.logp(), b.refLogp(), b.rewards(), b.chosenIdx(), b.rejectedIdx(),
                    b.sequences(), b.pairs(), type, weightMode, (float) cfg.beta(), (float) cfg.labelSmoothing(),
                    (float) cfg.ipoTau(), (float) cfg.beta2());
        }
        float[] m = metrics.read(k);
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("loss", (double) m[LossOps.LOSS]);
        out.put("h_mean", (double) m[LossOps.MEAN_H]);
        out.put("reward_chosen", (double) m[LossOps.CHOSEN_REWARD]);
        out.put("reward_rejected", (double) m[LossOps.REJECTED_REWARD]);
        out.put("margin", (double) m[LossOps.MARGIN]);
        out.put("accuracy", (double) m[LossOps.ACCURACY]);
        out.put("weight_mean", (double) m[LossOps.MEAN_WEIGHT]);
        out.put("pairs", (double) m[LossOps.COUNT]);
        if (type == LossOps.ORPO) out.put("nll", (double) m[LossOps.NLL]);
        return new LossResult(m[LossOps.LOSS], out);
    }
}
