package io.pref4j.loss;

import io.pref4j.kernel.Kernels;
import io.pref4j.kernel.Kernels.LossOps;

import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The per-sample losses: sft/nll (also Pref-FT), rwr, bon (best-of-N) and reinforce, each
 * one fused kernel call ({@link Kernels#sftLoss}, {@link Kernels#rwrLoss},
 * {@link Kernels#bestOfNLoss}, {@link Kernels#reinforceLoss}, whose Javadoc defines them).
 * Metrics, in order: loss, weight_mean (reinforce: advantage_mean), count (sequences;
 * bon: prompt groups), then reward and kl when the batch has rewards and reference
 * log-probs, and entropy when the caller gives it. The reinforce moving-average baseline
 * keeps its state in this object ({@link #baselineState()}).
 */
public final class SampleLoss implements Loss {
    private final LossConfig cfg;
    private final String type;
    private final MetricsBuffer metrics = new MetricsBuffer();
    private Kernels stateOwner;
    private MemorySegment state;
    private final float[] stateHost = new float[2];

    SampleLoss(LossConfig cfg) {
        this.cfg = cfg;
        this.type = cfg.type().equals("nll") ? "sft" : cfg.type();
        if (!type.equals("sft") && !type.equals("rwr") && !type.equals("bon") && !type.equals("reinforce"))
            throw new IllegalArgumentException("not a per-sample loss: " + cfg.type());
    }

    @Override public LossConfig config() {
        return cfg;
    }

    /** The fewest responses per prompt this loss accepts (2 for the rloo baseline, else 1). */
    public int minGroupSize() {
        return type.equals("reinforce") && cfg.baseline().equals("rloo") ? 2 : 1;
    }

    /** Computes the loss and its metrics; dlogp[S] (=) ∂loss/∂logp per sequence. */
    public LossResult compute(Kernels k, SampleBatch b, MemorySegment dlogp) {
        MemorySegment mb = metrics.on(k);
        int S = b.sequences(), G = b.numGroups();
        switch (type) {
            case "sft" -> {
                require(b.lengths(), "lengths");
                k.sftLoss(mb, dlogp, b.logp(), b.refLogp(), b.lengths(), b.rewards(), S);
            }
            case "rwr" -> {
                boolean filter = cfg.rwrMode().equals("filter");
                require(b.lengths(), "lengths");
                require(b.rewards(), "rewards");
                if (filter) require(b.groups(), "groups");
                k.rwrLoss(mb, dlogp, b.logp(), b.refLogp(), b.lengths(), b.rewards(), b.groups(), S, G, filter,
                        cfg.rwrTopK(), (float) cfg.rwrTau(), (float) cfg.rwrWMax());
            }
            case "bon" -> {
                require(b.rewards(), "rewards");
                require(b.groups(), "groups");
                int mode = switch (cfg.bonNegative()) {
                    case "average_over_worse" -> LossOps.NEG_AVERAGE_OVER_WORSE;
                    case "worst" -> LossOps.NEG_WORST;
                    default -> LossOps.NEG_NONE;
                };
                k.bestOfNLoss(mb, dlogp, b.logp(), b.refLogp(), b.rewards(), b.groups(), S, G, mode,
                        (float) cfg.bonBetaNeg());
            }
            default -> {
                require(b.rewards(), "rewards");
                int baseline = switch (cfg.baseline()) {
                    case "moving_average" -> LossOps.BASELINE_MOVING_AVERAGE;
                    case "batch_mean" -> LossOps.BASELINE_BATCH_MEAN;
                    case "per_prompt_mean" -> LossOps.BASELINE_PER_PROMPT_MEAN;
                    case "rloo" -> LossOps.BASELINE_RLOO;
                    default -> LossOps.BASELINE_NONE;
                };
                if (baseline == LossOps.BASELINE_PER_PROMPT_MEAN || baseline == LossOps.BASELINE_RLOO)
                    require(b.groups(), "groups");
                if (cfg.klCoef() != 0) require(b.refLogp(), "refLogp (the KL penalty)");
                k.reinforceLoss(mb, dlogp, stateOn(k), b.logp(), b.refLogp(), b.rewards(), b.groups(), S, G,
                        baseline, (float) cfg.baselineDecay(), (float) cfg.klCoef(), (float) cfg.advClip());
            }
        }
        float[] m = metrics.read(k);
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("loss", (double) m[LossOps.LOSS]);
        out.put(type.equals("reinforce") ? "advantage_mean" : "weight_mean", (double) m[LossOps.MEAN_WEIGHT]);
        out.put("count", (double) m[LossOps.COUNT]);
        if (b.rewards() != null) out.put("reward", (double) m[LossOps.MEAN_REWARD]);
        if (b.refLogp() != null) out.put("kl", (double) m[LossOps.KL]);
        if (!Double.isNaN(b.meanEntropy())) out.put("entropy", b.meanEntropy());
        return new LossResult(m[LossOps.LOSS], out);
    }

    /**
     * The moving-average baseline's state {value, initialised (0 or 1)} for checkpoints;
     * {0, 0} before the first call.
     */
    public double[] baselineState() {
        if (state == null) return new double[2];
        stateOwner.read(state, stateHost);
        return new double[]{stateHost[0], stateHost[1]};
    }

    /** Restores {@link #baselineState()} on backend k. */
    public void setBaselineState(Kernels k, double value, boolean initialised) {
        k.write(stateOn(k), new float[]{(float) value, initialised ? 1f : 0f});
    }

    private MemorySegment stateOn(Kernels k) {
        if (stateOwner != k) {
            state = k.allocFloats(2);
            stateOwner = k;
        }
        return state;
    }

    private void require(MemorySegment x, String what) {
        if (x == null) throw new IllegalArgumentException("loss " + cfg.type() + " needs " + what + " in its batch");
    }
}
