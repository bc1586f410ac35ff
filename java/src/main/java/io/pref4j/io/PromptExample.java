package io.pref4j.io;

/**
 * A prompt for online methods: {@code {"prompt"}} (other fields, such as a reference
 * answer for a scorer, stay in {@code source}).
 *
 * @param prompt the prompt
 * @param source the line it came from (all its fields), or null when built in code
 */
public record PromptExample(String prompt, JsonlLine source) {

    /** A prompt built in code, without a source line. */
    public PromptExample(String prompt) {
        this(prompt, null);
    }
}
