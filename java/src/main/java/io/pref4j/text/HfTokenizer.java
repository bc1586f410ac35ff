package io.pref4j.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.pref4j.UserInputException;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;

/**
 * A model folder's Hugging Face tokenizer: {@code tokenizer.json} run by Hugging Face's own
 * Rust tokenizers (through DJL's JNI binding, offline: see {@link DjlRuntime}), so every
 * model type it knows works as in transformers: byte-level BPE (GPT-2, Llama 3, Qwen2),
 * BPE with byte fallback and a Metaspace or Replace+Prepend normalizer (Llama 2, Mistral,
 * TinyLlama), added tokens matched before the model. Beside it:
 * <ul>
 *   <li>tokenizer_config.json (optional): {@code bos_token}, {@code eos_token},
 *       {@code pad_token}, {@code unk_token} (strings or AddedToken objects),
 *       {@code added_tokens_decoder}, {@code chat_template};</li>
 *   <li>generation_config.json (optional): {@code eos_token_id} (an int or a list), the ids
 *       generation stops on;</li>
 *   <li>chat_template.jinja / chat_template.json when tokenizer_config.json has no template.</li>
 * </ul>
 *
 * <p>{@link #encode} is transformers' {@code tokenizer(text, add_special_tokens=False)}:
 * the post-processor's BOS/EOS are not added (TRL tokenizes that way; the chat template
 * writes the BOS it wants as text, and added tokens such as {@code <|im_start|>} in the text
 * become their ids), and nothing is truncated. {@link #decode} drops special tokens.
 */
public final class HfTokenizer implements Tokenizer {

    /** The tokenizer file. */
    public static final String TOKENIZER_JSON = "tokenizer.json";
    /** Special tokens and the chat template. */
    public static final String TOKENIZER_CONFIG = "tokenizer_config.json";
    /** EOS ids for generation. */
    public static final String GENERATION_CONFIG = "generation_config.json";

    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    private final Path dir;
    private final HuggingFaceTokenizer hf;
    private final int vocabSize;
    private final Map<String, Integer> addedTokens;
    private final Set<Integer> specialIds;
    private final Set<Integer> eosIds;
    private final int eosId;
    private final int bosId;
    private final int padId;
    private final ChatTemplate chatTemplate;

    private HfTokenizer(Path dir, HuggingFaceTokenizer hf, int vocabSize, Map<String, Integer> addedTokens,
                        Set<Integer> specialIds, Set<Integer> eosIds, int eosId, int bosId, int padId,
                        ChatTemplate chatTemplate) {
        this.dir = dir;
        this.hf = hf;
        this.vocabSize = vocabSize;
        this.addedTokens = addedTokens;
        this.specialIds = specialIds;
        this.eosIds = eosIds;
        this.eosId = eosId;
        this.bosId = bosId;
        this.padId = padId;
        this.chatTemplate = chatTemplate;
    }

    /** Whether {@code dir} has a tokenizer.json. */
    public static boolean existsIn(Path dir) {
        return Files.isRegularFile(dir.resolve(TOKENIZER_JSON));
    }

