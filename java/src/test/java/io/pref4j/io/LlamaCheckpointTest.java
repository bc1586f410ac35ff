package io.pref4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.model.CausalLm;
import io.pref4j.model.Llama;
import io.pref4j.model.LlamaConfig;
import io.pref4j.model.ParameterLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.*;

/** config.json parsing, import checks (single file and sharded) and export of the Llama family. */
class LlamaCheckpointTest {

    static final ObjectMapper JSON = new ObjectMapper();

    static final String BASE = """
            {"model_type": "llama", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 128,
             "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0}""";

    static ObjectNode base() throws Exception {
        return (ObjectNode) JSON.readTree(BASE);
    }

    static ObjectNode with(String json) throws Exception {
        ObjectNode n = base();
        n.setAll((ObjectNode) JSON.readTree(json));
        return n;
    }

    static LlamaConfig parse(JsonNode n) {
        return LlamaCheckpoint.parseConfig(n, "cfg.json");
    }

    static void assertRefused(JsonNode n, String... parts) {
        UserInputException e = assertThrows(UserInputException.class, () -> parse(n), n.toString());
        assertTrue(e.getMessage().startsWith("cfg.json: "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        for (String p : parts) assertTrue(e.getMessage().contains(p), "'" + p + "' in: " + e.getMessage());
    }

    // ------------------------------------------------------------------ config.json

    @Test
    void readsTheFieldsAndTransformersDefaults() throws Exception {
        LlamaConfig c = parse(base());
        assertEquals(new LlamaConfig("llama", 64, 96, 2, 4, 2, 16, 1e-5, 10000.0, null, 64, 128, false, false, false), c);

        ObjectNode n = base();
        n.remove(List.of("num_key_value_heads", "rms_norm_eps", "rope_theta", "max_position_embeddings"));
        c = parse(n);
        assertEquals(4, c.numKvHeads(), "llama: num_key_value_heads defaults to the heads");
        assertEquals(1e-6, c.rmsNormEps());
        assertEquals(10000.0, c.ropeTheta());
        assertEquals(2048, c.maxSeqLen());
        assertFalse(c.tieWordEmbeddings());
        assertEquals(4, parse(with("{\"num_key_value_heads\": null}")).numKvHeads());

        // mistral's default kv heads are 8 (transformers' MistralConfig), qwen3's head_dim 128
        LlamaConfig m = parse(with("{\"model_type\": \"mistral\", \"hidden_size\": 256, \"num_attention_heads\": 16, \"sliding_window\": null}")
                .without("num_key_value_heads"));
        assertEquals(8, m.numKvHeads());
        assertEquals(16, m.headDim());
        assertFalse(m.attentionBias());
        LlamaConfig q3 = parse(with("{\"model_type\": \"qwen3\", \"attention_bias\": true}"));
        assertEquals(128, q3.headDim());
        assertTrue(q3.qkNorm());
        assertTrue(q3.outputBias());
        assertEquals(32, parse(with("{\"model_type\": \"qwen3\", \"head_dim\": 32}")).headDim());
        LlamaConfig q2 = parse(with("{\"model_type\": \"qwen2\", \"attention_bias\": false}"));
        assertTrue(q2.attentionBias(), "qwen2 always has q/k/v biases");
        assertFalse(q2.outputBias(), "and no o_proj bias");
        assertFalse(q2.qkNorm());
        assertTrue(parse(with("{\"attention_bias\": true}")).outputBias(), "llama's attention_bias includes o_proj");
        assertTrue(parse(with("{\"tie_word_embeddings\": true}")).tieWordEmbeddings());
        assertEquals(32768, parse(with("{\"model_type\": \"qwen2\"}").without("max_position_embeddings")).maxSeqLen());
    }

    @Test
    void readsRopeScalingInBothSpellings() throws Exception {
        LlamaConfig.RopeScaling l3 = new LlamaConfig.RopeScaling("llama3", 8.0, 1.0, 4.0, 8192);
        String l3json = "{\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, "
                + "\"original_max_position_embeddings\": 8192";
        assertEquals(l3, parse(with("{\"rope_scaling\": " + l3json + "}}")).ropeScaling());
        assertEquals(new LlamaConfig.RopeScaling("linear", 2.0, 0, 0, 0),
                parse(with("{\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2}}")).ropeScaling());
        // transformers 5: rope_parameters carries rope_theta too
        LlamaConfig c = parse(with("{\"rope_parameters\": " + l3json + ", \"rope_theta\": 500000.0}}").without("rope_theta"));
        assertEquals(l3, c.ropeScaling());
        assertEquals(500000.0, c.ropeTheta());
        c = parse(with("{\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 1000000.0}}"));
        assertNull(c.ropeScaling());
        assertEquals(1e6, c.ropeTheta());
        assertNull(parse(with("{\"rope_scaling\": null}")).ropeScaling());
    }

    @Test
    void refusesBadFieldsNamingFieldAndValue() throws Exception {
        assertRefused(with("{\"rms_norm_eps\": \"x\"}"), "field \"rms_norm_eps\" must be a number, got \"x\"");
        assertRefused(with("{\"rms_norm_eps\": null}"), "field \"rms_norm_eps\" must be a number, got null");
        assertRefused(with("{\"hidden_size\": 64.5}"), "field \"hidden_size\" must be an integer, got 64.5");
        assertRefused(with("{\"num_hidden_layers\": \"2\"}"), "field \"num_hidden_layers\" must be an integer, got \"2\"");
        assertRefused(with("{\"vocab_size\": 1e12}"), "field \"vocab_size\" must be an integer");
        assertRefused(with("{\"head_dim\": [16]}"), "field \"head_dim\" must be an integer or null, got [16]");
        assertRefused(base().without("hidden_size"), "missing field \"hidden_size\"");
        assertRefused(base().without("vocab_size"), "missing field \"vocab_size\"");
        assertRefused(base().without("model_type"), "missing field \"model_type\"");
        assertRefused(with("{\"tie_word_embeddings\": \"yes\"}"), "field \"tie_word_embeddings\" must be true or false, got \"yes\"");
        assertRefused(with("{\"attention_bias\": 1}"), "field \"attention_bias\" must be true or false, got 1");
        assertRefused(with("{\"model_type\": 7}"), "field \"model_type\" must be a string, got 7");
        assertRefused(with("{\"model_type\": \"gemma\"}"), "model_type 'gemma'");
        assertRefused(with("{\"hidden_act\": \"gelu\"}"), "\"hidden_act\" is \"gelu\"");
        assertRefused(with("{\"mlp_bias\": true}"), "mlp_bias");
        assertRefused(with("{\"num_key_value_heads\": 3}"), "num_key_value_heads (3) must divide num_attention_heads (4)");
        assertRefused(with("{\"hidden_size\": 66}"), "hidden_size 66 is not a multiple of num_attention_heads 4");
        assertRefused(with("{\"head_dim\": 15}"), "head_dim must be a positive even number, got 15");
        assertRefused(with("{\"hidden_size\": 0}"), "hidden_size must be >= 1, got 0");
        assertRefused(with("{\"rms_norm_eps\": -1}"), "rms_norm_eps must be > 0");
        assertRefused(with("{\"quantization_config\": {\"quant_method\": \"gptq\"}}"), "quantization_config");
        // rope
        assertRefused(with("{\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}}"), "rope type 'yarn'",
                "supported: default, linear, llama3");
        assertRefused(with("{\"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2.0}}"), "rope type 'dynamic'");
        assertRefused(with("{\"rope_scaling\": \"linear\"}"), "field \"rope_scaling\" must be an object or null, got \"linear\"");
        assertRefused(with("{\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}}"), "missing field \"rope_scaling.low_freq_factor\"");
        assertRefused(with("{\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": \"2\"}}"),
                "field \"rope_scaling.factor\" must be a number, got \"2\"");
        assertRefused(with("{\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 0}}"), "rope scaling factor must be > 0");
        assertRefused(with("{\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 4.0, "
                + "\"high_freq_factor\": 1.0, \"original_max_position_embeddings\": 8192}}"), "low_freq_factor < high_freq_factor");
        assertRefused(with("{\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 1e4, \"partial_rotary_factor\": 0.5}}"),
                "partial_rotary_factor");
        assertRefused(with("{\"rope_theta\": \"big\"}"), "field \"rope_theta\" must be a number, got \"big\"");
    }

    @Test
    void refusesSlidingWindowsShorterThanThePositions() throws Exception {
        ObjectNode mistral = with("{\"model_type\": \"mistral\", \"max_position_embeddings\": 32768, \"sliding_window\": 4096}");
        assertRefused(mistral, "field \"sliding_window\" is 4096", "max_position_embeddings 32768", "pref4j's attention is full");
        // absent: transformers' default window of 4096
        assertRefused(mistral.without("sliding_window"), "field \"sliding_window\" is 4096");
        assertEquals(32768, parse(with("{\"model_type\": \"mistral\", \"max_position_embeddings\": 32768, \"sliding_window\": null}")).maxSeqLen());
        assertEquals(64, parse(with("{\"model_type\": \"mistral\", \"sliding_window\": 4096}")).maxSeqLen(), "a window covering every position is full attention");
        assertRefused(with("{\"model_type\": \"mistral\", \"sliding_window\": \"big\"}"), "field \"sliding_window\" must be an integer or null, got \"big\"");

        assertRefused(with("{\"model_type\": \"qwen2\", \"use_sliding_window\": true, \"sliding_window\": 16}"),
                "\"use_sliding_window\" is true with sliding_window 16", "pref4j's attention is full");
        parse(with("{\"model_type\": \"qwen2\", \"use_sliding_window\": false, \"sliding_window\": 16}"));
        parse(with("{\"model_type\": \"qwen3\", \"use_sliding_window\": true, \"sliding_window\": 64}"));
        assertRefused(with("{\"model_type\": \"qwen3\", \"use_sliding_window\": \"no\"}"), "field \"use_sliding_window\" must be true or false, got \"no\"");
        parse(with("{\"model_type\": \"qwen2\", \"layer_types\": [\"full_attention\", \"full_attention\"]}"));
        assertRefused(with("{\"model_type\": \"qwen2\", \"layer_types\": [\"full_attention\", \"linear_attention\"]}"),
                "element 1 is \"linear_attention\"");
        assertRefused(with("{\"model_type\": \"mistral\", \"sliding_window\": 8, \"layer_types\": [\"sliding_attention\", \"full_attention\"]}"),
                "sliding_window\" is 8");
    }

    @Test
    void unsupportedModelTypeIsOneLineNamingTheSupportedOnes(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"gemma2\", \"hidden_size\": 8}");
        UserInputException e = assertThrows(UserInputException.class, () -> ModelFiles.readConfig(dir));
        assertTrue(e.getMessage().contains("model_type 'gemma2' is not supported (supported: gpt2, llama, mistral, qwen2, qwen3)"), e.getMessage());
        assertThrows(UserInputException.class, () -> ModelFiles.hasHead(dir));
        Files.writeString(dir.resolve("config.json"), BASE);
        assertEquals(parse(base()), ModelFiles.readConfig(dir));
    }

    // ------------------------------------------------------------------ export / import

    static final LlamaConfig[] CONFIGS = {
            new LlamaConfig("llama", 32, 48, 2, 4, 2, 8, 1e-5, 10000.0, null, 40, 60, false, false, false),
            new LlamaConfig("llama", 32, 40, 1, 2, 2, 16, 1e-6, 500000.0,
                    new LlamaConfig.RopeScaling("llama3", 8.0, 1.0, 4.0, 8192), 64, 50, true, false, false),
            new LlamaConfig("llama", 32, 40, 2, 4, 1, 8, 1e-6, 10000.0,
                    new LlamaConfig.RopeScaling("linear", 2.5, 0, 0, 0), 32, 45, false, true, false),
            new LlamaConfig("mistral", 32, 40, 1, 4, 2, 8, 1e-5, 1e6, null, 32, 50, false, false, false),
            new LlamaConfig("qwen2", 32, 36, 2, 4, 2, 8, 1e-6, 1e6, null, 32, 50, true, true, false),
            new LlamaConfig("qwen3", 32, 36, 2, 4, 2, 16, 1e-6, 1e6, null, 32, 50, false, false, true),
    };

    static Llama randomModel(CpuKernels k, LlamaConfig c, boolean head, long seed) {
        Llama m = new Llama(k, c, 2, Math.min(16, c.maxSeqLen()), head);
        SplittableRandom r = new SplittableRandom(seed);
        for (ParameterLayout.Entry e : m.layout().entries()) {
            float[] v = new float[(int) e.size()];
            for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * 0.3);
            m.writeParam(e.name(), v);
        }
        return m;
    }

