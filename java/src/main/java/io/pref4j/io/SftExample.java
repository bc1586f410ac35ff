package io.pref4j.io;

/**
 * A supervised example in text form: {@code {"prompt", "completion"}}.
 *
 * @param prompt     the prompt
 * @param completion the target completion
 * @param source     the line it came from (all its fields), or null when built in code
 */
public record SftExample(String prompt, String completion, JsonlLine source) {

    /** An example built in code, without a source line. */
    public SftExample(String prompt, String completion) {
        this(prompt, completion, null);
    }
}
