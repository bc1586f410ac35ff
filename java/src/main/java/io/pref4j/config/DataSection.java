package io.pref4j.config;

/** Dataset files (JSONL) and the field names to read from them. */
@Doc("Datasets: JSONL files in the layout TRL uses.")
public record DataSection(
        @Doc("Prompt pool for online sampling: JSONL lines {\"prompt\": ...} (a string, a message list, or prompt_ids); null = the prompts of data.preferences.") @Nullable String prompts,
        @Doc("Preference pairs for offline training and mixing, in any of TRL's forms: {\"prompt\", \"chosen\", \"rejected\"} strings, conversational message lists (rendered with the model's chat template), implicit prompt (chosen/rejected only), or *_ids arrays (docs/formats.md); null = none.") @Nullable String preferences,
        @Doc("Held-out prompts scored every loop.eval_every iterations; null = no evaluation.") @Nullable String evalPrompts,
        @Doc("Name of the prompt field in the JSONL lines.") String promptField,
        @Doc("Name of the preferred-response field in preference lines.") String chosenField,
        @Doc("Name of the dispreferred-response field in preference lines.") String rejectedField,
        @Doc("Longest prompt in tokens: longer prompts keep their last max_prompt_length tokens (TRL truncates on the left too); 0 = no limit.") int maxPromptLength) {

    public static DataSection defaults() {
        return new DataSection(null, null, null, "prompt", "chosen", "rejected", 0);
    }

    void validate() {
        Check.that(prompts == null || !prompts.isBlank(), "prompts", "must not be empty (use null for none)");
        Check.that(preferences == null || !preferences.isBlank(), "preferences", "must not be empty (use null for none)");
        Check.that(evalPrompts == null || !evalPrompts.isBlank(), "eval_prompts", "must not be empty (use null for none)");
        Check.notBlank("prompt_field", promptField);
        Check.notBlank("chosen_field", chosenField);
        Check.notBlank("rejected_field", rejectedField);
        Check.atLeast("max_prompt_length", maxPromptLength, 0);
    }
}
