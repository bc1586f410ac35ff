package io.pref4j.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.config.TrainConfig;
import io.pref4j.kernel.Kernels;
import io.pref4j.loss.LossResult;
import io.pref4j.model.CausalLm;

import java.util.List;
import java.util.Map;

/**
 * A family of training signal (SPEC §2) as the {@link Engine} sees it: what each new
 * response needs computed, how one prompt's stored responses become training units, and
 * the loss-and-backward of one minibatch through its fused loss. Made by
 * {@link Objectives#create}, the only place that looks at the loss type. Implementations:
 * {@link PairwiseObjective} (dpo, ipo, hinge, wdpo, simpo, orpo), {@link SampleObjective}
 * (sft, rwr, bon, reinforce/rloo), {@link KtoObjective}, {@link GrpoObjective} (grpo, dapo,
 * dr_grpo, bnpo, GSPO) and {@link PpoObjective}.
 */
interface Objective {

    /** Whether new responses need Σ log π_ref (their reference pass). */
    boolean needsReference();

    /** Whether new responses need π_ref's per-token log-probs. */
    default boolean needsReferenceTokens() {
        return false;
    }

    /** Whether generation keeps the per-token log-probs of the sampling policy (the "old" policy). */
    default boolean needsOldTokens() {
        return false;
    }

    /** Whether new responses need the rollout's value-head outputs (PPO). */
    default boolean needsOldValues() {
        return false;
    }

    /** Whether offline data are scored by the reward source (for the metrics or the loss). */
    default boolean scoresOfflineData() {
        return true;
    }

    /**
     * Whether a prompt whose responses all got one reward gives no signal (GRPO: zero
     * advantages); pairwise objectives build no pair then, which the engine sees anyway.
     */
    default boolean needsRewardSpread() {
        return false;
    }

    /** Whether offline data may hold unpaired labelled completions (KTO's form). */
    default boolean acceptsUnpaired() {
        return false;
    }

    /** Throws a UserInputException when the config or model cannot run this objective. */
    default void check(TrainConfig cfg, CausalLm policy, boolean hasOfflineData) {}

    /**
     * The training units of one prompt's stored responses: minibatches are made of whole
     * units (a pair, a prompt group, a row). offline: the responses come from the data.
     */
    List<List<Engine.Example>> units(Engine.Stored s, boolean offline);

    /** The most examples one minibatch may hold, given loop.minibatch M. */
    int minibatchCap(int M, int maxRows);

    /** Once per iteration before its passes, over every example of the iteration; returns metrics for each step. */
    default Map<String, Double> beginRollout(PolicyPass p, List<Engine.Example> all) {
        return Map.of();
    }

    /** The minibatch's forward, fused loss and backward (accumulating into the policy's gradients). */
    LossResult lossAndBackward(PolicyPass p, List<Engine.Example> mb);

    /** Once per iteration after its passes. */
    default void endRollout(List<Engine.Example> all) {}

    /** Writes the objective's own state into a checkpoint's state object. */
    default void save(ObjectNode state) {}

    /** Restores {@link #save}'s state. */
    default void restore(Kernels k, ObjectNode state) {}

    /** Examples one prompt gives per iteration (for the progress ETA): pairs or responses. */
    default int examplesPerPrompt(int responsesPerPrompt) {
        return responsesPerPrompt;
    }
}
