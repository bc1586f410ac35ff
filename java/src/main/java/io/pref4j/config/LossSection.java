package io.pref4j.config;

import java.util.List;

/** Placeholder for the loss config (io.pref4j.loss.LossConfig replaces it). */
@Doc("The loss (SPEC §2).")
public record LossSection(
        @Doc("Loss: sft, dpo, ipo, hinge, wdpo, rwr, bon, reinforce or ppo.") String type,
        @Doc("β of the DPO-family losses.") double beta) {

    /** The loss names of SPEC §2. */
    public static final List<String> TYPES =
            List.of("sft", "nll", "dpo", "ipo", "hinge", "wdpo", "rwr", "bon", "reinforce", "ppo");

    public static LossSection defaults() {
        return new LossSection("dpo", 0.1);
    }

    void validate() {
        Check.oneOf("type", type, TYPES);
        Check.positive("beta", beta);
    }
}
