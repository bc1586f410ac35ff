package io.pref4j.text;

import com.fasterxml.jackson.databind.JsonNode;
import io.pref4j.UserInputException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** Looks tokenizers up by the names configs and the CLI use, or in a model folder. */
public final class Tokenizers {

    /** Names {@link #byName} accepts. */
    public static final List<String> NAMES = List.of("byte", "gpt2");

    /** The name of a model folder's tokenizer.json tokenizer ({@link HfTokenizer}). */
    public static final String HF = "hf";

    /** Choices {@link #forModelFolder} accepts. */
    public static final List<String> CHOICES = List.of("auto", HF, "byte", "gpt2");

    /** config.json key where pref4j records the tokenizer a model was trained with. */
    public static final String CONFIG_KEY = "pref4j_tokenizer";

    private Tokenizers() {
    }

    /**
     * {@code "byte"} → {@link ByteTokenizer}, {@code "gpt2"} (or {@code "r50k_base"}) →
     * {@link Gpt2Tokenizer}; case-insensitive.
     *
     * @throws UserInputException for any other name ({@code "hf"} included: that one lives
     *                            in a model folder, see {@link #forModelFolder})
     */
    public static Tokenizer byName(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        return switch (n) {
            case "byte" -> ByteTokenizer.INSTANCE;
            case "gpt2", "r50k_base" -> Gpt2Tokenizer.get();
            case HF -> throw new UserInputException("tokenizer 'hf' is a model folder's tokenizer.json; it is read"
                    + " with the model (expected one of: " + String.join(", ", NAMES) + " by name)");
            default -> throw new UserInputException("unknown tokenizer '" + name
                    + "' (expected one of: " + String.join(", ", NAMES) + ")");
        };
    }

    /**
     * The tokenizer for a model folder.
     * <ul>
     *   <li>{@code "auto"} (or null): the folder's tokenizer.json ({@link HfTokenizer}) when it
     *       has one; else the name config.json records ({@code pref4j_tokenizer}); else by the
     *       model's vocabulary size (50257 = gpt2, 258 = byte);</li>
     *   <li>{@code "hf"}: the folder's tokenizer.json, which must exist;</li>
     *   <li>{@code "byte"}, {@code "gpt2"}: that tokenizer, whatever the folder has.</li>
     * </ul>
     * Checks that the tokenizer's ids fit the model's vocabulary (a model may have more rows
     * than its tokenizer has ids, as Qwen2.5 does, never fewer).
     *
     * @param dir            the model folder (config.json, tokenizer.json, ...)
     * @param modelVocabSize the model's {@code vocab_size}
     * @param choice         {@code auto}, {@code hf}, {@code byte} or {@code gpt2}
     * @throws UserInputException if the choice is unknown, the tokenizer cannot be read or
     *                            told, or its ids do not fit the model
     */
    public static Tokenizer forModelFolder(Path dir, int modelVocabSize, String choice) {
        String c = choice == null ? "auto" : choice.trim().toLowerCase(Locale.ROOT);
        Path config = dir.resolve("config.json");
        Tokenizer tok;
        switch (c) {
            case "auto" -> {
                if (HfTokenizer.existsIn(dir)) {
                    tok = HfTokenizer.load(dir);
                } else {
                    String named = recordedName(config);
                    if (named != null && named.trim().equalsIgnoreCase(HF)) {
                        throw new UserInputException(config + ": " + CONFIG_KEY + " is \"hf\" but the folder has no "
                                + HfTokenizer.TOKENIZER_JSON);
                    }
                    if (named != null) tok = byName(named);
                    else if (modelVocabSize == Gpt2Tokenizer.VOCAB_SIZE) tok = Gpt2Tokenizer.get();
                    else if (modelVocabSize == ByteTokenizer.VOCAB_SIZE) tok = ByteTokenizer.INSTANCE;
                    else throw new UserInputException(dir + ": cannot tell the tokenizer: no "
                                + HfTokenizer.TOKENIZER_JSON + ", and vocab_size " + modelVocabSize
                                + " is neither gpt2's 50257 nor byte's 258; pass --tokenizer byte or gpt2");
                }
            }
            case HF -> tok = HfTokenizer.load(dir);
            case "byte", "gpt2", "r50k_base" -> tok = byName(c);
            default -> throw new UserInputException("unknown tokenizer '" + choice + "' (expected one of: "
                    + String.join(", ", CHOICES) + ")");
        }
        if (tok.vocabSize() > modelVocabSize) {
            throw new UserInputException(config + ": vocab_size " + modelVocabSize + " is smaller than the "
                    + tok.name() + " tokenizer's " + tok.vocabSize() + " ids");
        }
        return tok;
    }

    /** config.json's {@code pref4j_tokenizer}, or null (also when config.json is missing or unreadable). */
    static String recordedName(Path config) {
        if (!Files.isRegularFile(config)) return null;
        try {
            JsonNode n = HfTokenizer.JSON.readTree(config.toFile());
            JsonNode t = n == null ? null : n.get(CONFIG_KEY);
            return t != null && t.isTextual() ? t.asText() : null;
        } catch (java.io.IOException e) {
            return null;
        }
    }
}
