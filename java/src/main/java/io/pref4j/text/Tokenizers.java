package io.pref4j.text;

import io.pref4j.UserInputException;

import java.util.List;
import java.util.Locale;

/** Looks tokenizers up by the names configs and the CLI use. */
public final class Tokenizers {

    /** Names {@link #byName} accepts. */
    public static final List<String> NAMES = List.of("byte", "gpt2");

    private Tokenizers() {
    }

    /**
     * {@code "byte"} → {@link ByteTokenizer}, {@code "gpt2"} (or {@code "r50k_base"}) →
     * {@link Gpt2Tokenizer}; case-insensitive.
     *
     * @throws UserInputException for any other name
     */
    public static Tokenizer byName(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        return switch (n) {
            case "byte" -> ByteTokenizer.INSTANCE;
            case "gpt2", "r50k_base" -> Gpt2Tokenizer.get();
            default -> throw new UserInputException("unknown tokenizer '" + name
                    + "' (expected one of: " + String.join(", ", NAMES) + ")");
        };
    }
}
