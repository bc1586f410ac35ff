package io.pref4j.loss;

/**
 * The KL-in-reward coefficient of PPO. Adaptive (Ziegler et al. 2019, "Fine-Tuning Language
 * Models from Human Preferences"): after each rollout batch with measured KL(π‖π_ref) (the
 * mean over sequences of Σ_t (logp − ref)) of nSteps samples,
 * c ← c·(1 + clip(KL/target − 1, −0.2, 0.2)·nSteps/horizon). Fixed: c never changes.
 */
public final class AdaptiveKlController {
    private double coef;
    private final double target, horizon;
    private final boolean adaptive;

    public AdaptiveKlController(double initCoef, double target, double horizon, boolean adaptive) {
        if (!(initCoef >= 0)) throw new IllegalArgumentException("initial KL coefficient must be >= 0");
        if (adaptive && !(target > 0 && horizon > 0)) throw new IllegalArgumentException("target and horizon must be > 0");
        this.coef = initCoef;
        this.target = target;
        this.horizon = horizon;
        this.adaptive = adaptive;
    }

    public double coef() {
        return coef;
    }

    /** Restores a coefficient (checkpoint resume). */
    public void setCoef(double c) {
        this.coef = c;
    }

    /** Updates the coefficient after a rollout batch of nSteps samples; returns it. */
    public double update(double kl, long nSteps) {
        if (adaptive) {
            double err = Math.max(-0.2, Math.min(0.2, kl / target - 1));
            coef *= 1 + err * nSteps / horizon;
        }
        return coef;
    }
}
