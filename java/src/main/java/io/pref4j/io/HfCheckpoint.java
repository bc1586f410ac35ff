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
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Hugging Face GPT-2 folders: {@code config.json} + {@code model.safetensors}. Reading
 * accepts the names of both {@code GPT2LMHeadModel} ({@code transformer.h.0…}) and
 * {@code GPT2Model} ({@code h.0…}), ignores the attention-mask buffers older checkpoints
 * carry, and accepts an {@code lm_head.weight} only when it equals the tied embedding.
 * Conv1D weights are [in, out] in both HF and pref4j, so tensors are copied as they are.
 * The config must describe the weights exactly (checked before the model is allocated:
 * no missing, misshapen or unused tensors), and NaN/Inf weights are refused.
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
        String type = stringField(f, n, "model_type", "gpt2");
        if (!"gpt2".equals(type))
            throw new UserInputException(f + ": model_type is '" + type + "', only gpt2 is supported");
        String act = stringField(f, n, "activation_function", "gelu_new");
        if (!act.equals("gelu_new") && !act.equals("gelu_pytorch_tanh"))
            throw new UserInputException(f + ": activation_function '" + act + "' is not supported (pref4j's GPT-2 uses the tanh GELU, gelu_new)");
        double eps = numberField(f, n, "layer_norm_epsilon", 1e-5);
        if (Math.abs(eps - 1e-5) > 1e-12)
            throw new UserInputException(f + ": layer_norm_epsilon " + eps + " is not supported (1e-5)");
        if (!boolField(f, n, "tie_word_embeddings", true))
            throw new UserInputException(f + ": tie_word_embeddings is false; pref4j's GPT-2 ties the LM head to the embedding");
        int positions = intField(f, n, n.has("n_positions") ? "n_positions" : "n_ctx");
        return new GptConfig(positions, intField(f, n, "vocab_size"), intField(f, n, "n_layer"),
                intField(f, n, "n_head"), intField(f, n, "n_embd"));
    }

    /** An integer field that must be present. */
    private static int intField(Path f, JsonNode n, String key) {
        JsonNode v = n.get(key);
        if (v == null) throw new UserInputException(f + ": missing field \"" + key + "\"");
        if (!v.isIntegralNumber() || !v.canConvertToInt())
            throw new UserInputException(f + ": field \"" + key + "\" must be an integer, got " + v);
        return v.intValue();
    }

    /** A number field (integer or decimal), {@code dflt} when absent. */
    static double numberField(Path f, JsonNode n, String key, double dflt) {
        JsonNode v = n.get(key);
        if (v == null) return dflt;
        if (!v.isNumber())
            throw new UserInputException(f + ": field \"" + key + "\" must be a number, got " + v);
        return v.doubleValue();
    }

    /** A boolean field, {@code dflt} when absent. */
    static boolean boolField(Path f, JsonNode n, String key, boolean dflt) {
        JsonNode v = n.get(key);
        if (v == null) return dflt;
        if (!v.isBoolean())
            throw new UserInputException(f + ": field \"" + key + "\" must be true or false, got " + v);
        return v.booleanValue();
    }

    /** A string field, {@code dflt} when absent. */
    static String stringField(Path f, JsonNode n, String key, String dflt) {
        JsonNode v = n.get(key);
        if (v == null) return dflt;
        if (!v.isTextual())
            throw new UserInputException(f + ": field \"" + key + "\" must be a string, got " + v);
        return v.textValue();
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
     * maxBatch sequences of maxT tokens. The config is checked against the weights file
     * before anything is allocated: every tensor the config implies must be present with
     * its shape, and every tensor in the file must be used (besides the attention-mask
     * buffers {@code h.N.attn.bias}/{@code h.N.attn.masked_bias} and a tied
     * {@code lm_head.weight}). Weights holding NaN or Inf are refused.
     */
    public static Gpt load(Kernels k, Path dir, int maxBatch, int maxT) {
        GptConfig cfg = readConfig(dir);
        Path f = dir.resolve(WEIGHTS);
        if (!Files.isRegularFile(f)) throw new UserInputException(f + ": no such file");
        try (SafeTensors st = SafeTensors.open(f)) {
            boolean head = st.contains(ParameterLayout.HEAD_WEIGHT);
            String prefix = st.contains("transformer.wte.weight") ? "" : "transformer.";
            checkAgainstWeights(f, st, cfg, head, prefix);
            Gpt model = new Gpt(k, cfg, maxBatch, Math.min(maxT, cfg.maxSeqLen()), head);
            for (ParameterLayout.Entry e : model.layout().entries()) {
                model.writeParam(e.name(), st.finiteFloats(fileName(e.name(), prefix)));
            }
            if (st.contains("lm_head.weight")) {
                long[] shape = st.info("lm_head.weight").shape();
                if (!Arrays.equals(shape, new long[]{cfg.vocabSize(), cfg.channels()})
                        || !Arrays.equals(st.floats("lm_head.weight"), model.readParam("transformer.wte.weight")))
                    throw new UserInputException(f + ": lm_head.weight differs from transformer.wte.weight; pref4j's GPT-2 needs a tied LM head");
            }
            return model;
        }
    }

    /** The name a layout tensor has in the file ({@code prefix} "" when the file has "transformer." names). */
    private static String fileName(String layoutName, String prefix) {
        return layoutName.startsWith("transformer.") && !prefix.isEmpty()
                ? layoutName.substring("transformer.".length()) : layoutName;
    }

    /** {@code h.N.} or {@code transformer.h.N.}: a block's tensors. */
    private static final Pattern LAYER = Pattern.compile("(?:transformer\\.)?h\\.(\\d{1,9})\\..*");
    /** The attention-mask buffers older GPT-2 checkpoints carry; not parameters. */
    private static final Pattern MASK_BUFFER = Pattern.compile("(?:transformer\\.)?h\\.(\\d{1,9})\\.attn\\.(?:masked_)?bias");

    /**
     * Refuses a config that does not describe the weights file, without allocating the model
     * (a config may claim a billion layers): the layers present in the file bound how much
     * of the config's layout is built.
     */
    private static void checkAgainstWeights(Path f, SafeTensors st, GptConfig cfg, boolean head, String prefix) {
        int fileLayers = 0;
        for (String name : st.names()) {
            Matcher m = LAYER.matcher(name);
            if (m.matches()) fileLayers = Math.max(fileLayers, Integer.parseInt(m.group(1)) + 1);
        }
        // layers beyond fileLayers are certainly missing: build the layout one layer past them
        int probeLayers = Math.min(cfg.numLayers(), fileLayers + 1);
        GptConfig probe = probeLayers == cfg.numLayers() ? cfg
                : new GptConfig(cfg.maxSeqLen(), cfg.vocabSize(), probeLayers, cfg.numHeads(), cfg.channels());
        ParameterLayout layout = ParameterLayout.of(probe, head);
        java.util.Set<String> used = new java.util.HashSet<>();
        for (ParameterLayout.Entry e : layout.entries()) {
            String name = fileName(e.name(), prefix);
            if (!st.contains(name))
                throw new UserInputException(f + ": missing tensor " + name + " (config.json says n_layer "
                        + cfg.numLayers() + ", n_embd " + cfg.channels() + ", vocab_size " + cfg.vocabSize()
                        + ", " + impliedParameters(cfg) + " parameters; the file holds " + fileLayers + " layers, "
                        + fileParameters(st) + " parameters)");
            long[] shape = st.info(name).shape();
            if (!Arrays.equals(shape, Arrays.stream(e.shape()).asLongStream().toArray()))
                throw new UserInputException(f + ": tensor " + name + " has shape " + Arrays.toString(shape)
                        + " but config.json implies " + Arrays.toString(e.shape()));
            used.add(name);
        }
        // here probe == cfg: had the config more layers than the file, layer fileLayers was missing
        List<String> unused = new ArrayList<>();
        for (String name : st.names()) {
            if (used.contains(name) || name.equals("lm_head.weight")) continue;
            Matcher m = MASK_BUFFER.matcher(name);
            if (m.matches() && Integer.parseInt(m.group(1)) < cfg.numLayers()) continue;
            unused.add(name);
        }
        if (!unused.isEmpty()) {
            int show = Math.min(3, unused.size());
            throw new UserInputException(f + ": " + unused.size() + (unused.size() == 1 ? " tensor is" : " tensors are")
                    + " not used by the model config.json describes (n_layer " + cfg.numLayers() + "; the file holds "
                    + fileLayers + " layers): " + String.join(", ", unused.subList(0, show))
                    + (unused.size() > show ? " (and " + (unused.size() - show) + " more)" : ""));
        }
    }

    /** Parameters of a GPT-2 of this config (exact, however large the config claims to be). */
    private static String impliedParameters(GptConfig c) {
        BigInteger C = BigInteger.valueOf(c.channels());
        BigInteger perLayer = C.multiply(C).multiply(BigInteger.valueOf(12)).add(C.multiply(BigInteger.valueOf(13)));
        return BigInteger.valueOf(c.vocabSize()).add(BigInteger.valueOf(c.maxSeqLen())).multiply(C)
                .add(perLayer.multiply(BigInteger.valueOf(c.numLayers()))).add(C.shiftLeft(1)).toString();
    }

    private static long fileParameters(SafeTensors st) {
        long n = 0;
        for (TensorInfo t : st.tensors()) {
            if (!MASK_BUFFER.matcher(t.name()).matches() && !t.name().equals("lm_head.weight")) n += t.numel();
        }
        return n;
    }

    /**
     * The folder holding config.json: {@code dir} itself, or {@code dir/model} for a pref4j
     * run folder.
     */
    public static Path resolveModelDir(Path dir) {
        if (Files.isRegularFile(dir.resolve(CONFIG))) return dir;
        if (Files.isRegularFile(dir.resolve("model").resolve(CONFIG))) return dir.resolve("model");
        if (!Files.isDirectory(dir)) throw new UserInputException(dir + ": no such folder");
        throw new UserInputException(dir + ": no config.json (expected a Hugging Face model folder or a pref4j run folder)");
    }

    /** The tokenizer named in config.json's {@code pref4j_tokenizer}, or null. */
    public static String tokenizerName(Path dir) {
        Path f = dir.resolve(CONFIG);
        try {
            JsonNode n = JSON.readTree(f.toFile());
            return n == null || !n.isObject() ? null : stringField(f, n, TOKENIZER_KEY, null);
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * config.json's {@code eos_token_id} (checked to be an id of the model's vocabulary), or
     * null when it has none: the end-of-text id for models whose tokenizer is not known.
     */
    public static Integer eosTokenId(Path dir, io.pref4j.model.ModelConfig cfg) {
        Path f = dir.resolve(CONFIG);
        JsonNode n;
        try {
            n = JSON.readTree(f.toFile());
        } catch (IOException e) {
            throw new UserInputException(f + ": not valid JSON: " + firstLine(e.getMessage()));
        }
        if (n == null || !n.isObject() || !n.has("eos_token_id") || n.get("eos_token_id").isNull()) return null;
        JsonNode e = n.get("eos_token_id");
        // Llama-family configs may list several end-of-sequence ids: the first is the end-of-text
        if (e.isArray() && e.size() > 0) e = e.get(0);
        if (!e.isIntegralNumber() || !e.canConvertToInt())
            throw new UserInputException(f + ": field \"eos_token_id\" must be an integer or a list of integers, got " + n.get("eos_token_id"));
        int id = e.intValue();
        if (id < 0 || id >= cfg.vocabSize())
            throw new UserInputException(f + ": field \"eos_token_id\" is " + id + ", outside the vocabulary (vocab_size "
                    + cfg.vocabSize() + ")");
        return id;
    }

    /**
     * The tokenizer for a model folder: {@code choice} when it is not {@code auto}, else the
     * one config.json records ({@code pref4j_tokenizer}), else by vocabulary size (50257 =
     * gpt2, 258 = byte). Checks that the tokenizer's ids fit the model's vocabulary.
     */
    public static Tokenizer tokenizerFor(Path dir, io.pref4j.model.ModelConfig cfg, String choice) {
        return Tokenizers.forModelFolder(dir, cfg.vocabSize(), choice);
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
