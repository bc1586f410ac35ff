package io.pref4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pref4j.UserInputException;
import io.pref4j.io.HfCheckpoint;
import io.pref4j.io.Jsonl;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;
import io.pref4j.reward.Completion;
import io.pref4j.reward.LearnedReward;
import io.pref4j.text.ByteTokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** pref4j train-rm end to end on a tiny model, and one clear line (exit 2) for bad input. */
class TrainRmCommandTest {

    @TempDir
    static Path dir;
    static Path base, data;

    record Result(int status, String out, String err) {}

    /** Runs the command as Main would: UserInputException → one line, exit 2. */
    static Result run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = new CommandLine(new TrainRmCommand());
        PrintWriter errW = new PrintWriter(err);
        cl.setOut(new PrintWriter(out));
        cl.setErr(errW);
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            errW.println("pref4j: " + (ex instanceof UserInputException ? "error: " + ex.getMessage() : "failed: " + ex));
            return ex instanceof UserInputException ? 2 : 1;
        });
        int status = cl.execute(args);
        errW.flush();
        return new Result(status, out.toString(), err.toString());
    }

    @BeforeAll
    static void setUp() throws Exception {
        base = dir.resolve("base");
        try (CpuKernels k = new CpuKernels(1)) {
            Gpt m = new Gpt(k, new GptConfig(32, ByteTokenizer.VOCAB_SIZE, 1, 2, 16), 1, 32);
            m.initRandom(5);
            HfCheckpoint.save(m, base, "byte");
        }
        // text pairs: the shorter response is chosen
        SplittableRandom rng = new SplittableRandom(1);
        List<Map<String, String>> lines = new ArrayList<>();
        while (lines.size() < 120) {
            int a = 1 + rng.nextInt(10), b = 1 + rng.nextInt(10);
            if (a == b) continue;
            lines.add(Map.of("prompt", "q:", "chosen", "z".repeat(Math.min(a, b)), "rejected", "z".repeat(Math.max(a, b))));
        }
        data = dir.resolve("pairs.jsonl");
        Jsonl.writeAll(data, lines);
    }

    @Test
    void trainsWritesAModelAndMetrics() throws Exception {
        Path out = dir.resolve("rm-run");
        Result r = run("--base", base.toString(), "--data", data.toString(), "--out", out.toString(), "--epochs", "3",
                "--lr", "3e-3", "--batch", "10", "--eval-fraction", "0.25", "--seed", "4", "--device", "cpu", "--threads", "1");
        assertEquals(0, r.status(), r.err() + r.out());
        assertTrue(r.out().contains("train-rm: held-out pair accuracy"), r.out());
        List<String> metrics = Files.readAllLines(out.resolve("metrics.jsonl"));
        assertEquals(27, metrics.size()); // 3 epochs × 90 training pairs / 10 per step
        ObjectMapper json = new ObjectMapper();
        JsonNode last = json.readTree(metrics.getLast());
        assertEquals(26, last.get("step").asInt());
        assertEquals(3, last.get("epoch").asInt());
        assertTrue(last.get("eval_accuracy").asDouble() >= 0.8, metrics.getLast());
        JsonNode cfg = json.readTree(Files.readString(out.resolve("train_rm.json")));
        assertEquals(90, cfg.get("train_pairs").asInt());
        assertEquals("byte", cfg.get("tokenizer").asText());
        try (CpuKernels k = new CpuKernels(1); LearnedReward rm = LearnedReward.load(k, out)) {
            ByteTokenizer tok = ByteTokenizer.INSTANCE;
            double[] s = rm.score(List.of(Completion.of(tok, "q:", "zz"), Completion.of(tok, "q:", "zzzzzzzzz")));
            assertTrue(s[0] > s[1], s[0] + " vs " + s[1]);
        }
    }

    @Test
    void badInputIsOneLineWithExit2() throws Exception {
        Path out = dir.resolve("bad");
        Result r = run("--data", data.toString(), "--out", out.toString());
        assertEquals(2, r.status());
        assertEquals("pref4j: error: train-rm: --base DIR is required\n", r.err());

        r = run("--base", dir.resolve("nowhere").toString(), "--data", data.toString(), "--out", out.toString());
        assertEquals(2, r.status());
        assertEquals("pref4j: error: " + dir.resolve("nowhere") + ": no such folder\n", r.err());

        r = run("--base", base.toString(), "--data", data.toString(), "--out", out.toString(), "--epochs", "0");
        assertEquals("pref4j: error: reward-model training: epochs must be >= 1, got 0\n", r.err());

        Path broken = dir.resolve("broken.jsonl");
        Files.writeString(broken, "{\"prompt\":\"a\",\"chosen\":\"b\",\"rejected\":\"c\"}\n{\"prompt\":\"a\",\"chosen\":\"b\"}\n");
        r = run("--base", base.toString(), "--data", broken.toString(), "--out", out.toString());
        assertEquals(2, r.status());
        assertTrue(r.err().startsWith("pref4j: error: " + broken + ":2: expected"), r.err());
        assertTrue(r.err().contains("\"rejected\" is missing"), r.err());

        Path tooLong = dir.resolve("long.jsonl");
        Files.writeString(tooLong, "{\"prompt\":\"a\",\"chosen\":\"b\",\"rejected\":\"c\"}\n"
                + "{\"prompt\":\"" + "p".repeat(20) + "\",\"chosen\":\"b\",\"rejected\":\"" + "r".repeat(20) + "\"}\n");
        r = run("--base", base.toString(), "--data", tooLong.toString(), "--out", out.toString());
        assertEquals("pref4j: error: " + tooLong + ":2: prompt + response + end-of-text is 41 tokens, longer than the model's 32 positions\n", r.err());

        r = run("--base", base.toString(), "--data", data.toString(), "--out", out.toString(), "--tokenizer", "gpt2");
        assertEquals(2, r.status());
        assertTrue(r.err().contains("vocab_size 258 is smaller than the gpt2 tokenizer's 50257"), r.err());
        assertFalse(Files.exists(out.resolve("model")));
    }
}
