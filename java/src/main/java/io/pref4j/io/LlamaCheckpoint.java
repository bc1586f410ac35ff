package io.pref4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import io.pref4j.kernel.Kernels;
import io.pref4j.model.Llama;
import io.pref4j.model.LlamaConfig;
import io.pref4j.model.ParameterLayout;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Hugging Face folders of the Llama family ({@code model_type} llama, mistral, qwen2, qwen3):
 * {@code config.json} plus {@code model.safetensors} or shards with
 * {@code model.safetensors.index.json} ({@link ShardedSafeTensors}), F32, BF16 or F16
 * (upcast to float).
 *
 * <p><b>config.json</b> is read as transformers reads it for the model type: absent optional
 * fields take the transformers class defaults (e.g. num_key_value_heads: llama the number of
 * heads, mistral 8, qwen2/qwen3 32; max_position_embeddings: llama 2048, mistral 131072,
 * qwen 32768; qwen3 head_dim 128, others hidden_size / num_attention_heads), rope from
 * {@code rope_theta} + {@code rope_scaling} or from transformers 5's {@code rope_parameters}.
 * What pref4j cannot compute is refused with the field and its value: a hidden_act other than
 * silu, mlp_bias, a rope type other than default / linear / llama3, a sliding window shorter
 * than max_position_embeddings (pref4j's attention is full), quantized weights. Every field is
 * type-checked.
 *
 * <p><b>Weights</b> carry LlamaForCausalLM's names ({@code model.embed_tokens.weight},
 * {@code model.layers.N.self_attn.q_proj.weight}, … {@code lm_head.weight}); LlamaModel's bare
 * names (no {@code model.} prefix) are accepted too. Before the model is allocated the file's
 * tensors are checked against the config's layout: a missing tensor, a wrong shape, a dtype
 * that is not a float, or a tensor the model does not have is refused, naming it
 * ({@code rotary_emb.inv_freq} buffers are ignored). An untied head needs {@code lm_head.weight};
 * a tied one accepts it only when it equals the embedding. NaN or infinite weights are refused.
 * pref4j's scalar head ({@link ParameterLayout#HEAD_WEIGHT}, {@link ParameterLayout#HEAD_BIAS})
 * loads when present.
 *
 * <p><b>Writing</b> produces config.json with the keys transformers expects for the type, and
 * model.safetensors in F32 (no lm_head.weight when tied). Writing then reading is bit for bit.
 */
