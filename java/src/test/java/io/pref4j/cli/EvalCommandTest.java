package io.pref4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.pref4j.UserInputException;
import io.pref4j.io.HfCheckpoint;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.model.Gpt;
import io.pref4j.reward.Completion;
import io.pref4j.reward.LearnedReward;
import io.pref4j.text.ByteTokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

import static org.junit.jupiter.api.Assertions.*;

/** pref4j eval: the summary agrees with the written samples and the reward function; clear errors. */
class EvalCommandTest {

    @TempDir
    static Path dir;
    static Path model, prompts;

    @BeforeAll
    static void setUp() throws Exception {
        model = SampleCommandTest.tinyModel(dir.resolve("model"));
        prompts = dir.resolve("prompts.jsonl");
        Files.writeString(prompts, """
                {"prompt": "ab"}
                {"prompt": "hello"}
                {"prompt": "xyz", "id": 3}
                """);
    }

    static SampleCommandTest.Result run(String... args) {
        return SampleCommandTest.exec(new EvalCommand(), args);
    }

    static String[] args(String... more) {
        List<String> a = new ArrayList<>(List.of("--model", model.toString(), "--prompts", prompts.toString(),
                "--device", "cpu", "--threads", "1", "--max-new-tokens", "12", "--n", "4", "--batch", "5"));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    /** The summary table's metric → value. */
    static Map<String, String> table(String out) {
        Map<String, String> m = new HashMap<>();
        for (String line : out.split("\n")) {
            String[] kv = line.trim().split("\\s+", 2);
            if (kv.length == 2) m.put(kv[0], kv[1]);
        }
        return m;
    }

    static List<JsonNode> read(Path f) throws Exception {
        return new SampleCommandTest.Result(0, Files.readString(f), "").lines();
    }

    /** Checks the table against the samples written to --out, with rewards recomputed by {@code reward}. */
    static void checkSummary(SampleCommandTest.Result r, List<JsonNode> samples, ToDoubleFunction<JsonNode> reward) {
        checkSummary(r, samples, reward, 1e-9);
    }

    static void checkSummary(SampleCommandTest.Result r, List<JsonNode> samples, ToDoubleFunction<JsonNode> reward, double tol) {
        Map<String, String> t = table(r.out());
        assertEquals("3", t.get("prompts"), r.out());
        assertEquals("12", t.get("samples"), r.out());
        assertEquals(12, samples.size());
        double sum = 0, min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY, len = 0, fin = 0;
        for (JsonNode s : samples) {
            double x = reward.applyAsDouble(s);
            assertEquals(x, s.get("reward").asDouble(), tol, s.toString());
            sum += x;
            min = Math.min(min, x);
            max = Math.max(max, x);
            len += s.get("response_ids").size();
            if (s.get("finished").asBoolean()) fin++;
        }
        double mean = sum / samples.size(), ss = 0;
        for (JsonNode s : samples) ss += Math.pow(reward.applyAsDouble(s) - mean, 2);
        assertEquals(mean, Double.parseDouble(t.get("reward_mean")), 1e-5, r.out());
        assertEquals(Math.sqrt(ss / samples.size()), Double.parseDouble(t.get("reward_std")), 1e-5, r.out());
        assertEquals(min, Double.parseDouble(t.get("reward_min")), 1e-5, r.out());
        assertEquals(max, Double.parseDouble(t.get("reward_max")), 1e-5, r.out());
        assertEquals(len / samples.size(), Double.parseDouble(t.get("response_length")), 1e-3, r.out());
        assertEquals(fin / samples.size(), Double.parseDouble(t.get("finished")), 1e-3, r.out());
    }

    @Test
    void minLengthMeanRewardIsTheMeanOfTheSamplesRewards() throws Exception {
        Path out = dir.resolve("min.jsonl");
        SampleCommandTest.Result r = run(args("--reward", "min_length", "--out", out.toString()));
        assertEquals(0, r.status(), r.err());
        assertEquals("min_length", table(r.out()).get("reward"));
        List<JsonNode> samples = read(out);
        checkSummary(r, samples, s -> -s.get("response_ids").size());
        assertEquals(3, samples.get(8).get("id").asInt());
        // eval samples exactly what sample does with the same options
        SampleCommandTest.Result s = SampleCommandTest.run(args());
        List<JsonNode> plain = s.lines();
        for (int i = 0; i < samples.size(); i++) {
            JsonNode copy = samples.get(i).deepCopy();
            ((com.fasterxml.jackson.databind.node.ObjectNode) copy).remove("reward");
            assertEquals(plain.get(i), copy);
        }
    }

    @Test
    void modeAndTargetLength() throws Exception {
        Path out = dir.resolve("mode.jsonl");
        SampleCommandTest.Result r = run(args("--reward", "mode_length", "--reward-mode", "5", "--out", out.toString()));
        assertEquals(0, r.status(), r.err());
        assertEquals("mode_length (mode 5)", table(r.out()).get("reward"));
        checkSummary(r, read(out), s -> -Math.abs(s.get("response_ids").size() - 5));

        r = run(args("--reward", "target_length", "--reward-target", "2", "--out", out.toString(), "--temperature", "0.7"));
        assertEquals(0, r.status(), r.err());
        checkSummary(r, read(out), s -> -Math.abs(s.get("response_ids").size() - 2));
    }

    @Test
    void learnedRewardModelScoresAsItDoesAlone() throws Exception {
        Path rm = dir.resolve("rm");
        try (CpuKernels k = new CpuKernels(1)) {
            Gpt base = HfCheckpoint.load(k, model, 4, 32);
            HfCheckpoint.save(base.withHead(4, 32, 3, 0.5), rm, "byte");
        }
        Path out = dir.resolve("learned.jsonl");
        SampleCommandTest.Result r = run(args("--reward", "learned", "--reward-model", rm.toString(), "--out", out.toString()));
        assertEquals(0, r.status(), r.err());
        List<JsonNode> samples = read(out);
        List<Completion> cs = new ArrayList<>();
        for (JsonNode s : samples) {
            int[] ids = new int[s.get("response_ids").size()];
            for (int j = 0; j < ids.length; j++) ids[j] = s.get("response_ids").get(j).asInt();
            cs.add(new Completion(null, null, ByteTokenizer.INSTANCE.encode(s.get("prompt").asText()), ids));
        }
        double[] expected;
        try (CpuKernels k = new CpuKernels(1); LearnedReward lr = LearnedReward.load(k, rm)) {
            expected = lr.score(cs);
        }
        Map<JsonNode, Double> byLine = new HashMap<>();
        for (int i = 0; i < samples.size(); i++) byLine.put(samples.get(i), expected[i]);
        assertTrue(Arrays.stream(expected).distinct().count() > 1, Arrays.toString(expected));
        checkSummary(r, samples, s -> byLine.get(s), 1e-4);
    }

    @Test
    void externalCommandRewards() throws Exception {
        // one number per JSONL line read
        Path out = dir.resolve("ext.jsonl");
        SampleCommandTest.Result r = run(args("--reward", "external", "--reward-command", "sh", "-c",
                "while IFS= read -r l; do echo 2.5; done", "--reward-timeout", "20", "--out", out.toString()));
        assertEquals(0, r.status(), r.err());
        checkSummary(r, read(out), s -> 2.5);
    }

    @Test
    void withoutOutOnlyTheTableIsPrinted() {
        SampleCommandTest.Result r = run(args("--reward", "min_length", "--temperature", "0"));
        assertEquals(0, r.status(), r.err());
        Map<String, String> t = table(r.out());
        assertEquals(9, r.out().lines().count(), r.out());
        for (String k : List.of("reward", "prompts", "samples", "reward_mean", "reward_std", "reward_min", "reward_max",
                "response_length", "finished"))
            assertTrue(t.containsKey(k), k + " in " + r.out());
        assertEquals("12", t.get("samples"));
    }

    @Test
    void aRewardThatCannotScoreTheResponsesIsAUserError() {
        // the bandit rewards read actions 0..99; a byte model's free text is outside
        SampleCommandTest.Result r = run(args("--reward", "bandit_r1", "--temperature", "0"));
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains("\npref4j: error: --reward bandit_r1 cannot score the responses to the prompts at "
                + prompts + ":1 .. " + prompts + ":2: "), r.err());
    }

