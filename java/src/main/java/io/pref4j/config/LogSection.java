package io.pref4j.config;

/** Console output and metrics. */
@Doc("Logging: metrics.jsonl gets every step; the console gets a progress line.")
public record LogSection(
        @Doc("Console line every this many steps (when not live).") int every,
        @Doc("Live progress line: auto = when on a terminal; always; never (plain log lines).") Progress progress,
        @Doc("At the end of a run, sample the final policy on this many prompts (data.eval_prompts, else the pool) and score them into samples.jsonl; 0 = skip that step.") int finalSamples) {

    /** When the live progress line is shown. */
    public enum Progress { AUTO, ALWAYS, NEVER }

    public static LogSection defaults() {
        return new LogSection(1, Progress.AUTO, 64);
    }

    void validate() {
        Check.atLeast("every", every, 1);
        Check.atLeast("final_samples", finalSamples, 0);
    }
}
