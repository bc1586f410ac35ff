package io.pref4j.io;

import io.pref4j.UserInputException;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;
import io.pref4j.model.ParameterLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class HfCheckpointTest {

    static final GptConfig CFG = new GptConfig(16, 50, 2, 2, 16);

    static Gpt randomModel(CpuKernels k, boolean head) {
        Gpt m = new Gpt(k, CFG, 2, 16, head);
        m.initRandom(42);
        // make the vectors non-trivial too
        for (ParameterLayout.Entry e : m.layout().entries()) {
            if (!e.decayed()) {
                float[] v = m.readParam(e.name());
                for (int i = 0; i < v.length; i++) v[i] += (float) Math.sin(i + e.offset());
                m.writeParam(e.name(), v);
            }
        }
        return m;
    }

    @Test
    void exportImportRoundTripsBitForBit(@TempDir Path dir) throws Exception {
        try (CpuKernels k = new CpuKernels(1)) {
            for (boolean head : new boolean[]{false, true}) {
                Path d = dir.resolve("m" + head);
                Gpt a = randomModel(k, head);
                HfCheckpoint.save(a, d, "byte");
                assertEquals(CFG, HfCheckpoint.readConfig(d));
                assertEquals("byte", HfCheckpoint.tokenizerName(d));
                Gpt b = HfCheckpoint.load(k, d, 2, 16);
                assertEquals(head, b.hasHead());
                for (ParameterLayout.Entry e : a.layout().entries()) {
                    assertArrayEquals(a.readParam(e.name()), b.readParam(e.name()), e.name());
                }
                byte[] first = Files.readAllBytes(d.resolve(HfCheckpoint.WEIGHTS));
                Path d2 = dir.resolve("again" + head);
                HfCheckpoint.save(b, d2, "byte");
                assertArrayEquals(first, Files.readAllBytes(d2.resolve(HfCheckpoint.WEIGHTS)), "re-export is byte-identical");
                try (SafeTensors st = SafeTensors.open(d.resolve(HfCheckpoint.WEIGHTS))) {
                    // HF GPT2LMHeadModel names, Conv1D weights stored [in, out]
                    assertArrayEquals(new long[]{16, 48}, st.info("transformer.h.0.attn.c_attn.weight").shape());
                    assertArrayEquals(new long[]{64, 16}, st.info("transformer.h.1.mlp.c_proj.weight").shape());
                }
            }
        }
    }

    @Test
    void readsGpt2ModelNamesBuffersAndTiedLmHead(@TempDir Path dir) throws Exception {
        try (CpuKernels k = new CpuKernels(1)) {
            Gpt a = randomModel(k, false);
            HfCheckpoint.save(a, dir);
            // rewrite the weights the way HF's GPT2Model saves them: no "transformer." prefix,
            // attention-mask buffers, and an lm_head.weight equal to wte
            List<SafeTensors.Entry> entries = new ArrayList<>();
            for (ParameterLayout.Entry e : a.layout().entries()) {
                entries.add(SafeTensors.Entry.f32(e.name().substring("transformer.".length()), a.readParam(e.name()), e.shape()));
            }
            entries.add(SafeTensors.Entry.f32("h.0.attn.bias", new float[16 * 16], 1, 1, 16, 16));
            entries.add(SafeTensors.Entry.f32("lm_head.weight", a.readParam("transformer.wte.weight"), 50, 16));
            SafeTensors.write(dir.resolve(HfCheckpoint.WEIGHTS), entries, Map.of());
            Gpt b = HfCheckpoint.load(k, dir, 1, 16);
            for (ParameterLayout.Entry e : a.layout().entries()) assertArrayEquals(a.readParam(e.name()), b.readParam(e.name()));

            // an untied head is refused
            float[] other = a.readParam("transformer.wte.weight");
            other[3] += 1;
            entries.set(entries.size() - 1, SafeTensors.Entry.f32("lm_head.weight", other, 50, 16));
            SafeTensors.write(dir.resolve(HfCheckpoint.WEIGHTS), entries, Map.of());
            UserInputException ex = assertThrows(UserInputException.class, () -> HfCheckpoint.load(k, dir, 1, 16));
            assertTrue(ex.getMessage().contains("lm_head.weight"), ex.getMessage());
        }
    }

    @Test
    void configThatDoesNotMatchTheWeightsIsOneClearError(@TempDir Path dir) throws Exception {
        try (CpuKernels k = new CpuKernels(1)) {
            HfCheckpoint.save(randomModel(k, false), dir);
            Path cfg = dir.resolve(HfCheckpoint.CONFIG);
            Files.writeString(cfg, Files.readString(cfg).replace("\"n_embd\" : 16", "\"n_embd\" : 32"));
            UserInputException ex = assertThrows(UserInputException.class, () -> HfCheckpoint.load(k, dir, 1, 16));
            assertTrue(ex.getMessage().contains("model.safetensors") && ex.getMessage().contains("shape"), ex.getMessage());

            Files.writeString(cfg, Files.readString(cfg).replace("\"n_embd\" : 32", "\"n_embd\" : 16").replace("\"n_layer\" : 2", "\"n_layer\" : 3"));
            ex = assertThrows(UserInputException.class, () -> HfCheckpoint.load(k, dir, 1, 16));
            assertTrue(ex.getMessage().contains("missing tensor transformer.h.2"), ex.getMessage());

            Files.writeString(cfg, "{\"n_layer\": 2}");
            ex = assertThrows(UserInputException.class, () -> HfCheckpoint.readConfig(dir));
            assertTrue(ex.getMessage().contains("config.json") && ex.getMessage().contains("missing field"), ex.getMessage());
        }
    }

    /** A model folder written by pref4j with CFG (2 layers), its config rewritten by {@code edit}. */
    static Path folder(CpuKernels k, Path dir, java.util.function.UnaryOperator<String> edit) throws Exception {
        HfCheckpoint.save(randomModel(k, false), dir);
        Path cfg = dir.resolve(HfCheckpoint.CONFIG);
        Files.writeString(cfg, edit.apply(Files.readString(cfg)));
        return dir;
    }

    @Test
    void hugeLayerCountIsRefusedBeforeAllocating(@TempDir Path dir) throws Exception {
        try (CpuKernels k = new CpuKernels(1)) {
            folder(k, dir, s -> s.replace("\"n_layer\" : 2", "\"n_layer\" : 1000000000"));
            long t0 = System.nanoTime();
            UserInputException ex = assertThrows(UserInputException.class, () -> HfCheckpoint.load(k, dir, 1, 16));
            assertTrue((System.nanoTime() - t0) < 5_000_000_000L, "refused without building the model");
            String m = ex.getMessage();
            assertTrue(m.contains("model.safetensors") && m.contains("missing tensor transformer.h.2."), m);
            assertTrue(m.contains("1000000000") && m.contains("2 layers"), m);
            assertFalse(m.contains("\n"), m);

            // a huge vocabulary or width is a shape mismatch, also found before allocating
            Files.writeString(dir.resolve(HfCheckpoint.CONFIG), Files.readString(dir.resolve(HfCheckpoint.CONFIG))
                    .replace("\"n_layer\" : 1000000000", "\"n_layer\" : 2").replace("\"vocab_size\" : 50", "\"vocab_size\" : 2000000000"));
            ex = assertThrows(UserInputException.class, () -> HfCheckpoint.load(k, dir, 1, 16));
            assertTrue(ex.getMessage().contains("transformer.wte.weight") && ex.getMessage().contains("shape"), ex.getMessage());
        }
    }

    @Test
    void fewerLayersThanTheWeightsIsRefusedNamingTheUnusedTensors(@TempDir Path dir) throws Exception {
        try (CpuKernels k = new CpuKernels(1)) {
            folder(k, dir, s -> s.replace("\"n_layer\" : 2", "\"n_layer\" : 1"));
            UserInputException ex = assertThrows(UserInputException.class, () -> HfCheckpoint.load(k, dir, 1, 16));
            String m = ex.getMessage();
            assertTrue(m.contains("model.safetensors") && m.contains("12 tensors") && m.contains("transformer.h.1."), m);
            assertTrue(m.contains("and 9 more"), m);
            assertFalse(m.contains("transformer.h.0."), m);
        }
    }

    @Test
    void unknownExtraTensorIsRefusedButKnownBuffersAreNot(@TempDir Path dir) throws Exception {
        try (CpuKernels k = new CpuKernels(1)) {
            Gpt a = randomModel(k, false);
            HfCheckpoint.save(a, dir);
            List<SafeTensors.Entry> entries = new ArrayList<>();
            for (ParameterLayout.Entry e : a.layout().entries())
                entries.add(SafeTensors.Entry.f32(e.name(), a.readParam(e.name()), e.shape()));
            entries.add(SafeTensors.Entry.f32("transformer.h.0.attn.bias", new float[16 * 16], 1, 1, 16, 16));
            entries.add(SafeTensors.Entry.f32("transformer.h.1.attn.masked_bias", new float[]{-1e4f}));
            SafeTensors.write(dir.resolve(HfCheckpoint.WEIGHTS), entries, Map.of());
            HfCheckpoint.load(k, dir, 1, 16); // harmless buffers are accepted

            entries.add(SafeTensors.Entry.f32("score.weight", new float[16], 1, 16));
            SafeTensors.write(dir.resolve(HfCheckpoint.WEIGHTS), entries, Map.of());
            UserInputException ex = assertThrows(UserInputException.class, () -> HfCheckpoint.load(k, dir, 1, 16));
            assertTrue(ex.getMessage().contains("1 tensor") && ex.getMessage().contains("score.weight"), ex.getMessage());

            // a head bias without the head weight is not "handled"
            entries.removeLast();
            entries.add(SafeTensors.Entry.f32(ParameterLayout.HEAD_BIAS, new float[1], 1));
            SafeTensors.write(dir.resolve(HfCheckpoint.WEIGHTS), entries, Map.of());
            ex = assertThrows(UserInputException.class, () -> HfCheckpoint.load(k, dir, 1, 16));
            assertTrue(ex.getMessage().contains(ParameterLayout.HEAD_BIAS), ex.getMessage());
        }
    }

    @Test
    void nanOrInfWeightIsRefusedNamingTensorAndIndex(@TempDir Path dir) throws Exception {
        try (CpuKernels k = new CpuKernels(1)) {
            Gpt a = randomModel(k, false);
            for (float bad : new float[]{Float.NaN, Float.POSITIVE_INFINITY}) {
                float[] w = a.readParam("transformer.h.1.mlp.c_fc.weight");
                float keep = w[17];
                w[17] = bad;
                a.writeParam("transformer.h.1.mlp.c_fc.weight", w);
                HfCheckpoint.save(a, dir);
                w[17] = keep;
                a.writeParam("transformer.h.1.mlp.c_fc.weight", w);
                UserInputException ex = assertThrows(UserInputException.class, () -> HfCheckpoint.load(k, dir, 1, 16));
                String m = ex.getMessage();
                assertTrue(m.contains("model.safetensors") && m.contains("transformer.h.1.mlp.c_fc.weight")
                        && m.contains("17") && m.contains(Float.isNaN(bad) ? "NaN" : "Infinity"), m);
            }
        }
    }

    @Test
    void wrongTypedConfigFieldsNameTheFieldAndTheType(@TempDir Path dir) throws Exception {
        try (CpuKernels k = new CpuKernels(1)) {
            HfCheckpoint.save(randomModel(k, false), dir);
        }
        Path cfg = dir.resolve(HfCheckpoint.CONFIG);
        String good = Files.readString(cfg);
        String[][] cases = {
                {"\"layer_norm_epsilon\" : 1.0E-5", "\"layer_norm_epsilon\" : \"x\"", "field \"layer_norm_epsilon\" must be a number, got \"x\""},
                {"\"layer_norm_epsilon\" : 1.0E-5", "\"layer_norm_epsilon\" : null", "field \"layer_norm_epsilon\" must be a number, got null"},
                {"\"tie_word_embeddings\" : true", "\"tie_word_embeddings\" : \"yes\"", "field \"tie_word_embeddings\" must be true or false, got \"yes\""},
                {"\"tie_word_embeddings\" : true", "\"tie_word_embeddings\" : 1", "field \"tie_word_embeddings\" must be true or false, got 1"},
                {"\"model_type\" : \"gpt2\"", "\"model_type\" : 2", "field \"model_type\" must be a string, got 2"},
                {"\"activation_function\" : \"gelu_new\"", "\"activation_function\" : [\"gelu_new\"]", "field \"activation_function\" must be a string, got [\"gelu_new\"]"},
                {"\"n_layer\" : 2", "\"n_layer\" : \"2\"", "field \"n_layer\" must be an integer, got \"2\""},
                {"\"n_layer\" : 2", "\"n_layer\" : 2.5", "field \"n_layer\" must be an integer, got 2.5"},
        };
        for (String[] c : cases) {
            assertTrue(good.contains(c[0]), c[0] + " in " + good);
            Files.writeString(cfg, good.replace(c[0], c[1]));
            UserInputException ex = assertThrows(UserInputException.class, () -> HfCheckpoint.readConfig(dir), c[1]);
            assertTrue(ex.getMessage().contains("config.json") && ex.getMessage().contains(c[2]), ex.getMessage());
        }
        // the value checks still apply to well-typed values
        Files.writeString(cfg, good.replace("\"layer_norm_epsilon\" : 1.0E-5", "\"layer_norm_epsilon\" : 1.0E-6"));
        UserInputException ex = assertThrows(UserInputException.class, () -> HfCheckpoint.readConfig(dir));
        assertTrue(ex.getMessage().contains("1.0E-6") || ex.getMessage().contains("1e-06"), ex.getMessage());
        Files.writeString(cfg, good);
        assertEquals(CFG, HfCheckpoint.readConfig(dir));
    }
}
