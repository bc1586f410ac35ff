package io.pref4j.config;

import java.nio.file.Path;
import java.util.List;

/**
 * The training engine's whole config (SPEC §3): one record per section. Load it with
 * {@link #load}; a run writes its resolved form ({@link Configs#toJson}) beside its outputs.
 * docs/config.md lists every key and is generated from this record
 * ({@link ConfigDoc}).
 */
@Doc("The training engine's config.")
public record TrainConfig(
        @Doc("The run: its name, output folder, seed and device.") RunSection run,
        @Doc("The starting policy and tokenizer.") ModelSection model,
        @Doc("Datasets (JSONL).") DataSection data,
        @Doc("The loop of SPEC §3.") LoopSection loop,
        @Doc("The optimiser.") OptimSection optim,
        @Doc("Sampling of online responses.") SamplingSection sampling,
        @Doc("OPTune's partial regeneration.") OptuneSection optune,
        @Doc("Loss (SPEC §2).") io.pref4j.loss.LossConfig loss,
        @Doc("Reward source (SPEC §4).") io.pref4j.reward.RewardConfig reward,
        @Doc("Checkpoints.") CheckpointSection checkpoint,
        @Doc("Logging.") LogSection log) {

    public static TrainConfig defaults() {
        return new TrainConfig(RunSection.defaults(), ModelSection.defaults(), DataSection.defaults(),
                LoopSection.defaults(), OptimSection.defaults(), SamplingSection.defaults(),
                OptuneSection.defaults(), io.pref4j.loss.LossConfig.defaults(), io.pref4j.reward.RewardConfig.defaults(),
                CheckpointSection.defaults(), LogSection.defaults());
    }

    /** Defaults, then the file (may be null), then {@code --set} overrides; validated. */
    public static TrainConfig load(Path file, List<String> overrides) {
        return Configs.load(TrainConfig.class, file, overrides);
    }

    /** Checks across sections (each section checks its own keys first). */
    void validate() {
        Check.that(!optune.enabled() || loop.mode() == LoopSection.Mode.ONLINE, "optune.enabled",
                "needs loop.mode = online (OPTune regenerates responses)");
        Check.that(!optune.enabled() || loop.responsesPerPrompt() >= 2, "loop.responses_per_prompt",
                "must be at least 2 with OPTune (pairs need two responses), got " + loop.responsesPerPrompt());
    }
}
