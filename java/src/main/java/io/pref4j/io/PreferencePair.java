package io.pref4j.io;

/**
 * A preference pair in text form: {@code {"prompt", "chosen", "rejected"}}.
 *
 * @param prompt   the prompt
 * @param chosen   the preferred completion
 * @param rejected the dispreferred completion
 * @param source   the line it came from (all its fields), or null when built in code
 */
public record PreferencePair(String prompt, String chosen, String rejected, JsonlLine source) {

    /** A pair built in code, without a source line. */
    public PreferencePair(String prompt, String chosen, String rejected) {
        this(prompt, chosen, rejected, null);
    }
}
