package io.pref4j.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.io.HfCheckpoint;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;
import io.pref4j.reward.RewardModelTrainer;
import io.pref4j.text.ByteTokenizer;
import io.pref4j.train.run.MetricsLog;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** pref4j train end to end: every shipped config in configs/ runs, resume works, bad config is exit 2. */
class TrainCommandTest {

    @TempDir
    static Path dir;
    static Path model, rm;
    static final Path REPO = Path.of("..").toAbsolutePath().normalize();

    record Result(int status, String out, String err) {}

    static Result run(List<String> args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        java.io.PrintStream oldOut = System.out;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        System.setOut(new java.io.PrintStream(captured, true));
        try {
            int status = Main.run(args.toArray(String[]::new), new PrintWriter(out), new PrintWriter(err));
            return new Result(status, captured + out.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
        }
    }

    @BeforeAll
    static void tinyModels() throws Exception {
        model = dir.resolve("base");
        try (CpuKernels k = new CpuKernels(1)) {
            Gpt m = new Gpt(k, new GptConfig(64, ByteTokenizer.VOCAB_SIZE, 1, 2, 16), 1, 64);
            m.initRandom(2);
            HfCheckpoint.save(m, model, "byte");
            rm = dir.resolve("rm");
            Gpt withHead = m.withHead(1, 64, 3, 0.02);
            HfCheckpoint.save(withHead, rm, "byte");
        }
    }

    static List<String> quick(Path config, Path out) {
        return new ArrayList<>(List.of("train", "--config", config.toString(),
                "--set", "model.init=" + model, "--set", "run.out=" + out, "--set", "run.device=cpu",
                "--set", "data.prompts=" + REPO.resolve("data/prompts.jsonl"),
                "--set", "data.preferences=" + REPO.resolve("data/pairs.jsonl"),
                "--set", "loop.iterations=2", "--set", "loop.prompt_batch=4", "--set", "loop.minibatch=4",
                "--set", "sampling.max_new_tokens=6", "--set", "log.progress=never"));
    }

    @Test
    void everyShippedConfigRuns() throws Exception {
        List<Path> configs;
        try (Stream<Path> s = Files.list(REPO.resolve("configs"))) {
            configs = s.filter(p -> p.toString().endsWith(".json")).sorted().toList();
        }
        assertTrue(configs.size() >= 8, "configs/ holds the trainers: " + configs);
        for (Path c : configs) {
            String name = c.getFileName().toString().replace(".json", "");
            if (name.equals("external-reward") && !Files.isExecutable(Path.of("/usr/bin/python3"))) continue;
            Path out = dir.resolve("run-" + name);
            List<String> args = quick(c, out);
            if (name.equals("learned-reward")) args.addAll(List.of("--set", "reward.model=" + rm));
            if (name.equals("kto")) args.addAll(List.of("--set", "data.preferences=" + REPO.resolve("data/kto.jsonl")));
            if (name.equals("external-reward"))
                args.addAll(List.of("--set", "reward.command=[\"/usr/bin/python3\",\"" + REPO.resolve("tools/reward_length.py") + "\"]"));
            Result r = run(args);
            assertEquals(0, r.status(), name + ": " + r.err() + r.out());
            List<ObjectNode> m = MetricsLog.read(out.resolve("metrics.jsonl"));
            assertFalse(m.isEmpty(), name);
            assertTrue(m.stream().anyMatch(line -> line.has("loss")), name + ": took steps");
            for (ObjectNode line : m) if (!line.has("no_signal")) assertTrue(Double.isFinite(line.get("loss").asDouble()), name + ": " + line);
            assertTrue(Files.exists(out.resolve("reward.png")) && Files.exists(out.resolve("config.json")), name);
            assertTrue(Files.exists(out.resolve("checkpoints").resolve("latest")), name);
        }
    }

    @Test
    void aRunThatTakesNoStepSaysWhyAndExitsNonZero() throws Exception {
        Path out = dir.resolve("no-step");
        List<String> args = quick(REPO.resolve("configs/online-dpo.json"), out);
        args.addAll(List.of("--set", "loop.threshold=1e9"));   // no pair passes: no training signal
        Result r = run(args);
        assertEquals(io.pref4j.train.TrainingRun.NO_STEP_EXIT_STATUS, r.status(), r.err() + r.out());
        assertTrue(r.out().contains("no training signal") && r.out().contains("2 of 2 iterations had no training signal"), "OUT:" + r.out() + "ERR:" + r.err());
        List<ObjectNode> m = MetricsLog.read(out.resolve("metrics.jsonl"));
        assertEquals(2, m.size());
        for (ObjectNode l : m) assertTrue(l.has("no_signal"), l.toString());

        Path off = dir.resolve("offline-quiet");
        Result o = run(quick(REPO.resolve("configs/offline-dpo.json"), off));
        assertEquals(0, o.status(), o.err());
        assertFalse(o.out().toLowerCase(java.util.Locale.ROOT).contains("reward nan"), o.out());
        assertFalse(o.out().contains("generation"), "offline: no generation timings: " + o.out());
    }

    @Test
    void resumeContinuesTheRun() throws Exception {
        Path out = dir.resolve("resume");
        List<String> args = quick(REPO.resolve("configs/optune.json"), out);
        args.addAll(List.of("--set", "checkpoint.every=1"));
        assertEquals(0, run(args).status());
        Result r = run(List.of("train", "--resume", out.toString(), "--set", "loop.iterations=3"));
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("resumed from") && r.out().contains("(iteration 2,"), r.out());
        assertTrue(r.out().contains("done: 3 iterations"), r.out());
        assertEquals(3, io.pref4j.train.run.Checkpoints.latest(out.resolve("checkpoints")).orElseThrow().state().get("iteration").asInt(),
                "the resumed run checkpointed its last iteration");
    }

