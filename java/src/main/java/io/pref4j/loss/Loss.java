package io.pref4j.loss;

/**
 * A configured loss of SPEC §2, made by {@link Losses#create}. The family decides the batch
 * it takes: {@link PairwiseLoss} (dpo, ipo, hinge, wdpo, simpo, orpo), {@link SampleLoss}
 * (sft/nll, rwr, bon, reinforce), {@link PpoLoss}, {@link GrpoLoss} or {@link KtoLoss}.
 */
public sealed interface Loss permits PairwiseLoss, SampleLoss, PpoLoss, GrpoLoss, KtoLoss {
    LossConfig config();
}
