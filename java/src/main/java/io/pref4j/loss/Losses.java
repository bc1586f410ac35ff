package io.pref4j.loss;

/** Makes the loss a config names, after validating it. */
public final class Losses {
    private Losses() {}

    /**
     * A {@link PairwiseLoss} (dpo, ipo, hinge, wdpo), {@link SampleLoss} (sft, nll, rwr, bon,
     * reinforce) or {@link PpoLoss} (ppo). Throws {@link io.pref4j.UserInputException} for
     * an unknown type or an out-of-range parameter.
     */
    public static Loss create(LossConfig cfg) {
        cfg.check();
        return switch (cfg.type()) {
            case "dpo", "ipo", "hinge", "wdpo" -> new PairwiseLoss(cfg);
            case "ppo" -> new PpoLoss(cfg);
            default -> new SampleLoss(cfg);
        };
    }
}
