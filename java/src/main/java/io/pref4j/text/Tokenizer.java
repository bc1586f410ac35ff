package io.pref4j.text;

import io.pref4j.UserInputException;

/**
 * Text ↔ token ids. Ids are {@code 0 .. vocabSize()-1}; {@link #eosId()} ends a sequence.
 * Implementations are immutable and thread-safe. Obtain one with {@link Tokenizers#byName}.
 */
public interface Tokenizer {

    /** Token ids of {@code text}; special-token spellings in the text are ordinary text. */
    int[] encode(String text);

    /**
     * Text of {@code ids}; bytes that do not form valid UTF-8 become U+FFFD.
     *
     * @throws UserInputException if an id is out of range
     */
    String decode(int[] ids);

    /** Number of ids, specials included. */
    int vocabSize();

    /** Id of the end-of-text token. */
    int eosId();

    /**
     * Every id that ends a generated response: {@link #eosId()} and, for Hugging Face
     * tokenizers, the other ids generation_config.json lists (e.g. Llama 3's
     * {@code <|eot_id|>}).
     */
    default int[] eosIds() {
        return new int[]{eosId()};
    }

    /** The name {@link Tokenizers#byName} knows this tokenizer by. */
    String name();

    /** Whether {@code id} is in {@code 0 .. vocabSize()-1}. */
    default boolean isValid(int id) {
        return id >= 0 && id < vocabSize();
    }

    /**
     * Checks an id.
     *
     * @throws UserInputException if it is out of range
     */
    default void validate(int id) {
        if (!isValid(id)) {
            throw new UserInputException(outOfRange(id));
        }
    }

    /**
     * Checks every id, naming {@code where} (e.g. {@code "data.jsonl:17"}) in the message.
     *
     * @throws UserInputException at the first id out of range
     */
    default void validate(int[] ids, String where) {
        for (int id : ids) {
            if (!isValid(id)) {
                throw new UserInputException(where + ": " + outOfRange(id));
            }
        }
    }

    /** The message for an id out of range. */
    default String outOfRange(int id) {
        return "token id " + id + " is out of range for tokenizer '" + name()
                + "' (expected 0.." + (vocabSize() - 1) + ")";
    }
}
