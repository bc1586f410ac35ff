package io.pref4j;

/**
 * Bad user input: a config field, a data line, a model file, a token id. The CLI prints
 * its message as one line and exits with status 2 (a stack trace only with --debug).
 * Messages name the file (and line) and say what was expected.
 */
public class UserInputException extends RuntimeException {
    public UserInputException(String message) {
        super(message);
    }

    public UserInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
