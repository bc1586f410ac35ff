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

    /**
     * TRL's argument names accepted as top-level keys of a config file and as {@code --set}
     * keys (GRPOConfig, DPOConfig, KTOConfig, TrainingArguments), each another name for one
     * pref4j key. num_iterations is GRPO's μ: passes over each generation batch (loop.reuse).
     */
    static java.util.Map<String, String> aliases() {
        java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
        m.put("beta", "loss.beta");
        m.put("loss_type", "loss.loss_type");
        m.put("epsilon", "loss.epsilon");
        m.put("epsilon_high", "loss.epsilon_high");
        m.put("scale_rewards", "loss.scale_rewards");
        m.put("importance_sampling_level", "loss.importance_sampling_level");
        m.put("num_generations", "loop.responses_per_prompt");
        m.put("num_iterations", "loop.reuse");
        m.put("max_prompt_length", "data.max_prompt_length");
        m.put("max_completion_length", "sampling.max_new_tokens");
        m.put("learning_rate", "optim.lr");
        m.put("per_device_train_batch_size", "loop.minibatch");
        m.put("gradient_accumulation_steps", "loop.grad_accum");
        return m;
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