    static void assertSameBits(CausalLm a, CausalLm b) {
        assertEquals(a.layout().entries().size(), b.layout().entries().size());
        for (ParameterLayout.Entry e : a.layout().entries()) {
            float[] x = a.readParam(e.name()), y = b.readParam(e.name());
            assertEquals(x.length, y.length, e.name());
            for (int i = 0; i < x.length; i++)
                assertEquals(Float.floatToRawIntBits(x[i]), Float.floatToRawIntBits(y[i]), e.name() + "[" + i + "]");
        }
    }

    @Test
    void exportThenImportIsBitForBit(@TempDir Path dir) throws Exception {
        try (CpuKernels k = new CpuKernels(1)) {
            int i = 0;
            for (LlamaConfig c : CONFIGS) {
                for (boolean head : new boolean[]{false, true}) {
                    Path d = dir.resolve("m" + i++);
                    Llama a = randomModel(k, c, head, i);
                    ModelFiles.save(a, d, "byte");
                    assertEquals(c, ModelFiles.readConfig(d), "config round trip");
                    assertEquals(head, ModelFiles.hasHead(d));
                    CausalLm b = ModelFiles.load(k, d, 2, 16);
                    assertInstanceOf(Llama.class, b);
                    assertEquals(head, b.hasHead());
                    assertEquals(c, b.config());
                    assertSameBits(a, b);
                    JsonNode json = JSON.readTree(d.resolve("config.json").toFile());
                    assertEquals(c.modelType(), json.get("model_type").asText());
                    assertEquals(switch (c.modelType()) {
                        case "llama" -> "LlamaForCausalLM";
                        case "mistral" -> "MistralForCausalLM";
                        case "qwen2" -> "Qwen2ForCausalLM";
                        default -> "Qwen3ForCausalLM";
                    }, json.get("architectures").get(0).asText());
                    assertEquals("float32", json.get("torch_dtype").asText());
                    assertEquals("byte", json.get(HfCheckpoint.TOKENIZER_KEY).asText());
                    for (String key : List.of("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                            "num_key_value_heads", "head_dim", "rms_norm_eps", "rope_theta", "max_position_embeddings",
                            "vocab_size", "tie_word_embeddings", "hidden_act", "rope_scaling"))
                        assertTrue(json.has(key), key);
                    try (SafeTensors st = SafeTensors.open(d.resolve("model.safetensors"))) {
                        assertEquals(!c.tieWordEmbeddings(), st.contains("lm_head.weight"), "lm_head only when untied");
                        assertEquals(c.outputBias(), st.contains("model.layers.0.self_attn.o_proj.bias"));
                        assertEquals(c.attentionBias(), st.contains("model.layers.0.self_attn.k_proj.bias"));
                        assertArrayEquals(new long[]{(long) c.numKvHeads() * c.headDim(), c.channels()},
                                st.info("model.layers.0.self_attn.v_proj.weight").shape(), "HF [out, in] layout");
                        for (String n : st.names()) assertEquals(Dtype.F32, st.info(n).dtype());
                    }
                    // re-export is byte-identical
                    Path d2 = dir.resolve("again" + i);
                    ModelFiles.save(b, d2, "byte");
                    assertArrayEquals(Files.readAllBytes(d.resolve("model.safetensors")), Files.readAllBytes(d2.resolve("model.safetensors")));
                    assertEquals(Files.readString(d.resolve("config.json")), Files.readString(d2.resolve("config.json")));
                }
            }
        }
    }

