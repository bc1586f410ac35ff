package io.pref4j.train;

import io.pref4j.kernel.Kernels;
import io.pref4j.model.ParameterLayout;

import java.lang.foreign.MemorySegment;

/**
 * AdamW over a model's flat parameter buffer: one kernel call for the weight-decayed
 * matrices (the layout's prefix) and one for the rest, plus global gradient-norm
 * clipping. Moments live in two flat buffers of the same layout.
 */
public final class AdamW {
    private final Kernels k;
    private final MemorySegment params, grads, m, v;
    private final long size, decayed;
    private final float beta1, beta2, eps, weightDecay;
    private int step;

    public AdamW(Kernels k, ParameterLayout layout, MemorySegment params, MemorySegment grads,
                 float beta1, float beta2, float eps, float weightDecay) {
        this.k = k;
        this.params = params;
        this.grads = grads;
        this.size = layout.size();
        this.decayed = layout.decayedSize();
        this.m = k.allocFloats(size);
        this.v = k.allocFloats(size);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    /** GPT-style defaults: β = (0.9, 0.95), eps 1e-8. */
    public AdamW(Kernels k, ParameterLayout layout, MemorySegment params, MemorySegment grads, float weightDecay) {
        this(k, layout, params, grads, 0.9f, 0.95f, 1e-8f, weightDecay);
    }

    /** The global L2 norm of the gradients. */
    public double gradNorm() {
        return Math.sqrt(k.sumSquares(grads, size));
    }

    /**
     * Scales the gradients so their global norm is at most maxNorm (no-op when maxNorm ≤ 0
     * or the norm is smaller). Returns the norm before clipping.
     */
    public double clipGradNorm(double maxNorm) {
        double norm = gradNorm();
        if (maxNorm > 0 && norm > maxNorm) k.scale(grads, size, (float) (maxNorm / (norm + 1e-6)));
        return norm;
    }

    /** One update with learning rate lr. */
    public void step(float lr) {
        step++;
        long bytes = decayed * 4;
        if (decayed > 0) k.adamw(params, grads, m, v, decayed, lr, beta1, beta2, eps, weightDecay, step);
        if (size > decayed) {
            k.adamw(params.asSlice(bytes), grads.asSlice(bytes), m.asSlice(bytes), v.asSlice(bytes),
                    size - decayed, lr, beta1, beta2, eps, 0f, step);
        }
    }

    public int stepCount() { return step; }

    /** Sets the update count (for resuming: bias correction continues from it). */
    public void restoreStep(int steps) {
        if (steps < 0) throw new IllegalArgumentException("steps must be >= 0");
        this.step = steps;
    }
    public MemorySegment firstMoment() { return m; }
    public MemorySegment secondMoment() { return v; }

    /**
     * {@link #cosineLr(int, int, int, float, float)} computed in double and rounded once (the
     * training loop's schedule, whose peak is a config double).
     */
    public static float cosineLr(int step, int warmup, int totalSteps, double peak, double minFraction) {
        if (step < warmup) return (float) (peak * (step + 1) / warmup);
        if (step >= totalSteps) return (float) (peak * minFraction);
        double progress = (double) (step - warmup) / Math.max(1, totalSteps - warmup);
        double cos = 0.5 * (1 + Math.cos(Math.PI * progress));
        return (float) (peak * (minFraction + (1 - minFraction) * cos));
    }

    /** Linear warm-up to peak, then cosine decay to minFraction·peak at totalSteps. */
    public static float cosineLr(int step, int warmup, int totalSteps, float peak, float minFraction) {
        if (step < warmup) return peak * (step + 1) / warmup;
        if (step >= totalSteps) return peak * minFraction;
        double progress = (double) (step - warmup) / Math.max(1, totalSteps - warmup);
        double cos = 0.5 * (1 + Math.cos(Math.PI * progress));
        return (float) (peak * (minFraction + (1 - minFraction) * cos));
    }
}
