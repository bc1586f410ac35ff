package io.pref4j.train;

import io.pref4j.config.TrainConfig;
import io.pref4j.kernel.Kernels;
import io.pref4j.loss.GrpoLoss;
import io.pref4j.loss.KtoLoss;
import io.pref4j.loss.Loss;
import io.pref4j.loss.PairwiseLoss;
import io.pref4j.loss.PpoLoss;
import io.pref4j.loss.SampleLoss;

/** The one place that maps a configured loss to its {@link Objective}. */
final class Objectives {
    private Objectives() {}

    static Objective create(Loss loss, TrainConfig cfg, Kernels k) {
        return switch (loss) {
            case PairwiseLoss pl -> new PairwiseObjective(pl);
            case SampleLoss sl -> new SampleObjective(sl, loss.config().type().equals("sft") || loss.config().type().equals("nll"));
            case KtoLoss kl -> new KtoObjective(kl);
            case GrpoLoss gl -> new GrpoObjective(gl, cfg, k);
            case PpoLoss pl -> new PpoObjective(pl, k);
        };
    }

    /** Examples one prompt gives per iteration under cfg's loss (pairs or responses; for the progress estimate). */
    static int examplesPerPrompt(TrainConfig cfg) {
        return create(io.pref4j.loss.Losses.create(cfg.loss()), cfg, null).examplesPerPrompt(cfg.loop().responsesPerPrompt());
    }
}
