package io.pref4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import io.pref4j.kernel.Kernels;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;
import io.pref4j.model.ParameterLayout;
import io.pref4j.text.Tokenizer;
import io.pref4j.text.Tokenizers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Hugging Face GPT-2 folders: {@code config.json} + {@code model.safetensors}. Reading
 * accepts the names of both {@code GPT2LMHeadModel} ({@code transformer.h.0…}) and
 * {@code GPT2Model} ({@code h.0…}), ignores the attention-mask buffers older checkpoints
 * carry, and accepts an {@code lm_head.weight} only when it equals the tied embedding.
 * Conv1D weights are [in, out] in both HF and pref4j, so tensors are copied as they are.
 * Writing produces {@code GPT2LMHeadModel} names (without lm_head: it is tied), F32.
 */
public final class HfCheckpoint {
    private HfCheckpoint() {}

    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "model.safetensors";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Reads and validates config.json of a GPT-2 folder. */
    public static GptConfig readConfig(Path dir) {
        Path f = dir.resolve(CONFIG);
        if (!Files.isRegularFile(f)) throw new UserInputException(f + ": no such file (expected a Hugging Face GPT-2 folder with config.json and model.safetensors)");
        JsonNode n;
        try {
            n = JSON.readTree(f.toFile());
        } catch (IOException e) {
            throw new UserInputException(f + ": not valid JSON: " + firstLine(e.getMessage()));
        }
        if (n == null || !n.isObject()) throw new UserInputException(f + ": expected a JSON object");
        if (n.has("model_type") && !"gpt2".equals(n.get("model_type").asText()))
            throw new UserInputException(f + ": model_type is '" + n.get("model_type").asText() + "', only gpt2 is supported");
        String act = n.has("activation_function") ? n.get("activation_function").asText() : "gelu_new";
        if (!act.equals("gelu_new") && !act.equals("gelu_pytorch_tanh"))
            throw new UserInputException(f + ": activation_function '" + act + "' is not supported (pref4j's GPT-2 uses the tanh GELU, gelu_new)");
        if (n.has("layer_norm_epsilon") && Math.abs(n.get("layer_norm_epsilon").asDouble() - 1e-5) > 1e-12)
            throw new UserInputException(f + ": layer_norm_epsilon " + n.get("layer_norm_epsilon").asDouble() + " is not supported (1e-5)");
        if (n.has("tie_word_embeddings") && !n.get("tie_word_embeddings").asBoolean(true))
            throw new UserInputException(f + ": tie_word_embeddings is false; pref4j's GPT-2 ties the LM head to the embedding");
        int positions = intField(f, n, n.has("n_positions") ? "n_positions" : "n_ctx");
        return new GptConfig(positions, intField(f, n, "vocab_size"), intField(f, n, "n_layer"),
                intField(f, n, "n_head"), intField(f, n, "n_embd"));
    }

    private static int intField(Path f, JsonNode n, String key) {
        JsonNode v = n.get(key);
        if (v == null) throw new UserInputException(f + ": missing field \"" + key + "\"");
        if (!v.isIntegralNumber() || !v.canConvertToInt())
            throw new UserInputException(f + ": field \"" + key + "\" must be an integer, got " + v);
        return v.intValue();
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int i = s.indexOf('\n');
        return i < 0 ? s : s.substring(0, i);
    }

    /** Whether the folder's weights carry pref4j's scalar head. */
    public static boolean hasHead(Path dir) {
        try (SafeTensors st = SafeTensors.open(dir.resolve(WEIGHTS))) {
            return st.names().contains(ParameterLayout.HEAD_WEIGHT);
        }
    }

    /**
     * Loads a GPT-2 folder into a new model on the given backend, sized for batches of
     * maxBatch sequences of maxT tokens. Every tensor must be present with its shape.
     */
    public static Gpt load(Kernels k, Path dir, int maxBatch, int maxT) {
        GptConfig cfg = readConfig(dir);
        Path f = dir.resolve(WEIGHTS);
        if (!Files.isRegularFile(f)) throw new UserInputException(f + ": no such file");
        try (SafeTensors st = SafeTensors.open(f)) {
            boolean head = st.names().contains(ParameterLayout.HEAD_WEIGHT);
            Gpt model = new Gpt(k, cfg, maxBatch, Math.min(maxT, cfg.maxSeqLen()), head);
            String prefix = st.names().contains("transformer.wte.weight") ? "" : "transformer.";
            for (ParameterLayout.Entry e : model.layout().entries()) {
                String fileName = e.name().startsWith("transformer.") && !prefix.isEmpty()
                        ? e.name().substring("transformer.".length()) : e.name();
                if (!st.names().contains(fileName))
                    throw new UserInputException(f + ": missing tensor " + fileName + " (config.json says "
                            + cfg.numLayers() + " layers, d " + cfg.channels() + ", vocab " + cfg.vocabSize() + ")");
                long[] shape = st.info(fileName).shape();
                if (!Arrays.equals(shape, Arrays.stream(e.shape()).asLongStream().toArray()))
                    throw new UserInputException(f + ": tensor " + fileName + " has shape " + Arrays.toString(shape)
                            + " but config.json implies " + Arrays.toString(e.shape()));
                model.writeParam(e.name(), st.floats(fileName));
            }
            if (st.names().contains("lm_head.weight")) {
                long[] shape = st.info("lm_head.weight").shape();
                if (!Arrays.equals(shape, new long[]{cfg.vocabSize(), cfg.channels()})
                        || !Arrays.equals(st.floats("lm_head.weight"), model.readParam("transformer.wte.weight")))
                    throw new UserInputException(f + ": lm_head.weight differs from transformer.wte.weight; pref4j's GPT-2 needs a tied LM head");
            }
            return model;
        }
    }

