package io.pref4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.io.ModelFiles;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.model.CausalLm;
import io.pref4j.model.Llama;
import io.pref4j.model.LlamaConfig;
import io.pref4j.text.Tokenizer;
import io.pref4j.text.Tokenizers;
import io.pref4j.train.run.MetricsLog;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A user's path with a model of the Llama family: a Qwen2-style folder (GQA, q/k/v biases,
 * tied head) with a byte-level tokenizer.json and a ChatML chat template, trained by
 * {@code pref4j train} with offline DPO on TRL's conversational pairs, then sampled from the
 * run folder with conversational prompts.
 */
class LlamaTrainTest {

    @TempDir
    static Path dir;
    static Path model;
    static final Path REPO = Path.of("..").toAbsolutePath().normalize();
    static final Path TOKENIZER = Path.of("src", "test", "resources", "tokenizers", "bytelevel");

    @BeforeAll
    static void randomQwen2Folder() throws Exception {
        model = dir.resolve("qwen2-tiny");
        // 264 ids: the tokenizer's 256 bytes + merges + its three specials; 8 spare rows as in Qwen
        LlamaConfig cfg = new LlamaConfig("qwen2", 32, 64, 2, 4, 2, 8, 1e-6, 1e6, null, 128, 272,
                true, true, false);
        try (CpuKernels k = new CpuKernels(1)) {
            Llama m = new Llama(k, cfg, 1, 8);
            m.initRandom(11);
            ModelFiles.save(m, model, null);
        }
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "generation_config.json"))
            Files.copy(TOKENIZER.resolve(f), model.resolve(f));
    }

    @Test
    void conversationalOfflineDpoTrainsEndToEnd() throws Exception {
        Path out = dir.resolve("run");
        TrainCommandTest.Result r = TrainCommandTest.run(new ArrayList<>(List.of("train",
                "--config", REPO.resolve("configs/offline-dpo.json").toString(),
                "--set", "model.init=" + model, "--set", "run.out=" + out, "--set", "run.device=cpu",
                "--set", "data.preferences=" + REPO.resolve("data/pairs_conversational.jsonl"),
                "--set", "loop.iterations=12", "--set", "loop.prompt_batch=8", "--set", "loop.minibatch=8",
                "--set", "optim.lr=3e-3", "--set", "optim.warmup=0",
                "--set", "sampling.max_new_tokens=6", "--set", "log.progress=never")));
        assertEquals(0, r.status(), r.err() + r.out());
        assertTrue(r.out().contains("qwen2"), "the run names the model family: " + r.out());

        List<ObjectNode> m = MetricsLog.read(out.resolve("metrics.jsonl"));
        assertEquals(12, m.size());
        double first = m.get(0).get("loss").asDouble();
        double last = (m.get(9).get("loss").asDouble() + m.get(10).get("loss").asDouble() + m.get(11).get("loss").asDouble()) / 3;
        assertEquals(Math.log(2), first, 0.05, "DPO starts at log 2 (policy = reference)");
        assertTrue(last < first - 0.05, "DPO loss falls: " + first + " -> " + last);

        // final/ is a Hugging Face folder of the same family, with the tokenizer files, that loads and scores
        Path fin = out.resolve("final");
        JsonNode cfg = new ObjectMapper().readTree(fin.resolve("config.json").toFile());
        assertEquals("qwen2", cfg.get("model_type").asText());
        assertTrue(Files.isRegularFile(fin.resolve("tokenizer.json")) && Files.isRegularFile(fin.resolve("tokenizer_config.json")));
        try (CpuKernels k = new CpuKernels(1)) {
            CausalLm a = ModelFiles.load(k, fin, 1, 8), init = ModelFiles.load(k, model, 1, 8);
            assertInstanceOf(Llama.class, a);
            String w = "model.layers.0.self_attn.q_proj.bias";
            assertFalse(java.util.Arrays.equals(init.readParam(w), a.readParam(w)), "training moved the weights");
            Tokenizer tok = Tokenizers.forModelFolder(fin, 272, "auto");
            assertTrue(tok.chatTemplate().isPresent(), "the exported folder keeps the chat template");
        }

        // conversational prompts sampled from the run folder; rows stop at <|im_end|>
        Path samples = dir.resolve("samples.jsonl");
        r = TrainCommandTest.run(List.of("sample", "--model", out.toString(),
                "--prompts", REPO.resolve("data/prompts_conversational.jsonl").toString(),
                "--max-new-tokens", "5", "--out", samples.toString()));
        assertEquals(0, r.status(), r.err());
        List<String> lines = Files.readAllLines(samples);
        assertEquals(16, lines.size());
        JsonNode s0 = new ObjectMapper().readTree(lines.get(0));
        assertTrue(s0.get("prompt").toString().contains("list"), s0.toString());
    }

    @Test
    void ppoWithAValueHeadAndALearnedRewardModelRunOnTheLlamaFamily() throws Exception {
        // a Bradley-Terry reward model on the Qwen2 base (scalar head), from conversational pairs
        Path rm = dir.resolve("rm");
        TrainCommandTest.Result r = TrainCommandTest.run(List.of("train-rm", "--base", model.toString(),
                "--data", REPO.resolve("data/pairs_conversational.jsonl").toString(), "--out", rm.toString(),
                "--batch", "8", "--device", "cpu"));
        assertEquals(0, r.status(), r.err() + r.out());
        Path rmModel = rm.resolve("model");
        assertTrue(ModelFiles.hasHead(rmModel), "the reward model carries its head");
        assertEquals("qwen2", ModelFiles.modelType(rmModel));
        assertTrue(Files.isRegularFile(rmModel.resolve("tokenizer.json")), "and the base tokenizer");

        // online PPO (value head added to the policy) scored by that reward model, on conversational prompts
        Path out = dir.resolve("ppo");
        r = TrainCommandTest.run(new ArrayList<>(List.of("train", "--config", REPO.resolve("configs/ppo.json").toString(),
                "--set", "model.init=" + model, "--set", "run.out=" + out, "--set", "run.device=cpu",
                "--set", "data.prompts=" + REPO.resolve("data/prompts_conversational.jsonl"),
                "--set", "reward.type=learned", "--set", "reward.model=" + rm,
                "--set", "loop.iterations=2", "--set", "loop.prompt_batch=4", "--set", "loop.minibatch=8",
                "--set", "sampling.max_new_tokens=6", "--set", "log.progress=never")));
        assertEquals(0, r.status(), r.err() + r.out());
        List<ObjectNode> m = MetricsLog.read(out.resolve("metrics.jsonl"));
        assertFalse(m.isEmpty());
        for (ObjectNode line : m) {
            assertTrue(Double.isFinite(line.get("loss").asDouble()), line.toString());
            assertTrue(Double.isFinite(line.get("reward_mean").asDouble()), "the learned reward scored: " + line);
        }
        try (CpuKernels k = new CpuKernels(1)) {
            assertInstanceOf(Llama.class, ModelFiles.load(k, out.resolve("final"), 1, 8));
        }
    }
}
