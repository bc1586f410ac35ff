package io.pref4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pref4j.UserInputException;
import io.pref4j.io.HfCheckpoint;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;
import io.pref4j.text.ByteTokenizer;
import io.pref4j.train.Sequences;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;

import static org.junit.jupiter.api.Assertions.*;

/** pref4j sample on a tiny random byte-level model: output shape, determinism, greedy, errors. */
class SampleCommandTest {

    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    static Path model, prompts;

    record Result(int status, String out, String err) {
        List<JsonNode> lines() {
            List<JsonNode> l = new ArrayList<>();
            for (String s : out.split("\n")) {
                if (s.isBlank()) continue;
                try {
                    l.add(JSON.readTree(s));
                } catch (Exception e) {
                    throw new AssertionError("not JSON: " + s, e);
                }
            }
            return l;
        }
    }

    /** Runs a command as Main would: UserInputException → one line, exit 2. */
    static Result exec(Callable<Integer> command, String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = new CommandLine(command);
        PrintWriter errW = new PrintWriter(err);
        cl.setOut(new PrintWriter(out));
        cl.setErr(errW);
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            errW.println("pref4j: " + (ex instanceof UserInputException ? "error: " + ex.getMessage() : "failed: " + ex));
            if (!(ex instanceof UserInputException)) ex.printStackTrace(errW);
            return ex instanceof UserInputException ? 2 : 1;
        });
        int status = cl.execute(args);
        errW.flush();
        return new Result(status, out.toString(), err.toString());
    }

    static Result run(String... args) {
        return exec(new SampleCommand(), args);
    }

    /** The usual arguments (model, prompts, cpu, one thread) followed by {@code more}. */
    static String[] args(String... more) {
        List<String> a = new ArrayList<>(List.of("--model", model.toString(), "--prompts", prompts.toString(),
                "--device", "cpu", "--threads", "1", "--max-new-tokens", "8"));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    static Path tinyModel(Path where) throws Exception {
        try (CpuKernels k = new CpuKernels(1)) {
            Gpt m = new Gpt(k, new GptConfig(32, ByteTokenizer.VOCAB_SIZE, 1, 2, 16), 4, 32);
            m.initRandom(5);
            HfCheckpoint.save(m, where, "byte");
        }
        return where;
    }

    @BeforeAll
    static void setUp() throws Exception {
        model = tinyModel(dir.resolve("model"));
        prompts = dir.resolve("prompts.jsonl");
        Files.writeString(prompts, """
                {"prompt": "ab", "id": 7}
                {"prompt": "hello there"}

                {"prompt_ids": [104, 105], "tag": "ids"}
                {"prompt": ""}
                """);
    }

    @Test
    void writesOneLinePerPromptAndSampleWithTheInputFields() throws Exception {
        Result r = run(args("--n", "2", "--batch", "3"));
        assertEquals(0, r.status(), r.err());
        List<JsonNode> lines = r.lines();
        assertEquals(8, lines.size());
        String[] promptOf = {"ab", "hello there", null, ""};
        List<Sequences.Seq> seqs = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            JsonNode l = lines.get(i);
            assertEquals(i % 2, l.get("sample").asInt(), l.toString());
            if (promptOf[i / 2] != null) assertEquals(promptOf[i / 2], l.get("prompt").asText());
            if (i / 2 == 0) assertEquals(7, l.get("id").asInt());
            if (i / 2 == 2) {
                assertEquals("ids", l.get("tag").asText());
                assertEquals(2, l.get("prompt_ids").size());
                assertFalse(l.has("prompt"));
            }
            int[] ids = new int[l.get("response_ids").size()];
            for (int j = 0; j < ids.length; j++) ids[j] = l.get("response_ids").get(j).asInt();
            for (int id : ids) assertNotEquals(ByteTokenizer.EOS, id, "response_ids exclude the end-of-text");
            boolean finished = l.get("finished").asBoolean();
            assertTrue(l.get("finished").isBoolean());
            if (!finished) assertEquals(8, ids.length, l.toString());
            else assertTrue(ids.length < 8, l.toString());
            assertEquals(ByteTokenizer.INSTANCE.decode(ids), l.get("response").asText());
            double logp = l.get("logp").asDouble();
            assertTrue(logp < 0 && Double.isFinite(logp), l.toString());
            int[] prompt = i / 2 == 2 ? new int[]{104, 105} : ByteTokenizer.INSTANCE.encode(promptOf[i / 2]);
            int[] scored = finished ? Arrays.copyOf(ids, ids.length + 1) : ids;
            if (finished) scored[ids.length] = ByteTokenizer.EOS;
            seqs.add(new Sequences.Seq(prompt, scored));
        }
        // "logp" is log π(response | prompt) summed over the sampled tokens: the same as scoring them
        try (CpuKernels k = new CpuKernels(1)) {
            Gpt m = HfCheckpoint.load(k, model, 8, 32);
            double[] expected = Sequences.logp(m, seqs, ByteTokenizer.EOS);
            for (int i = 0; i < expected.length; i++)
                assertEquals(expected[i], lines.get(i).get("logp").asDouble(), 1e-3, "line " + i);
        }
        assertTrue(r.err().contains("sample: device:"), r.err());
    }

    @Test
    void theSameSeedGivesTheSameOutputAndAnotherSeedDiffers() {
        Result a = run(args("--n", "3", "--seed", "11"));
        Result b = run(args("--n", "3", "--seed", "11"));
        Result c = run(args("--n", "3", "--seed", "12"));
        assertEquals(0, a.status(), a.err());
        assertEquals(a.out(), b.out());
        assertNotEquals(a.out(), c.out());
        // the samples of one prompt differ from each other (a near-uniform model over 258 tokens)
        List<JsonNode> l = a.lines();
        assertEquals(12, l.size());
        assertNotEquals(l.get(0).get("response_ids"), l.get(1).get("response_ids"));
        assertNotEquals(l.get(1).get("response_ids"), l.get(2).get("response_ids"));
    }

    @Test
    void nSetsTheSamplesPerPrompt() {
        for (int n : new int[]{1, 5}) {
            Result r = run(args("--n", String.valueOf(n), "--batch", "4"));
            assertEquals(0, r.status(), r.err());
            List<JsonNode> l = r.lines();
            assertEquals(4 * n, l.size());
            for (int i = 0; i < l.size(); i++) assertEquals(i % n, l.get(i).get("sample").asInt());
        }
    }

    @Test
    void greedyIgnoresTheSeed() {
        Result a = run(args("--temperature", "0", "--n", "2", "--seed", "1"));
        Result b = run(args("--temperature", "0", "--n", "2", "--seed", "99"));
        assertEquals(0, a.status(), a.err());
        assertEquals(a.out(), b.out());
        List<JsonNode> l = a.lines();
        for (int i = 0; i < l.size(); i += 2)
            assertEquals(l.get(i).get("response_ids"), l.get(i + 1).get("response_ids"));
    }

    @Test
    void topKOneIsGreedy() {
        Result a = run(args("--temperature", "0"));
        Result b = run(args("--top-k", "1", "--seed", "3"));
        assertEquals(0, b.status(), b.err());
        List<JsonNode> la = a.lines(), lb = b.lines();
        for (int i = 0; i < la.size(); i++) assertEquals(la.get(i).get("response_ids"), lb.get(i).get("response_ids"));
    }

    @Test
    void outWritesTheFileInsteadOfStdout() throws Exception {
        Path out = dir.resolve("sub/samples.jsonl");
        Result r = run(args("--n", "2", "--out", out.toString()));
        assertEquals(0, r.status(), r.err());
        assertEquals("", r.out());
        assertTrue(r.err().contains("wrote 8 samples to " + out), r.err());
        assertEquals(run(args("--n", "2")).out(), Files.readString(out));
    }

    @Test
    void aPromptFillingAllButOnePositionGetsOneToken() throws Exception {
        Path f = dir.resolve("long-ok.jsonl");
        Files.writeString(f, "{\"prompt\": \"" + "x".repeat(31) + "\"}\n");
        Result r = run("--model", model.toString(), "--prompts", f.toString(), "--device", "cpu", "--threads", "1");
        assertEquals(0, r.status(), r.err());
        JsonNode l = r.lines().getFirst();
        assertTrue(l.get("response_ids").size() + (l.get("finished").asBoolean() ? 1 : 0) == 1, l.toString());
    }

    @Test
    void aPromptTooLongNamesFileAndLine() throws Exception {
        Path f = dir.resolve("long.jsonl");
        Files.writeString(f, "{\"prompt\": \"a\"}\n{\"prompt\": \"" + "x".repeat(32) + "\"}\n");
        Result r = run("--model", model.toString(), "--prompts", f.toString(), "--device", "cpu");
        assertEquals(2, r.status());
        assertEquals("pref4j: error: " + f + ":2: the prompt is 32 tokens; the model's 32 positions leave room for at most 31"
                + " (one is needed to generate)\n", r.err());
    }

    @Test
    void badInputIsOneLineWithExitStatus2() throws Exception {
        Result r = run("--model", dir.resolve("nowhere").toString(), "--prompts", prompts.toString());
        assertEquals(2, r.status());
        assertEquals("pref4j: error: " + dir.resolve("nowhere") + ": no such folder\n", r.err());

        r = run("--prompts", prompts.toString());
        assertEquals("pref4j: error: sample: --model DIR is required\n", r.err());
        r = run("--model", model.toString());
        assertEquals("pref4j: error: sample: --prompts FILE.jsonl is required\n", r.err());

        r = run("--model", model.toString(), "--prompts", dir.resolve("none.jsonl").toString());
        assertEquals(2, r.status());
        assertEquals("pref4j: error: " + dir.resolve("none.jsonl") + ": no such file (--prompts)\n", r.err());

        Path malformed = dir.resolve("malformed.jsonl");
        Files.writeString(malformed, "{\"prompt\": \"a\"}\n{\"prompt\": \"b\"\n");
        r = run("--model", model.toString(), "--prompts", malformed.toString());
        assertEquals(2, r.status());
        assertTrue(r.err().startsWith("pref4j: error: " + malformed + ":2: malformed JSON"), r.err());
        assertEquals(1, r.err().lines().count(), r.err());

        Path noPrompt = dir.resolve("noprompt.jsonl");
        Files.writeString(noPrompt, "{\"prompt\": \"a\"}\n{\"text\": \"b\"}\n");
        r = run("--model", model.toString(), "--prompts", noPrompt.toString());
        assertEquals(2, r.status());
        assertTrue(r.err().startsWith("pref4j: error: " + noPrompt + ":2: expected"), r.err());

        Path badIds = dir.resolve("badids.jsonl");
        Files.writeString(badIds, "{\"prompt_ids\": [1, 999]}\n");
        r = run("--model", model.toString(), "--prompts", badIds.toString());
        assertEquals(2, r.status());
        assertTrue(r.err().startsWith("pref4j: error: " + badIds + ":1: \"prompt_ids\" element 1"), r.err());

        for (String[] bad : new String[][]{{"--n", "0"}, {"--top-p", "0"}, {"--top-p", "1.5"}, {"--top-k", "-1"},
                {"--temperature", "-1"}, {"--max-new-tokens", "0"}, {"--batch", "0"}, {"--device", "tpu"}}) {
            List<String> a = new ArrayList<>(List.of("--model", model.toString(), "--prompts", prompts.toString(), "--device", "cpu"));
            if (bad[0].equals("--device")) a = new ArrayList<>(List.of("--model", model.toString(), "--prompts", prompts.toString()));
            a.addAll(List.of(bad));
            r = run(a.toArray(String[]::new));
            assertEquals(2, r.status(), String.join(" ", bad));
            assertTrue(r.err().startsWith("pref4j: error: " + bad[0] + " must"), r.err());
        }
    }

    @Test
    void callThrowsUserInputExceptionForAMissingModel() {
        SampleCommand c = new SampleCommand();
        c.sampling.model = dir.resolve("missing");
        c.sampling.prompts = prompts;
        c.sampling.n = 1;
        c.sampling.maxNewTokens = 4;
        c.sampling.temperature = 1;
        c.sampling.topP = 1;
        c.sampling.batch = 1;
        c.sampling.tokenizer = "auto";
        UserInputException e = assertThrows(UserInputException.class, c::call);
        assertEquals(dir.resolve("missing") + ": no such folder", e.getMessage());
    }
}