    @Test
    void exportKeepsTheSourceTokenIds(@TempDir Path dir) throws Exception {
        Path src = dir.resolve("src");
        Files.createDirectories(src);
        Files.writeString(src.resolve("config.json"), with("{\"bos_token_id\": 1, \"eos_token_id\": [2, 7], \"foo\": 3}").toString());
        try (CpuKernels k = new CpuKernels(1)) {
            Llama m = randomModel(k, parse(base()), false, 3);
            ModelFiles.save(m, dir.resolve("out"), null, src);
            JsonNode json = JSON.readTree(dir.resolve("out").resolve("config.json").toFile());
            assertEquals(1, json.get("bos_token_id").asInt());
            assertEquals("[2,7]", json.get("eos_token_id").toString());
            assertFalse(json.has("foo"), "only the known harmless keys are copied");
            assertFalse(json.has(HfCheckpoint.TOKENIZER_KEY));
        }
    }

    @Test
    void zeroWeightModelOfAConfig() {
        try (CpuKernels k = new CpuKernels(1)) {
            CausalLm m = ModelFiles.create(k, CONFIGS[5], 2, 1000);
            assertInstanceOf(Llama.class, m);
            assertEquals(CONFIGS[5].maxSeqLen(), m.maxT(), "maxT capped at the positions");
        }
    }