    /**
     * Loads the tokenizer of a model folder (tokenizer.json, with tokenizer_config.json and
     * generation_config.json when present).
     *
     * @throws UserInputException if tokenizer.json is missing or malformed, a special token
     *                            names no token, or the folder says no end-of-sequence token
     */
    public static HfTokenizer load(Path dir) {
        Path file = dir.resolve(TOKENIZER_JSON);
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new UserInputException(file + ": no such file (a Hugging Face tokenizer folder has tokenizer.json)", e);
        } catch (IOException e) {
            throw new UserInputException(file + ": cannot read: " + e.getMessage(), e);
        }
        JsonNode root = parse(file, text);
        if (!root.isObject() || !root.path("model").isObject()) {
            throw new UserInputException(file + ": expected a tokenizer.json object with a \"model\"");
        }
        // ids: the model's vocabulary and the added tokens
        int maxId = -1;
        JsonNode vocab = root.get("model").get("vocab");
        if (vocab != null && vocab.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().canConvertToInt() || e.getValue().intValue() < 0) {
                    throw new UserInputException(file + ": model.vocab[\"" + e.getKey() + "\"] must be a non-negative integer id");
                }
                maxId = Math.max(maxId, e.getValue().intValue());
            }
        } else if (vocab != null && vocab.isArray()) {
            maxId = vocab.size() - 1; // Unigram: [[piece, score], ...]
        } else {
            throw new UserInputException(file + ": model.vocab is missing (expected an object of token → id)");
        }
        Map<String, Integer> added = new LinkedHashMap<>();
        Set<Integer> special = new TreeSet<>();
        JsonNode at = root.get("added_tokens");
        if (at != null && !at.isNull()) {
            if (!at.isArray()) throw new UserInputException(file + ": \"added_tokens\" must be a list");
            for (int i = 0; i < at.size(); i++) {
                JsonNode t = at.get(i);
                if (!t.path("id").canConvertToInt() || !t.path("content").isTextual()) {
                    throw new UserInputException(file + ": added_tokens[" + i + "] must have an integer \"id\" and a string \"content\"");
                }
                int id = t.get("id").intValue();
                added.put(t.get("content").textValue(), id);
                if (t.path("special").asBoolean(false)) special.add(id);
                maxId = Math.max(maxId, id);
            }
        }
        int vocabSize = maxId + 1;
        if (vocabSize <= 0) throw new UserInputException(file + ": the vocabulary is empty");
        HuggingFaceTokenizer hf = open(file, text);
        try {
            return load(dir, hf, vocab, vocabSize, added, special);
        } catch (RuntimeException e) {
            hf.close();
            throw e;
        }
    }

    private static HfTokenizer load(Path dir, HuggingFaceTokenizer hf, JsonNode vocab, int vocabSize,
                                    Map<String, Integer> added, Set<Integer> special) {

        // special tokens: tokenizer_config.json
        Path cfgFile = dir.resolve(TOKENIZER_CONFIG);
        JsonNode cfg = Files.isRegularFile(cfgFile) ? readJson(cfgFile) : null;
        int bos = -1, eos = -1, pad = -1;
        if (cfg != null) {
            if (!cfg.isObject()) throw new UserInputException(cfgFile + ": expected a JSON object");
            JsonNode dec = cfg.get("added_tokens_decoder");
            if (dec != null && dec.isObject()) {
                for (Iterator<Map.Entry<String, JsonNode>> it = dec.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    int id;
                    try {
                        id = Integer.parseInt(e.getKey());
                    } catch (NumberFormatException x) {
                        throw new UserInputException(cfgFile + ": added_tokens_decoder key \"" + e.getKey() + "\" is not an id");
                    }
                    if (e.getValue().path("content").isTextual()) added.putIfAbsent(e.getValue().get("content").textValue(), id);
                    if (e.getValue().path("special").asBoolean(false)) special.add(id);
                    if (id >= vocabSize) {
                        throw new UserInputException(cfgFile + ": added_tokens_decoder id " + id
                                + " is outside tokenizer.json's vocabulary (0.." + (vocabSize - 1) + ")");
                    }
                }
            }
            bos = idOf(cfg, "bos_token", cfgFile, added, vocab);
            eos = idOf(cfg, "eos_token", cfgFile, added, vocab);
            pad = idOf(cfg, "pad_token", cfgFile, added, vocab);
            int unk = idOf(cfg, "unk_token", cfgFile, added, vocab);
            for (int id : new int[]{bos, eos, pad, unk}) if (id >= 0) special.add(id);
        }
        // EOS ids: generation_config.json
        Set<Integer> eosIds = new LinkedHashSet<>();
        if (eos >= 0) eosIds.add(eos);
        Path genFile = dir.resolve(GENERATION_CONFIG);
        if (Files.isRegularFile(genFile)) {
            JsonNode gen = readJson(genFile);
            JsonNode e = gen.get("eos_token_id");
            if (e != null && !e.isNull()) {
                if (e.canConvertToInt() && e.isIntegralNumber()) {
                    eosIds.add(checkId(e.intValue(), genFile, "eos_token_id", vocabSize));
                } else if (e.isArray()) {
                    for (int i = 0; i < e.size(); i++) {
                        JsonNode x = e.get(i);
                        if (!x.isIntegralNumber() || !x.canConvertToInt()) {
                            throw new UserInputException(genFile + ": eos_token_id[" + i + "] must be an integer id, got " + x);
                        }
                        eosIds.add(checkId(x.intValue(), genFile, "eos_token_id[" + i + "]", vocabSize));
                    }
                } else {
                    throw new UserInputException(genFile + ": eos_token_id must be an integer id or a list of ids, got " + e);
                }
            }
            if (bos < 0 && gen.path("bos_token_id").canConvertToInt() && gen.get("bos_token_id").isIntegralNumber()) {
                bos = checkId(gen.get("bos_token_id").intValue(), genFile, "bos_token_id", vocabSize);
            }
        }
        if (eosIds.isEmpty()) {
            throw new UserInputException(dir + ": no end-of-sequence token: expected \"eos_token\" in "
                    + TOKENIZER_CONFIG + " or \"eos_token_id\" in " + GENERATION_CONFIG);
        }
        special.addAll(eosIds);
        if (eos < 0) eos = eosIds.iterator().next();

        ChatTemplate template = ChatTemplate.fromModelFolder(dir).orElse(null);
        return new HfTokenizer(dir, hf, vocabSize, Collections.unmodifiableMap(added),
                Collections.unmodifiableSet(special), Collections.unmodifiableSet(eosIds), eos, bos, pad, template);
    }

    private static HuggingFaceTokenizer open(Path file, String json) {
        DjlRuntime.offline();
        try {
            return HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)),
                    Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
        } catch (IOException e) {
            throw new UserInputException(file + ": cannot read: " + e.getMessage(), e);
        } catch (UnsatisfiedLinkError | ExceptionInInitializerError | NoClassDefFoundError e) {
            throw new UserInputException(file + ": cannot load Hugging Face's tokenizers library for this platform ("
                    + e + "); use a byte or gpt2 tokenizer", e);
        } catch (RuntimeException e) {
            String m = String.valueOf(e.getMessage()).replace('\n', ' ');
            if (e.getClass().getName().equals("ai.djl.engine.EngineException")) {
                Throwable c = e.getCause();
                throw new UserInputException(file + ": cannot load Hugging Face's tokenizers library for this platform ("
                        + m + (c == null ? "" : ": " + c.getMessage()) + ")", e);
            }
            throw new UserInputException(file + ": not a tokenizer.json that Hugging Face tokenizers accepts: " + m, e);
        }
    }

    private static int checkId(int id, Path file, String key, int vocabSize) {
        if (id < 0 || id >= vocabSize) {
            throw new UserInputException(file + ": " + key + " " + id + " is outside tokenizer.json's vocabulary (0.."
                    + (vocabSize - 1) + ")");
        }
        return id;
    }

    private static int idOf(JsonNode cfg, String key, Path file, Map<String, Integer> added, JsonNode vocab) {
        String text = tokenText(cfg.get(key), file, key);
        if (text == null) return -1;
        Integer id = added.get(text);
        if (id == null && vocab != null && vocab.isObject() && vocab.path(text).canConvertToInt()) {
            id = vocab.get(text).intValue();
        }
        if (id == null) {
            throw new UserInputException(file + ": " + key + " \"" + text + "\" is not a token of tokenizer.json");
        }
        return id;
    }

    /** A special token's text in tokenizer_config.json: a string, an AddedToken object, or null. */
    static String tokenText(JsonNode v, Path file, String key) {
        if (v == null || v.isNull()) return null;
        if (v.isTextual()) return v.textValue();
        if (v.isObject() && v.path("content").isTextual()) return v.get("content").textValue();
        throw new UserInputException(file + ": \"" + key + "\" must be a string or an object with \"content\", got " + v);
    }

    /** Parses a JSON file, one clear message when it is not. */
    static JsonNode readJson(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new UserInputException(file + ": no such file", e);
        } catch (IOException e) {
            throw new UserInputException(file + ": cannot read: " + e.getMessage(), e);
        }
        return parse(file, text);
    }

    private static JsonNode parse(Path file, String text) {
        try {
            JsonNode n = JSON.readTree(text);
            if (n == null || n.isMissingNode()) throw new UserInputException(file + ": empty file (expected a JSON object)");
            return n;
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()
                    + " column " + e.getLocation().getColumnNr();
            String m = String.valueOf(e.getOriginalMessage()).replace('\n', ' ');
            if (m.length() > 120) m = m.substring(0, 117) + "...";
            throw new UserInputException(file + ": malformed JSON" + where + " (" + m + ")", e);
        }
    }

    // ------------------------------------------------------------------ Tokenizer

    @Override
    public int[] encode(String text) {
        long[] ids = hf.encode(text, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = Math.toIntExact(ids[i]);
        return out;
    }

    @Override
    public String decode(int[] ids) {
        return decode(ids, true);
    }

    /**
     * Text of {@code ids}, with the special tokens ({@code <|im_end|>}, {@code </s>}, ...)
     * dropped or kept. Ids at or above the tokenizer's vocabulary have no token and decode
     * to nothing, as in Hugging Face's tokenizers: a model may have more embedding rows than
     * its tokenizer has tokens (Qwen2.5 has 151,936 rows for 151,665 tokens), and an
     * untrained policy can sample them.
     *
     * @throws UserInputException if an id is negative
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        long[] l = new long[ids.length];
        int n = 0;
        for (int id : ids) {
            if (id < 0) validate(id);
            if (id < vocabSize) l[n++] = id;
        }
        return hf.decode(n == l.length ? l : java.util.Arrays.copyOf(l, n), skipSpecialTokens);
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    /** tokenizer_config.json's {@code eos_token}, else generation_config.json's first {@code eos_token_id}. */
    @Override
    public int eosId() {
        return eosId;
    }

    /** {@code eos_token} and every {@code eos_token_id} of generation_config.json. */
    @Override
    public Set<Integer> eosIds() {
        return eosIds;
    }

    /** Added tokens marked special, the bos/eos/pad/unk tokens, and the EOS ids. */
    @Override
    public Set<Integer> specialIds() {
        return specialIds;
    }

    @Override
    public Optional<ChatTemplate> chatTemplate() {
        return Optional.ofNullable(chatTemplate);
    }

    /** The BOS id (tokenizer_config.json's {@code bos_token}, else generation_config.json's), if any. */
    public OptionalInt bosId() {
        return bosId < 0 ? OptionalInt.empty() : OptionalInt.of(bosId);
    }

    /** The padding id (tokenizer_config.json's {@code pad_token}), if any. */
    public OptionalInt padId() {
        return padId < 0 ? OptionalInt.empty() : OptionalInt.of(padId);
    }

    /** The id of an added token ({@code "<|im_start|>"}), if it is one. */
    public OptionalInt addedTokenId(String content) {
        Integer id = addedTokens.get(content);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** The folder it was read from. */
    public Path folder() {
        return dir;
    }

    @Override
    public String name() {
        return Tokenizers.HF;
    }

    @Override
    public String toString() {
        return "HfTokenizer(" + dir.resolve(TOKENIZER_JSON) + ", " + vocabSize + " ids)";
    }
}