    /**
     * The folder holding config.json: {@code dir} itself, or {@code dir/model} for a pref4j
     * run folder.
     */
    public static Path resolveModelDir(Path dir) {
        if (Files.isRegularFile(dir.resolve(CONFIG))) return dir;
        if (Files.isRegularFile(dir.resolve("model").resolve(CONFIG))) return dir.resolve("model");
        if (!Files.isDirectory(dir)) throw new UserInputException(dir + ": no such folder");
        throw new UserInputException(dir + ": no config.json (expected a Hugging Face GPT-2 folder or a pref4j run folder with model/)");
    }

    /** The tokenizer named in config.json's {@code pref4j_tokenizer}, or null. */
    public static String tokenizerName(Path dir) {
        try {
            JsonNode n = JSON.readTree(dir.resolve(CONFIG).toFile());
            JsonNode t = n == null ? null : n.get(TOKENIZER_KEY);
            return t != null && t.isTextual() ? t.asText() : null;
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * The tokenizer for a model folder: {@code choice} when it is not {@code auto}, else the
     * one config.json records ({@code pref4j_tokenizer}), else by vocabulary size (50257 =
     * gpt2, 258 = byte). Checks that the tokenizer's ids fit the model's vocabulary.
     */
    public static Tokenizer tokenizerFor(Path dir, io.pref4j.model.ModelConfig cfg, String choice) {
        Tokenizer tok;
        if (choice != null && !choice.equalsIgnoreCase("auto")) {
            tok = Tokenizers.byName(choice);
        } else {
            String named = tokenizerName(dir);
            if (named != null) tok = Tokenizers.byName(named);
            else if (cfg.vocabSize() == 50257) tok = Tokenizers.byName("gpt2");
            else if (cfg.vocabSize() == 258) tok = Tokenizers.byName("byte");
            else throw new UserInputException(dir.resolve(CONFIG) + ": cannot tell the tokenizer from vocab_size "
                        + cfg.vocabSize() + "; pass --tokenizer byte or gpt2");
        }
        if (tok.vocabSize() > cfg.vocabSize())
            throw new UserInputException(dir.resolve(CONFIG) + ": vocab_size " + cfg.vocabSize()
                    + " is smaller than the " + tok.name() + " tokenizer's " + tok.vocabSize());
        return tok;
    }

    /** config.json key where pref4j records the tokenizer a model was trained with. */
    public static final String TOKENIZER_KEY = "pref4j_tokenizer";

    /** Writes the model as a Hugging Face GPT-2 folder (atomically per file). */
    public static void save(Gpt model, Path dir) throws IOException {
        save(model, dir, null);
    }

    /**
     * Writes the model as a Hugging Face GPT-2 folder (atomically per file), recording the
     * tokenizer's name in config.json when given.
     */
    public static void save(Gpt model, Path dir, String tokenizerName) throws IOException {
        Files.createDirectories(dir);
        GptConfig c = model.config();
        List<SafeTensors.Entry> tensors = new ArrayList<>();
        for (ParameterLayout.Entry e : model.layout().entries()) {
            tensors.add(SafeTensors.Entry.f32(e.name(), model.readParam(e.name()), e.shape()));
        }
        SafeTensors.write(dir.resolve(WEIGHTS), tensors, Map.of("format", "pt", "producer", "pref4j"));
        writeConfig(c, dir, tokenizerName);
    }

    /** Writes config.json for a GPT-2 of this config (atomically), recording the tokenizer when given. */
    public static void writeConfig(GptConfig c, Path dir, String tokenizerName) throws IOException {
        ObjectNode cfg = JSON.createObjectNode();
        cfg.put("model_type", "gpt2");
        cfg.putArray("architectures").add("GPT2LMHeadModel");
        cfg.put("n_positions", c.maxSeqLen());
        cfg.put("n_ctx", c.maxSeqLen());
        cfg.put("vocab_size", c.vocabSize());
        cfg.put("n_layer", c.numLayers());
        cfg.put("n_head", c.numHeads());
        cfg.put("n_embd", c.channels());
        cfg.put("activation_function", "gelu_new");
        cfg.put("layer_norm_epsilon", 1e-5);
        cfg.put("tie_word_embeddings", true);
        if (c.vocabSize() == 50257) {
            cfg.put("bos_token_id", 50256);
            cfg.put("eos_token_id", 50256);
        }
        if (tokenizerName != null) cfg.put(TOKENIZER_KEY, tokenizerName);
        AtomicFiles.replace(dir.resolve(CONFIG),
                (JSON.writerWithDefaultPrettyPrinter().writeValueAsString(cfg) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
}