    // ------------------------------------------------------------------ import checks

    /** The tensors of a saved folder, editable, written back by {@link #write}. */
    record Tensors(Map<String, float[]> values, Map<String, long[]> shapes) {
        static Tensors read(Path file) {
            Map<String, float[]> v = new LinkedHashMap<>();
            Map<String, long[]> s = new LinkedHashMap<>();
            try (SafeTensors st = SafeTensors.open(file)) {
                for (String n : st.names()) {
                    v.put(n, st.floats(n));
                    s.put(n, st.info(n).shape());
                }
            }
            return new Tensors(v, s);
        }

        void put(String name, float[] values, long... shape) {
            this.values.put(name, values);
            this.shapes.put(name, shape);
        }

        void remove(String name) {
            values.remove(name);
            shapes.remove(name);
        }

        List<SafeTensors.Entry> entries(Dtype dtype, java.util.function.Predicate<String> which) {
            List<SafeTensors.Entry> out = new ArrayList<>();
            for (String n : values.keySet()) {
                if (which.test(n)) out.add(SafeTensors.Entry.of(n, dtype, shapes.get(n), values.get(n)));
            }
            return out;
        }

        void write(Path file) {
            SafeTensors.write(file, entries(Dtype.F32, n -> true));
        }
    }

    /** A saved random model, then the edit applied to its tensors. */
    static Path folder(Path dir, String name, LlamaConfig c, Consumer<Tensors> edit) throws Exception {
        Path d = dir.resolve(name);
        try (CpuKernels k = new CpuKernels(1)) {
            LlamaCheckpoint.save(randomModel(k, c, false, 11), d, null);
        }
        Tensors t = Tensors.read(d.resolve("model.safetensors"));
        edit.accept(t);
        t.write(d.resolve("model.safetensors"));
        return d;
    }

