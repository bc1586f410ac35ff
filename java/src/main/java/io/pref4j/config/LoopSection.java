package io.pref4j.config;

/** The iteration of SPEC §3: batch, responses, pairs, reuse. */
@Doc("The loop: each iteration takes B prompts, obtains C responses per prompt, scores them, builds examples and trains T passes over them.")
public record LoopSection(
        @Doc("online = sample responses from the current policy; offline = take them from data.preferences.") Mode mode,
        @Doc("Number of iterations of the loop.") int iterations,
        @Doc("B: prompts per iteration.") int promptBatch,
        @Doc("C: responses sampled per prompt (online).") int responsesPerPrompt,
        @Doc("M: examples per minibatch (one forward/backward).") int minibatch,
        @Doc("T: passes over each iteration's examples (sample reuse; PPO epochs).") int reuse,
        @Doc("Minibatches whose gradients are accumulated before one optimiser step.") int gradAccum,
        @Doc("m: fraction of each batch taken from the offline data (0 = purely online, 1 = purely offline).") double mixing,
        @Doc("Pairs built from the C responses: best_worst = best vs worst; all = every pair with |Δr| > threshold.") Pairs pairs,
        @Doc("Reward gap below which a pair is dropped.") double threshold,
        @Doc("Evaluate on data.eval_prompts every this many iterations; 0 = never.") int evalEvery) {

    /** Where responses come from. */
    public enum Mode { ONLINE, OFFLINE }

    /** How pairs are built from scored responses. */
    public enum Pairs { BEST_WORST, ALL }

    public static LoopSection defaults() {
        return new LoopSection(Mode.ONLINE, 100, 16, 2, 8, 1, 1, 0.0, Pairs.BEST_WORST, 0.0, 10);
    }

    void validate() {
        Check.atLeast("iterations", iterations, 1);
        Check.atLeast("prompt_batch", promptBatch, 1);
        Check.atLeast("responses_per_prompt", responsesPerPrompt, 1);
        Check.atLeast("minibatch", minibatch, 1);
        Check.atLeast("reuse", reuse, 1);
        Check.atLeast("grad_accum", gradAccum, 1);
        Check.between("mixing", mixing, 0, 1);
        Check.atLeast("threshold", threshold, 0);
        Check.atLeast("eval_every", evalEvery, 0);
    }
}