    @Test
    void badRewardOptionsAreOneLineWithExitStatus2() {
        SampleCommandTest.Result r = run(args("--reward", "shortest"));
        assertEquals(2, r.status());
        assertEquals("pref4j: error: --reward must be one of min_length, mode_length, target_length, bandit_r1, bandit_r2,"
                + " learned, external; got 'shortest'\n", r.err());

        r = run(args());
        assertEquals(2, r.status());
        assertTrue(r.err().startsWith("pref4j: error: eval: --reward TYPE is required"), r.err());

        r = run(args("--reward", "mode_length"));
        assertEquals(2, r.status());
        assertTrue(r.err().startsWith("pref4j: error: --reward mode_length needs --reward-mode M"), r.err());

        r = run(args("--reward", "min_length", "--reward-mode", "3"));
        assertEquals("pref4j: error: --reward-mode does not apply to type min_length\n", r.err());

        r = run(args("--reward", "learned"));
        assertTrue(r.err().startsWith("pref4j: error: --reward-model is required for type learned"), r.err());

        r = run(args("--reward", "learned", "--reward-model", dir.resolve("no-rm").toString()));
        assertEquals(2, r.status(), r.err());

        r = run(args("--reward", "target_length", "--reward-target", "-1"));
        assertEquals("pref4j: error: --reward-target must be >= 0, got -1\n", r.err());

        r = run("--prompts", prompts.toString(), "--reward", "min_length");
        assertEquals("pref4j: error: eval: --model DIR is required\n", r.err());
    }

    @Test
    void badPromptsNameFileAndLine() throws Exception {
        Path malformed = dir.resolve("malformed.jsonl");
        Files.writeString(malformed, "{\"prompt\": \"a\"}\n\n{prompt: 1}\n");
        SampleCommandTest.Result r = run("--model", model.toString(), "--prompts", malformed.toString(), "--reward", "min_length");
        assertEquals(2, r.status());
        assertTrue(r.err().startsWith("pref4j: error: " + malformed + ":3: malformed JSON"), r.err());
    }

    @Test
    void callThrowsForAnUnknownRewardType() {
        EvalCommand c = new EvalCommand();
        c.reward = "nope";
        UserInputException e = assertThrows(UserInputException.class, c::call);
        assertTrue(e.getMessage().startsWith("--reward must be one of"), e.getMessage());
    }
}