    static void assertLoadRefused(Path d, String... parts) {
        try (CpuKernels k = new CpuKernels(1)) {
            UserInputException e = assertThrows(UserInputException.class, () -> ModelFiles.load(k, d, 1, 8));
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
            for (String p : parts) assertTrue(e.getMessage().contains(p), "'" + p + "' in: " + e.getMessage());
        }
    }

    /** Loads the folder (it must load) and returns the model's config. */
    static io.pref4j.model.ModelConfig loadOk(Path d) {
        try (CpuKernels k = new CpuKernels(1)) {
            return ModelFiles.load(k, d, 1, 8).config();
        }
    }

    @Test
    void refusesMissingWrongAndUnusedTensors(@TempDir Path dir) throws Exception {
        LlamaConfig c = CONFIGS[0];
        String up = "model.layers.1.mlp.up_proj.weight";
        assertLoadRefused(folder(dir, "missing", c, t -> t.remove(up)), "missing tensor " + up);
        assertLoadRefused(folder(dir, "shape", c, t -> t.put(up, new float[48 * 31], 48, 31)),
                "tensor " + up + " has shape [48, 31] but config.json implies [48, 32]");
        assertLoadRefused(folder(dir, "nohead", c, t -> t.remove("lm_head.weight")), "missing tensor lm_head.weight", "untied");
        assertLoadRefused(folder(dir, "extra", c, t -> t.put("model.layers.0.self_attn.o_proj.bias", new float[32], 32)),
                "1 tensor that a llama with this config.json does not have: model.layers.0.self_attn.o_proj.bias");
        assertLoadRefused(folder(dir, "layer2", c, t -> t.put("model.layers.2.input_layernorm.weight", new float[32], 32)),
                "does not have: model.layers.2.input_layernorm.weight");
        assertLoadRefused(folder(dir, "nan", c, t -> t.values().get(up)[17] = Float.NaN), "tensor '" + up + "' element 17 (index [0, 17]) is NaN");
        assertLoadRefused(folder(dir, "inf", c, t -> t.values().get("model.norm.weight")[3] = Float.NEGATIVE_INFINITY),
                "tensor 'model.norm.weight' element 3 is -Infinity");
        // harmless buffers are ignored
        Path buf = folder(dir, "buffers", c, t -> {
            t.put("model.layers.0.self_attn.rotary_emb.inv_freq", new float[4], 4);
            t.put("model.rotary_emb.inv_freq", new float[4], 4);
        });
        assertEquals(c, loadOk(buf));
    }