public final class LlamaCheckpoint {
    private LlamaCheckpoint() {}

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Keys copied from a source config.json by {@link #passThroughKeys} (harmless, not modelled). */
    public static final List<String> PASS_THROUGH = List.of("bos_token_id", "eos_token_id", "pad_token_id");

    private static final String EMBED = "model.embed_tokens.weight", LM_HEAD = "lm_head.weight";

    // ------------------------------------------------------------------ config.json

    /** Reads and validates config.json of a Llama-family folder. */
    public static LlamaConfig readConfig(Path dir) {
        Path f = dir.resolve(HfCheckpoint.CONFIG);
        return parseConfig(ModelFiles.readConfigJson(f), f.toString());
    }


    /** A config from config.json's contents; {@code where} (the file) starts every message. */
    public static LlamaConfig parseConfig(JsonNode n, String where) {
        if (n == null || !n.isObject()) throw new UserInputException(where + ": expected a JSON object");
        Fields f = new Fields(n, where);
        String type = f.string("model_type", null);
        if (!LlamaConfig.MODEL_TYPES.contains(type))
            throw new UserInputException(where + ": model_type '" + type + "' is not of the Llama family " + LlamaConfig.MODEL_TYPES);
        if (n.hasNonNull("quantization_config"))
            throw new UserInputException(where + ": quantized checkpoints (quantization_config) are not supported; pref4j reads F32, BF16 or F16 weights");
        String act = f.string("hidden_act", "silu");
        if (!act.equals("silu") && !act.equals("swish"))
            throw new UserInputException(where + ": field \"hidden_act\" is \"" + act + "\"; the " + type + " MLP pref4j computes is SwiGLU with silu");
        int C = f.integer("hidden_size", null);
        int I = f.integer("intermediate_size", null);
        int L = f.integer("num_hidden_layers", null);
        int NH = f.integer("num_attention_heads", null);
        int V = f.integer("vocab_size", null);
        // transformers' class defaults for the optional fields
        Integer kvDefault = switch (type) {
            case "llama" -> NH;
            case "mistral" -> 8;
            default -> 32;
        };
        Integer nkv = f.optInteger("num_key_value_heads", kvDefault);
        int NKV = nkv == null ? NH : nkv;   // None: multi-head attention
        Integer hd = f.optInteger("head_dim", type.equals("qwen3") ? Integer.valueOf(128) : null);
        if (hd == null) {
            if (NH < 1 || C % NH != 0)
                throw new UserInputException(where + ": hidden_size " + C + " is not a multiple of num_attention_heads " + NH
                        + " (and there is no head_dim)");
            hd = C / NH;
        }
        int maxPos = f.integer("max_position_embeddings", switch (type) {
            case "llama" -> 2048;
            case "mistral" -> 4096 * 32;
            default -> 32768;
        });
        double eps = f.number("rms_norm_eps", 1e-6);
        boolean tie = f.bool("tie_word_embeddings", false);
        boolean bias = switch (type) {
            case "llama", "qwen3" -> f.bool("attention_bias", false);
            case "qwen2" -> true;   // Qwen2's q/k/v projections always have biases (o_proj none)
            default -> false;       // Mistral's attention has none
        };
        if (type.equals("llama") && f.bool("mlp_bias", false))
            throw new UserInputException(where + ": field \"mlp_bias\" is true; pref4j's Llama MLP has no biases");
        checkAttentionWindow(f, n, type, maxPos, where);

        // rope: legacy rope_theta + rope_scaling, or transformers 5's rope_parameters
        JsonNode rs = n.get("rope_scaling");
        String rsField = "rope_scaling";
        if (rs == null || rs.isNull()) {
            rs = n.get("rope_parameters");
            rsField = "rope_parameters";
        }
        double theta = f.number("rope_theta", 10000.0);
        LlamaConfig.RopeScaling scaling = null;
        if (rs != null && !rs.isNull()) {
            if (!rs.isObject()) throw new UserInputException(where + ": field \"" + rsField + "\" must be an object or null, got " + rs);
            Fields r = new Fields(rs, where, rsField + ".");
            if (rs.has("rope_theta")) theta = r.number("rope_theta", null);
            String rt = rs.hasNonNull("rope_type") ? r.string("rope_type", null) : rs.hasNonNull("type") ? r.string("type", null) : "default";
            if (rs.has("partial_rotary_factor") && r.number("partial_rotary_factor", null) != 1.0)
                throw new UserInputException(where + ": field \"" + rsField + ".partial_rotary_factor\" is " + rs.get("partial_rotary_factor")
                        + "; pref4j rotates the whole head");
            if (rs.has("attention_factor") && r.number("attention_factor", null) != 1.0)
                throw new UserInputException(where + ": field \"" + rsField + ".attention_factor\" is " + rs.get("attention_factor")
                        + "; pref4j supports only 1");
            switch (rt) {
                case "default" -> { }
                case "linear" -> scaling = new LlamaConfig.RopeScaling("linear", r.number("factor", null), 0, 0, 0);
                case "llama3" -> scaling = new LlamaConfig.RopeScaling("llama3", r.number("factor", null),
                        r.number("low_freq_factor", null), r.number("high_freq_factor", null),
                        r.integer("original_max_position_embeddings", null));
                default -> throw new UserInputException(where + ": rope type '" + rt + "' (field \"" + rsField
                        + "\") is not supported (supported: default, linear, llama3)");
            }
        }
        try {
            return new LlamaConfig(type, C, I, L, NH, NKV, hd, eps, theta, scaling, maxPos, V, tie, bias, type.equals("qwen3"));
        } catch (UserInputException e) {
            String m = e.getMessage();
            throw new UserInputException(where + ": " + (m.startsWith("model config: ") ? m.substring("model config: ".length()) : m));
        }
    }

    /** Refuses sliding-window attention shorter than the model's positions: pref4j's attention is full. */
    private static void checkAttentionWindow(Fields f, JsonNode n, String type, int maxPos, String where) {
        Integer window;
        if (type.equals("mistral")) {
            window = f.optInteger("sliding_window", 4096);
            if (window != null && window < maxPos)
                throw new UserInputException(where + ": field \"sliding_window\" is " + window + ", shorter than max_position_embeddings "
                        + maxPos + "; pref4j's attention is full (sliding_window null or >= max_position_embeddings is supported)");
        } else if (type.equals("qwen2") || type.equals("qwen3")) {
            boolean use = f.bool("use_sliding_window", false);
            window = use ? f.optInteger("sliding_window", 4096) : null;
            if (window != null && window < maxPos)
                throw new UserInputException(where + ": field \"use_sliding_window\" is true with sliding_window " + window
                        + ", shorter than max_position_embeddings " + maxPos + "; pref4j's attention is full");
        } else {
            window = null;
        }
        JsonNode lt = n.get("layer_types");
        if (lt != null && !lt.isNull()) {
            if (!lt.isArray()) throw new UserInputException(where + ": field \"layer_types\" must be an array of strings, got " + lt);
            for (int i = 0; i < lt.size(); i++) {
                JsonNode e = lt.get(i);
                if (!e.isTextual())
                    throw new UserInputException(where + ": field \"layer_types\" must be an array of strings, element " + i + " is " + e);
                String s = e.textValue();
                if (s.equals("full_attention") || (s.equals("sliding_attention") && window == null)) continue;
                if (s.equals("sliding_attention"))
                    throw new UserInputException(where + ": layer " + i + " uses sliding_attention with window " + window
                            + " < max_position_embeddings " + maxPos + "; pref4j's attention is full");
                throw new UserInputException(where + ": field \"layer_types\" element " + i + " is \"" + s
                        + "\"; pref4j supports full_attention only");
            }
        }
    }

    /** Typed access to config fields, with messages naming the field and the wrong value. */
    private static final class Fields {
        private final JsonNode n;
        private final String where, prefix;

        Fields(JsonNode n, String where) {
            this(n, where, "");
        }

        Fields(JsonNode n, String where, String prefix) {
            this.n = n;
            this.where = where;
            this.prefix = prefix;
        }

        private JsonNode get(String key) {
            return n.get(key);
        }

        private UserInputException wrong(String key, String what, JsonNode v) {
            return new UserInputException(where + ": field \"" + prefix + key + "\" must be " + what + ", got " + v);
        }

        private UserInputException missing(String key) {
            return new UserInputException(where + ": missing field \"" + prefix + key + "\"");
        }

        /** An int; absent = def (def null: the field is required); null is wrong. */
        int integer(String key, Integer def) {
            JsonNode v = get(key);
            if (v == null) {
                if (def == null) throw missing(key);
                return def;
            }
            if (!v.isIntegralNumber() || !v.canConvertToInt()) throw wrong(key, "an integer", v);
            return v.intValue();
        }

        /** An int or null (transformers' None); absent = def. */
        Integer optInteger(String key, Integer def) {
            JsonNode v = get(key);
            if (v == null) return def;
            if (v.isNull()) return null;
            if (!v.isIntegralNumber() || !v.canConvertToInt()) throw wrong(key, "an integer or null", v);
            return v.intValue();
        }

        /** A number; absent = def (def null: required); null is wrong. */
        double number(String key, Double def) {
            JsonNode v = get(key);
            if (v == null) {
                if (def == null) throw missing(key);
                return def;
            }
            if (!v.isNumber()) throw wrong(key, "a number", v);
            return v.doubleValue();
        }

        boolean bool(String key, boolean def) {
            JsonNode v = get(key);
            if (v == null) return def;
            if (!v.isBoolean()) throw wrong(key, "true or false", v);
            return v.booleanValue();
        }

        /** A string; absent = def (def null: required). */
        String string(String key, String def) {
            JsonNode v = get(key);
            if (v == null) {
                if (def == null) throw missing(key);
                return def;
            }
            if (!v.isTextual()) throw wrong(key, "a string", v);
            return v.textValue();
        }
    }

    // ------------------------------------------------------------------ weights

    /** Whether the folder's weights carry pref4j's scalar head. */
    public static boolean hasHead(Path dir) {
        try (ShardedSafeTensors st = ShardedSafeTensors.open(dir)) {
            return st.contains(ParameterLayout.HEAD_WEIGHT);
        }
    }

    /**
     * Loads a Llama-family folder into a new model on the given backend, sized for batches of
     * maxBatch sequences of up to maxT tokens (capped at max_position_embeddings). The
     * weights are checked against the config before anything is allocated.
     */
    public static Llama load(Kernels k, Path dir, int maxBatch, int maxT) {
        LlamaConfig cfg = readConfig(dir);
        try (ShardedSafeTensors st = ShardedSafeTensors.open(dir)) {
            Plan plan = plan(st, cfg);
            Llama model = new Llama(k, cfg, maxBatch, Math.min(maxT, cfg.maxSeqLen()), plan.head);
            float[] embed = null;
            for (ParameterLayout.Entry e : model.layout().entries()) {
                String fileName = plan.fileName(e.name());
                float[] v = st.floats(fileName);
                SafeTensors.requireFinite(st.fileOf(fileName), fileName, st.info(fileName).shape(), v);
                model.writeParam(e.name(), v);
                if (e.name().equals(EMBED) && plan.tiedCopy != null) embed = v;
            }
            if (plan.tiedCopy != null) {
                float[] head = st.floats(plan.tiedCopy);
                if (!Arrays.equals(head, embed))
                    throw new UserInputException(st.fileOf(plan.tiedCopy) + ": " + plan.tiedCopy + " differs from "
                            + plan.fileName(EMBED) + ", but config.json has tie_word_embeddings true (set it to false for an untied head)");
            }
            return model;
        }
    }

    /** The checked correspondence between the layout and the file's tensors. */
    private record Plan(boolean head, boolean bare, String tiedCopy) {
        String fileName(String layoutName) {
            return bare && layoutName.startsWith("model.") ? layoutName.substring("model.".length()) : layoutName;
        }
    }

    /**
     * Checks the folder's tensors against the config's layout (names, shapes, float dtypes,
     * nothing missing, nothing unused) without reading any data.
     */
    private static Plan plan(ShardedSafeTensors st, LlamaConfig cfg) {
        boolean bare = !st.contains(EMBED) && st.contains("embed_tokens.weight");
        String pre = bare ? "" : "model.";
        String says = " (config.json says " + cfg.describe() + ")";
        // cheap checks before building a layout whose size comes from the config
        String lastLayer = pre + "layers." + (cfg.numLayers() - 1) + ".input_layernorm.weight";
        if (!st.contains(pre + "embed_tokens.weight"))
            throw new UserInputException(st.dir() + ": missing tensor " + pre + "embed_tokens.weight" + says);
        if (!st.contains(lastLayer))
            throw new UserInputException(st.dir() + ": missing tensor " + lastLayer + says);
        boolean head = st.contains(ParameterLayout.HEAD_WEIGHT);
        Plan plan = new Plan(head, bare, cfg.tieWordEmbeddings() && st.contains(LM_HEAD) ? LM_HEAD : null);
        ParameterLayout layout = Llama.layout(cfg, head);
        Set<String> used = new HashSet<>();
        for (ParameterLayout.Entry e : layout.entries()) {
            String name = plan.fileName(e.name());
            if (!st.contains(name)) {
                String why = name.equals(LM_HEAD) ? " (config.json has tie_word_embeddings false: an untied head needs it)" : says;
                throw new UserInputException(st.dir() + ": missing tensor " + name + why);
            }
            checkTensor(st, name, e.shape());
            used.add(name);
        }
        if (plan.tiedCopy != null) {
            checkTensor(st, LM_HEAD, new int[]{cfg.vocabSize(), cfg.channels()});
            used.add(LM_HEAD);
        }
        List<String> unused = new ArrayList<>();
        for (String n : st.names()) {
            if (!used.contains(n) && !n.endsWith("rotary_emb.inv_freq")) unused.add(n);
        }
        if (!unused.isEmpty()) {
            throw new UserInputException(st.fileOf(unused.get(0)) + ": " + unused.size() + " tensor" + (unused.size() == 1 ? "" : "s")
                    + " that a " + cfg.modelType() + " with this config.json does not have: "
                    + String.join(", ", unused.subList(0, Math.min(5, unused.size()))) + (unused.size() > 5 ? ", ..." : "") + says);
        }
        return plan;
    }

    private static void checkTensor(ShardedSafeTensors st, String name, int[] want) {
        TensorInfo info = st.info(name);
        if (!info.dtype().isFloatReadable())
            throw new UserInputException(st.fileOf(name) + ": tensor " + name + " has dtype " + info.dtype() + "; expected F32, BF16 or F16");
        long[] w = Arrays.stream(want).asLongStream().toArray();
        if (!Arrays.equals(info.shape(), w))
            throw new UserInputException(st.fileOf(name) + ": tensor " + name + " has shape " + Arrays.toString(info.shape())
                    + " but config.json implies " + Arrays.toString(want));
    }

    // ------------------------------------------------------------------ writing

    /** Writes the model as a Hugging Face folder of its type (atomically per file), recording the tokenizer when given. */
    public static void save(Llama model, Path dir, String tokenizerName) throws IOException {
        save(model, dir, tokenizerName, null);
    }

    /**
     * {@link #save(Llama, Path, String)} with extra top-level config.json keys (e.g. the
     * source model's token ids from {@link #passThroughKeys}); they never replace a key the
     * writer sets.
     */
    public static void save(Llama model, Path dir, String tokenizerName, ObjectNode extra) throws IOException {
        Files.createDirectories(dir);
        List<SafeTensors.Entry> tensors = new ArrayList<>();
        for (ParameterLayout.Entry e : model.layout().entries()) {
            tensors.add(SafeTensors.Entry.f32(e.name(), model.readParam(e.name()), e.shape()));
        }
        SafeTensors.write(dir.resolve(ShardedSafeTensors.SINGLE), tensors, Map.of("format", "pt", "producer", "pref4j"));
        writeConfig(model.config(), dir, tokenizerName, extra);
    }

    /** Writes config.json for a model of this config (atomically), recording the tokenizer when given. */
    public static void writeConfig(LlamaConfig c, Path dir, String tokenizerName) throws IOException {
        writeConfig(c, dir, tokenizerName, null);
    }

    /** {@link #writeConfig(LlamaConfig, Path, String)} with extra keys (see {@link #save(Llama, Path, String, ObjectNode)}). */
    public static void writeConfig(LlamaConfig c, Path dir, String tokenizerName, ObjectNode extra) throws IOException {
        ObjectNode cfg = toJson(c);
        if (extra != null) {
            for (Iterator<Map.Entry<String, JsonNode>> it = extra.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!cfg.has(e.getKey())) cfg.set(e.getKey(), e.getValue().deepCopy());
            }
        }
        if (tokenizerName != null) cfg.put(HfCheckpoint.TOKENIZER_KEY, tokenizerName);
        Files.createDirectories(dir);
        AtomicFiles.replace(dir.resolve(HfCheckpoint.CONFIG),
                (JSON.writerWithDefaultPrettyPrinter().writeValueAsString(cfg) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /** config.json's contents for this config: the keys transformers reads for the model type. */
    public static ObjectNode toJson(LlamaConfig c) {
        ObjectNode n = JSON.createObjectNode();
        String type = c.modelType();
        n.putArray("architectures").add(switch (type) {
            case "llama" -> "LlamaForCausalLM";
            case "mistral" -> "MistralForCausalLM";
            case "qwen2" -> "Qwen2ForCausalLM";
            default -> "Qwen3ForCausalLM";
        });
        n.put("model_type", type);
        n.put("hidden_size", c.channels());
        n.put("intermediate_size", c.intermediate());
        n.put("num_hidden_layers", c.numLayers());
        n.put("num_attention_heads", c.numHeads());
        n.put("num_key_value_heads", c.numKvHeads());
        n.put("head_dim", c.headDim());
        n.put("hidden_act", "silu");
        n.put("max_position_embeddings", c.maxSeqLen());
        n.put("rms_norm_eps", c.rmsNormEps());
        n.put("rope_theta", c.ropeTheta());
        LlamaConfig.RopeScaling r = c.ropeScaling();
        if (r == null) {
            n.putNull("rope_scaling");
        } else if (r.type().equals("linear")) {
            // "type": what every transformers version reads for linear scaling
            n.putObject("rope_scaling").put("type", "linear").put("factor", r.factor());
        } else {
            n.putObject("rope_scaling").put("rope_type", "llama3").put("factor", r.factor())
                    .put("low_freq_factor", r.lowFreqFactor()).put("high_freq_factor", r.highFreqFactor())
                    .put("original_max_position_embeddings", r.originalMaxPositions());
        }
        n.put("vocab_size", c.vocabSize());
        n.put("tie_word_embeddings", c.tieWordEmbeddings());
        switch (type) {
            case "llama" -> {
                n.put("attention_bias", c.attentionBias());
                n.put("mlp_bias", false);
                n.put("pretraining_tp", 1);
            }
            case "mistral" -> n.putNull("sliding_window");
            case "qwen2", "qwen3" -> {
                if (type.equals("qwen3")) n.put("attention_bias", c.attentionBias());
                n.put("use_sliding_window", false);
                n.putNull("sliding_window");
                n.put("max_window_layers", c.numLayers());
            }
            default -> throw new IllegalStateException(type);
        }
        n.put("attention_dropout", 0.0);
        n.put("initializer_range", 0.02);
        n.put("use_cache", true);
        n.put("torch_dtype", "float32");
        return n;
    }

    /**
     * The {@link #PASS_THROUGH} keys of a source folder's config.json (token ids pref4j does
     * not model but an exported folder should keep), for {@link #save(Llama, Path, String, ObjectNode)}.
     */
    public static ObjectNode passThroughKeys(Path srcDir) {
        ObjectNode src = ModelFiles.readConfigJson(srcDir.resolve(HfCheckpoint.CONFIG));
        ObjectNode out = JSON.createObjectNode();
        for (String key : PASS_THROUGH) {
            if (src.has(key)) out.set(key, src.get(key).deepCopy());
        }
        return out;
    }
}
