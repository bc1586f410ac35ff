package io.pref4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pref4j.io.HfCheckpoint;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;
import io.pref4j.text.ByteTokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The CLI end to end: score's output, and one clear line with exit 2 for each kind of bad input. */
class CliTest {

    @TempDir
    static Path dir;
    static Path model;

    record Result(int status, String out, String err) {}

    static Result run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int status = Main.run(args, new PrintWriter(out), new PrintWriter(err));
        return new Result(status, out.toString(), err.toString());
    }

    @BeforeAll
    static void makeModel() throws Exception {
        model = dir.resolve("model");
        try (CpuKernels k = new CpuKernels(1)) {
            Gpt m = new Gpt(k, new GptConfig(32, ByteTokenizer.VOCAB_SIZE, 1, 2, 16), 1, 32);
            m.initRandom(5);
            HfCheckpoint.save(m, model, "byte");
        }
    }

    /** Reference: Σ log p(response | prompt) from a direct forward pass of one sequence. */
    static double directLogp(String prompt, String response) {
        ByteTokenizer tok = ByteTokenizer.INSTANCE;
        int[] p = tok.encode(prompt), r = tok.encode(response);
        int n = p.length + r.length;
        int[] toks = new int[n], targets = new int[n];
        System.arraycopy(p, 0, toks, 0, p.length);
        System.arraycopy(r, 0, toks, p.length, r.length);
        java.util.Arrays.fill(targets, -1);
        for (int t = p.length - 1; t < n - 1; t++) targets[t] = toks[t + 1];
        try (CpuKernels k = new CpuKernels(1)) {
            Gpt m = HfCheckpoint.load(k, model, 1, n);
            m.forward(toks, new int[]{n}, targets, 1, n);
            double s = 0;
            float[] lp = m.tokenLogp();
            for (int t = 0; t < n; t++) if (targets[t] >= 0) s += lp[t];
            return s;
        }
    }

    @Test
    void scoreWritesLogProbsAndEchoesFields() throws Exception {
        Path data = dir.resolve("sft.jsonl");
        Files.writeString(data, """
                {"prompt": "list fruits:", "completion": " apple fig.", "id": 7}
                {"prompt": "ab", "completion": "c"}
                """);
        Result r = run("score", "--model", model.toString(), "--data", data.toString(), "--device", "cpu");
        assertEquals(0, r.status(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(2, lines.size());
        ObjectMapper json = new ObjectMapper();
        JsonNode a = json.readTree(lines.get(0)), b = json.readTree(lines.get(1));
        assertEquals(7, a.get("id").asInt());
        assertEquals(" apple fig.", a.get("completion").asText());
        assertEquals(directLogp("list fruits:", " apple fig."), a.get("logp").asDouble(), 1e-4);
        assertEquals(directLogp("ab", "c"), b.get("logp").asDouble(), 1e-4);
        assertTrue(a.get("logp").asDouble() < 0);

        Path pairs = dir.resolve("pairs.jsonl");
        Files.writeString(pairs, "{\"prompt\":\"x\",\"chosen\":\"yes\",\"rejected\":\"no way\"}\n");
        r = run("score", "--model", model.toString(), "--data", pairs.toString(), "--device", "cpu");
        assertEquals(0, r.status(), r.err());
        JsonNode p = json.readTree(r.out().strip());
        assertEquals(directLogp("x", "yes"), p.get("chosen_logp").asDouble(), 1e-4);
        assertEquals(directLogp("x", "no way"), p.get("rejected_logp").asDouble(), 1e-4);
    }

    static void assertOneLineError(Result r, String... mustContain) {
        assertEquals(2, r.status(), "exit status; stderr: " + r.err());
        // informational log lines (e.g. "score: device: ...") may precede the one error line
        List<String> lines = r.err().lines().filter(l -> !l.startsWith("score: ")).toList();
        assertEquals(1, lines.size(), "exactly one error line on stderr: " + r.err());
        assertTrue(lines.get(0).startsWith("pref4j: error: "), lines.get(0));
        assertFalse(r.err().contains("\tat "), "no stack trace");
        for (String s : mustContain) assertTrue(lines.get(0).contains(s), "'" + s + "' in: " + lines.get(0));
    }

    @Test
    void malformedJsonlLineNamesFileAndLine() throws Exception {
        Path data = dir.resolve("bad.jsonl");
        Files.writeString(data, "{\"prompt\":\"a\",\"completion\":\"b\"}\n{\"prompt\": \"a\", \"completion\": \n");
        assertOneLineError(run("score", "--model", model.toString(), "--data", data.toString()), "bad.jsonl:2");
    }

    @Test
    void tokenIdOutOfRangeNamesLineAndId() throws Exception {
        Path data = dir.resolve("ids.jsonl");
        Files.writeString(data, "{\"prompt_ids\":[1,2],\"completion_ids\":[3]}\n{\"prompt_ids\":[1],\"completion_ids\":[999]}\n");
        assertOneLineError(run("score", "--model", model.toString(), "--data", data.toString()), "ids.jsonl:2", "999");
    }

    @Test
    void truncatedSafetensorsNamesTheFile() throws Exception {
        Path broken = dir.resolve("broken");
        Files.createDirectories(broken);
        Files.copy(model.resolve("config.json"), broken.resolve("config.json"));
        byte[] w = Files.readAllBytes(model.resolve("model.safetensors"));
        Files.write(broken.resolve("model.safetensors"), java.util.Arrays.copyOf(w, w.length - 100));
        Path data = dir.resolve("ok.jsonl");
        Files.writeString(data, "{\"prompt\":\"a\",\"completion\":\"b\"}\n");
        assertOneLineError(run("score", "--model", broken.toString(), "--data", data.toString()), "model.safetensors");
    }

    @Test
    void configThatDoesNotMatchTheWeights() throws Exception {
        Path other = dir.resolve("mismatch");
        Files.createDirectories(other);
        Files.copy(model.resolve("model.safetensors"), other.resolve("model.safetensors"));
        Files.writeString(other.resolve("config.json"),
                Files.readString(model.resolve("config.json")).replace("\"n_head\" : 2", "\"n_head\" : 2").replace("\"n_embd\" : 16", "\"n_embd\" : 32"));
        Path data = dir.resolve("ok2.jsonl");
        Files.writeString(data, "{\"prompt\":\"a\",\"completion\":\"b\"}\n");
        assertOneLineError(run("score", "--model", other.toString(), "--data", data.toString()), "model.safetensors", "shape");
    }

    @Test
    void debugShowsTheStackTrace() throws Exception {
        Path data = dir.resolve("bad2.jsonl");
        Files.writeString(data, "not json\n");
        Result r = run("score", "--model", model.toString(), "--data", data.toString(), "--debug");
        assertEquals(2, r.status());
        assertTrue(r.err().contains("\tat "), r.err());
    }

    @Test
    void unknownOptionIsAUsageError() {
        Result r = run("score", "--modle", "x");
        assertEquals(2, r.status());
        assertTrue(r.err().contains("--modle"), r.err());
        assertTrue(r.err().contains("--model"), "suggests the nearest option: " + r.err());
    }
}
