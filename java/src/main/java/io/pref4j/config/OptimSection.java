package io.pref4j.config;

/** AdamW and its learning-rate schedule. */
@Doc("The optimiser: AdamW with warm-up, a cosine or constant schedule and gradient clipping.")
public record OptimSection(
        @Doc("Peak learning rate.") double lr,
        @Doc("Schedule after warm-up: cosine decays to min_lr_fraction·lr at the last step; constant stays at lr.") Schedule schedule,
        @Doc("Linear warm-up steps.") int warmup,
        @Doc("Final learning rate of the cosine schedule as a fraction of lr.") double minLrFraction,
        @Doc("Decoupled weight decay on the weight matrices (not on biases and LayerNorm).") double weightDecay,
        @Doc("AdamW β1.") double beta1,
        @Doc("AdamW β2 (TRL/HF default 0.999; the length experiments pin the 0.95 they were measured with).") double beta2,
        @Doc("AdamW ε.") double eps,
        @Doc("Global gradient-norm clipping threshold; 0 = no clipping.") double clip) {

    /** Learning-rate schedule after warm-up. */
    public enum Schedule { COSINE, CONSTANT }

    public static OptimSection defaults() {
        return new OptimSection(5e-5, Schedule.COSINE, 0, 0.1, 0.0, 0.9, 0.999, 1e-8, 1.0);   // β as TRL/HF (0.9, 0.999)
    }

    void validate() {
        Check.positive("lr", lr);
        Check.atLeast("warmup", warmup, 0);
        Check.between("min_lr_fraction", minLrFraction, 0, 1);
        Check.atLeast("weight_decay", weightDecay, 0);
        Check.closedOpen("beta1", beta1, 0, 1);
        Check.closedOpen("beta2", beta2, 0, 1);
        Check.positive("eps", eps);
        Check.atLeast("clip", clip, 0);
    }
}
