package io.pref4j.text;

import io.pref4j.UserInputException;

import java.util.Optional;
import java.util.Set;

/**
 * Text ↔ token ids. Ids are {@code 0 .. vocabSize()-1}; {@link #eosId()} ends a sequence,
 * and generation stops on any of {@link #eosIds()}. Implementations are immutable and
 * thread-safe. Obtain one with {@link Tokenizers#byName} or {@link Tokenizers#forModelFolder}.
 */
public interface Tokenizer {

    /**
     * Token ids of {@code text}, without any BOS/EOS added. For the byte and gpt2 tokenizers
     * special-token spellings in the text are ordinary text; a model folder's tokenizer.json
     * ({@link HfTokenizer}) matches its added tokens in the text, as Hugging Face does, which
     * is what chat templates rely on.
     */
    int[] encode(String text);

    /**
     * Text of {@code ids}; bytes that do not form valid UTF-8 become U+FFFD.
     *
     * @throws UserInputException if an id is out of range
     */
    String decode(int[] ids);

    /** Number of ids, specials included. */
    int vocabSize();

    /** Id of the end-of-text token: the one a trainer appends to a response. */
    int eosId();

    /**
     * Every id that ends a generated sequence ({@link #eosId()} and, for a Hugging Face
     * model, each {@code eos_token_id} of generation_config.json, e.g. Llama 3's
     * {@code <|eot_id|>} and {@code <|end_of_text|>}).
     */
    default Set<Integer> eosIds() {
        return Set.of(eosId());
    }

    /** Whether {@code id} ends a generated sequence. */
    default boolean isEos(int id) {
        return eosIds().contains(id);
    }

    /** Ids of the special tokens (EOS, padding, BOS, chat markers, ...). */
    default Set<Integer> specialIds() {
        return eosIds();
    }

    /** The model's chat template, for conversational data; empty when there is none. */
    default Optional<ChatTemplate> chatTemplate() {
        return Optional.empty();
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