    @Test
    void tiedHeadAcceptsOnlyACopyOfTheEmbedding(@TempDir Path dir) throws Exception {
        LlamaConfig tied = CONFIGS[4];
        String E = "model.embed_tokens.weight";
        Path same = folder(dir, "same", tied, t -> t.put("lm_head.weight", t.values().get(E).clone(), t.shapes().get(E)));
        assertEquals(tied, loadOk(same));
        Path differs = folder(dir, "differs", tied, t -> {
            float[] w = t.values().get(E).clone();
            w[5] += 1f;
            t.put("lm_head.weight", w, t.shapes().get(E));
        });
        assertLoadRefused(differs, "lm_head.weight differs from model.embed_tokens.weight", "tie_word_embeddings");
        assertLoadRefused(folder(dir, "shape", tied, t -> t.put("lm_head.weight", new float[50 * 31], 50, 31)), "lm_head.weight has shape");
    }

    @Test
    void readsLlamaModelNamesWithoutThePrefix(@TempDir Path dir) throws Exception {
        LlamaConfig tied = CONFIGS[4];
        Path d = dir.resolve("bare");
        try (CpuKernels k = new CpuKernels(1)) {
            Llama a = randomModel(k, tied, false, 5);
            LlamaCheckpoint.save(a, d, null);
            Tensors t = Tensors.read(d.resolve("model.safetensors"));
            Tensors bare = new Tensors(new LinkedHashMap<>(), new LinkedHashMap<>());
            for (String n : t.values().keySet()) bare.put(n.substring("model.".length()), t.values().get(n), t.shapes().get(n));
            bare.write(d.resolve("model.safetensors"));
            assertSameBits(a, ModelFiles.load(k, d, 2, 16));
        }
    }

    @Test
    void checksTheFileBeforeAllocating(@TempDir Path dir) throws Exception {
        Path d = folder(dir, "m", CONFIGS[0], t -> {});
        ObjectNode cfg = (ObjectNode) JSON.readTree(d.resolve("config.json").toFile());
        // a billion layers or a vast vocabulary would not fit any memory: refused from the file's header alone
        cfg.put("num_hidden_layers", 1_000_000_000);
        Files.writeString(d.resolve("config.json"), cfg.toString());
        assertLoadRefused(d, "missing tensor model.layers.999999999.input_layernorm.weight");
        cfg.put("num_hidden_layers", 2);
        cfg.put("vocab_size", 2_000_000_000);
        Files.writeString(d.resolve("config.json"), cfg.toString());
        assertLoadRefused(d, "model.embed_tokens.weight has shape [60, 32] but config.json implies [2000000000, 32]");
        cfg.put("vocab_size", 60);
        cfg.put("intermediate_size", 1 << 30);
        Files.writeString(d.resolve("config.json"), cfg.toString());
        assertLoadRefused(d, "has shape [48, 32] but config.json implies [1073741824, 32]");
    }

    // ------------------------------------------------------------------ sharded folders

    /** Writes the folder's tensors as two shards (BF16 and F16) with an index; returns the index JSON to edit. */
    static ObjectNode shard(Path d, Tensors t) throws Exception {
        Files.delete(d.resolve("model.safetensors"));
        String s1 = "model-00001-of-00002.safetensors", s2 = "model-00002-of-00002.safetensors";
        java.util.function.Predicate<String> first = n -> n.startsWith("model.layers.0.") || n.startsWith("model.embed");
        SafeTensors.write(d.resolve(s1), t.entries(Dtype.BF16, first));
        SafeTensors.write(d.resolve(s2), t.entries(Dtype.F32, first.negate()));
        ObjectNode index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", 0);
        ObjectNode wm = index.putObject("weight_map");
        for (String n : t.values().keySet()) wm.put(n, first.test(n) ? s1 : s2);
        Files.writeString(d.resolve(ShardedSafeTensors.INDEX), index.toString());
        return index;
    }