    @Test
    void runFolderHoldsTheFinalModelAndCommandsTakeIt() throws Exception {
        Path out = dir.resolve("final-run");
        assertEquals(0, run(quick(REPO.resolve("configs/offline-dpo.json"), out)).status());
        Path fin = out.resolve("final");
        assertTrue(Files.isRegularFile(fin.resolve("config.json")) && Files.isRegularFile(fin.resolve("model.safetensors")));
        assertEquals(fin, io.pref4j.io.ModelFiles.resolveModelDir(out), "a run folder names its final model");
        // the final model is the trained policy: equal to the last checkpoint's weights, not the initial ones
        Path last = io.pref4j.train.run.Checkpoints.latest(out.resolve("checkpoints")).orElseThrow().dir();
        try (CpuKernels k = new CpuKernels(1)) {
            var a = io.pref4j.io.ModelFiles.load(k, fin, 1, 8);
            var b = io.pref4j.io.ModelFiles.load(k, last, 1, 8);
            var init = io.pref4j.io.ModelFiles.load(k, model, 1, 8);
            String name = "transformer.h.0.attn.c_attn.weight";
            assertArrayEquals(b.readParam(name), a.readParam(name));
            assertFalse(java.util.Arrays.equals(init.readParam(name), a.readParam(name)), "training changed the weights");
        }
        Result r = run(List.of("score", "--model", out.toString(), "--data", REPO.resolve("data/pairs.jsonl").toString()));
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("chosen_logp"), r.out());
        r = run(List.of("sample", "--model", out.toString(), "--prompts", REPO.resolve("data/prompts.jsonl").toString(),
                "--max-new-tokens", "4", "--out", dir.resolve("final-samples.jsonl").toString()));
        assertEquals(0, r.status(), r.err());
        // a run folder without final/ (stopped early) resolves to its newest checkpoint
        Path partial = dir.resolve("partial-run");
        Files.createDirectories(partial);
        Files.copy(out.resolve("config.json"), partial.resolve("config.json"));
        Path ck = partial.resolve("checkpoints").resolve("ckpt-000009");
        Files.createDirectories(ck);
        Files.copy(fin.resolve("config.json"), ck.resolve("config.json"));
        assertEquals(ck, io.pref4j.io.ModelFiles.resolveModelDir(partial));
    }

    @Test
    void badConfigIsOneLineAndExit2() throws Exception {
        Path bad = dir.resolve("bad.json");
        Files.writeString(bad, "{\"loop\": {\"resue\": 2}}");
        Result r = run(List.of("train", "--config", bad.toString()));
        assertEquals(2, r.status());
        assertTrue(r.err().contains("loop.resue") && r.err().contains("loop.reuse"), r.err());
        r = run(List.of("train", "--config", bad.toString().replace("bad", "missing")));
        assertEquals(2, r.status(), r.err());
        r = run(List.of("train", "--set", "model.init=" + model, "--set", "loss.type=dpoo"));
        assertEquals(2, r.status());
        assertTrue(r.err().contains("did you mean dpo"), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace");
    }
}
