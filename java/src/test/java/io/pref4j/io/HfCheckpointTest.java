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
}
