package io.pref4j.loss;

/** Makes the loss a config names, after validating it. */
public final class Losses {
    private Losses() {}

    /**
     * A {@link PairwiseLoss} (dpo, ipo, hinge, wdpo, simpo, orpo), {@link SampleLoss} (sft,
     * nll, rwr, bon, reinforce), {@link PpoLoss} (ppo), {@link GrpoLoss} (grpo) or
     * {@link KtoLoss} (kto). Throws {@link io.pref4j.UserInputException} for an unknown type
     * or an out-of-range parameter.
     */
    public static Loss create(LossConfig cfg) {
        cfg.check();
        return switch (cfg.type()) {
            case "dpo", "ipo", "hinge", "wdpo", "simpo", "orpo" -> new PairwiseLoss(cfg);
            case "ppo" -> new PpoLoss(cfg);
            case "grpo" -> new GrpoLoss(cfg);
            case "kto" -> new KtoLoss(cfg);
            default -> new SampleLoss(cfg);
        };
    }
}
