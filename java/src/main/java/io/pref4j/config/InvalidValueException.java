package io.pref4j.config;

import io.pref4j.UserInputException;

/**
 * A config value out of range, thrown from a record's {@code validate()} (through
 * {@link Check}). The key is relative to the record that threw it; {@link Configs} prefixes
 * the record's own dotted path and the source (file or {@code --set}) and rethrows a
 * {@link UserInputException} with the full message.
 */
public final class InvalidValueException extends UserInputException {
    private final String key;
    private final String problem;

    /**
     * @param key     the offending key, relative to the validating record ({@code "reuse"}, or
     *                {@code "loop.reuse"} when a parent record checks a child's field)
     * @param problem what is wrong, without the key ({@code "must be at least 1, got 0"})
     */
    public InvalidValueException(String key, String problem) {
        super(key + " " + problem);
        this.key = key;
        this.problem = problem;
    }

    /** The key relative to the record that threw. */
    public String key() {
        return key;
    }

    /** The message without the key. */
    public String problem() {
        return problem;
    }
}