    @Test
    void readsShardedMixedDtypeFolders(@TempDir Path dir) throws Exception {
        LlamaConfig c = CONFIGS[2];
        Path d = folder(dir, "m", c, t -> {});
        Tensors t = Tensors.read(d.resolve("model.safetensors"));
        shard(d, t);
        try (CpuKernels k = new CpuKernels(1)) {
            CausalLm m = ModelFiles.load(k, d, 1, 8);
            assertFalse(ModelFiles.hasHead(d));
            for (ParameterLayout.Entry e : m.layout().entries()) {
                float[] want = t.values().get(e.name()).clone();
                boolean bf16 = e.name().startsWith("model.layers.0.") || e.name().startsWith("model.embed");
                if (bf16) for (int i = 0; i < want.length; i++) want[i] = SafeTensors.bf16ToFloat(SafeTensors.floatToBf16(want[i]));
                assertArrayEquals(want, m.readParam(e.name()), e.name());
                if (bf16 && e.name().endsWith("q_proj.weight"))
                    assertFalse(java.util.Arrays.equals(want, t.values().get(e.name())), "bf16 rounding happened");
            }
        }
    }

    @Test
    void refusesInconsistentShardIndexes(@TempDir Path dir) throws Exception {
        LlamaConfig c = CONFIGS[0];
        String s1 = "model-00001-of-00002.safetensors", s2 = "model-00002-of-00002.safetensors";
        String norm = "model.norm.weight";

        Path d = folder(dir, "missingShard", c, t -> {});
        ObjectNode idx = shard(d, Tensors.read(d.resolve("model.safetensors")));
        ((ObjectNode) idx.get("weight_map")).put(norm, "model-00003-of-00002.safetensors");
        Files.writeString(d.resolve(ShardedSafeTensors.INDEX), idx.toString());
        assertLoadRefused(d, "shard model-00003-of-00002.safetensors (holding " + norm + ") does not exist");

        d = folder(dir, "unlisted", c, t -> {});
        idx = shard(d, Tensors.read(d.resolve("model.safetensors")));
        ((ObjectNode) idx.get("weight_map")).remove(norm);
        Files.writeString(d.resolve(ShardedSafeTensors.INDEX), idx.toString());
        assertLoadRefused(d, s2, "tensor " + norm + " is not listed in model.safetensors.index.json");

        d = folder(dir, "wrongShard", c, t -> {});
        idx = shard(d, Tensors.read(d.resolve("model.safetensors")));
        ((ObjectNode) idx.get("weight_map")).put(norm, s1);
        Files.writeString(d.resolve(ShardedSafeTensors.INDEX), idx.toString());
        assertLoadRefused(d, "tensor " + norm + " is also here, but model.safetensors.index.json places it in " + s1);

        d = folder(dir, "ghost", c, t -> {});
        idx = shard(d, Tensors.read(d.resolve("model.safetensors")));
        ((ObjectNode) idx.get("weight_map")).put("model.ghost.weight", s1);
        Files.writeString(d.resolve(ShardedSafeTensors.INDEX), idx.toString());
        assertLoadRefused(d, "weight_map places model.ghost.weight in " + s1 + ", which does not hold it");

        d = folder(dir, "twice", c, t -> {});
        shard(d, Tensors.read(d.resolve("model.safetensors")));
        String text = Files.readString(d.resolve(ShardedSafeTensors.INDEX));
        Files.writeString(d.resolve(ShardedSafeTensors.INDEX), text.replace("\"weight_map\":{", "\"weight_map\":{\"" + norm + "\":\"" + s2 + "\","));
        assertLoadRefused(d, "listed twice", norm);

        d = folder(dir, "escape", c, t -> {});
        idx = shard(d, Tensors.read(d.resolve("model.safetensors")));
        ((ObjectNode) idx.get("weight_map")).put(norm, "../" + s2);
        Files.writeString(d.resolve(ShardedSafeTensors.INDEX), idx.toString());
        assertLoadRefused(d, "\"../" + s2 + "\" is not a file name in the folder");

        d = folder(dir, "badmap", c, t -> {});
        shard(d, Tensors.read(d.resolve("model.safetensors")));
        Files.writeString(d.resolve(ShardedSafeTensors.INDEX), "{\"weight_map\": [1]}");
        assertLoadRefused(d, "field \"weight_map\" must be an object");

        d = folder(dir, "bin", c, t -> {});
        Files.delete(d.resolve("model.safetensors"));
        Files.writeString(d.resolve("pytorch_model.bin"), "x");
        assertLoadRefused(d, "no model.safetensors or model.safetensors.index.json", "safetensors only");
    }
}
