package io.pref4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pref4j.io.HfCheckpoint;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static io.pref4j.cli.CliTest.assertOneLineError;
import static io.pref4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.*;

/** score on pre-tokenized input: no tokenizer needed, ids checked against the model's vocabulary. */
class ScoreCommandTest {

    static final int VOCAB = 113;

    @TempDir
    static Path dir;
    /** A model whose vocabulary is neither byte's (258) nor GPT-2's (50257), with no tokenizer recorded. */
    static Path odd;

    @BeforeAll
    static void makeModel() throws Exception {
        odd = dir.resolve("odd");
        try (CpuKernels k = new CpuKernels(1)) {
            Gpt m = new Gpt(k, new GptConfig(32, VOCAB, 1, 2, 16), 1, 32);
            m.initRandom(3);
            HfCheckpoint.save(m, odd);
        }
        assertNull(HfCheckpoint.tokenizerName(odd));
    }

    /** Σ log p(response | prompt) by one direct forward pass. */
    static double directLogp(Path model, int[] p, int[] r) {
        int n = p.length + r.length;
        int[] toks = new int[n], targets = new int[n];
        System.arraycopy(p, 0, toks, 0, p.length);
        System.arraycopy(r, 0, toks, p.length, r.length);
        Arrays.fill(targets, -1);
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
    void preTokenizedRowsNeedNoTokenizer() throws Exception {
        Path data = dir.resolve("ids.jsonl");
        Files.writeString(data, """
                {"prompt_ids": [5, 100], "completion_ids": [112, 7], "id": "a"}
                {"prompt_ids": [1], "chosen_ids": [2, 3], "rejected_ids": [110]}
                """);
        ObjectMapper json = new ObjectMapper();
        for (String[] extra : new String[][]{{}, {"--tokenizer", "byte"}, {"--tokenizer", "gpt2"}}) {
            String[] args = {"score", "--model", odd.toString(), "--data", data.toString(), "--device", "cpu"};
            args = java.util.stream.Stream.concat(Arrays.stream(args), Arrays.stream(extra)).toArray(String[]::new);
            CliTest.Result r = run(args);
            assertEquals(0, r.status(), Arrays.toString(extra) + ": " + r.err());
            List<String> lines = r.out().lines().toList();
            assertEquals(2, lines.size(), r.out());
            JsonNode a = json.readTree(lines.get(0)), b = json.readTree(lines.get(1));
            assertEquals("a", a.get("id").asText());
            assertEquals(directLogp(odd, new int[]{5, 100}, new int[]{112, 7}), a.get("logp").asDouble(), 1e-4);
            assertEquals(directLogp(odd, new int[]{1}, new int[]{2, 3}), b.get("chosen_logp").asDouble(), 1e-4);
            assertEquals(directLogp(odd, new int[]{1}, new int[]{110}), b.get("rejected_logp").asDouble(), 1e-4);
        }
    }

    @Test
    void idsAreCheckedAgainstTheModelVocabulary() throws Exception {
        Path data = dir.resolve("big.jsonl");
        Files.writeString(data, "{\"prompt_ids\":[1],\"completion_ids\":[2]}\n{\"prompt_ids\":[1],\"chosen_ids\":[3],\"rejected_ids\":[4, 113]}\n");
        assertOneLineError(run("score", "--model", odd.toString(), "--data", data.toString(), "--device", "cpu"),
                "big.jsonl:2", "\"rejected_ids\"", "113", "vocab_size 113");
        // the byte tokenizer's ids (up to 257) are no excuse either
        assertOneLineError(run("score", "--model", odd.toString(), "--data", data.toString(), "--device", "cpu",
                "--tokenizer", "byte"), "big.jsonl:2", "113", "vocab_size 113");
        Files.writeString(data, "{\"prompt_ids\":[-1],\"completion_ids\":[2]}\n");
        assertOneLineError(run("score", "--model", odd.toString(), "--data", data.toString(), "--device", "cpu"),
                "big.jsonl:1", "\"prompt_ids\"", "-1");
    }

    @Test
    void textRowsStillNeedATokenizer() throws Exception {
        Path data = dir.resolve("mixed.jsonl");
        Files.writeString(data, "{\"prompt_ids\":[1],\"completion_ids\":[2]}\n{\"prompt\":\"a\",\"completion\":\"b\"}\n");
        assertOneLineError(run("score", "--model", odd.toString(), "--data", data.toString(), "--device", "cpu"),
                "cannot tell the tokenizer", "vocab_size 113", "--tokenizer");
        assertOneLineError(run("score", "--model", odd.toString(), "--data", data.toString(), "--device", "cpu",
                "--tokenizer", "nope"), "nope");
    }

    @Test
    void emptyPromptIdsUseTheConfigsEosOrSayWhatIsMissing() throws Exception {
        Path data = dir.resolve("empty.jsonl");
        Files.writeString(data, "{\"prompt_ids\":[],\"completion_ids\":[4, 5]}\n");
        assertOneLineError(run("score", "--model", odd.toString(), "--data", data.toString(), "--device", "cpu"),
                "empty.jsonl:1", "eos_token_id");

        Path withEos = dir.resolve("odd-eos");
        Files.createDirectories(withEos);
        Files.copy(odd.resolve(HfCheckpoint.WEIGHTS), withEos.resolve(HfCheckpoint.WEIGHTS));
        Files.writeString(withEos.resolve(HfCheckpoint.CONFIG), Files.readString(odd.resolve(HfCheckpoint.CONFIG))
                .replace("{", "{\n  \"eos_token_id\" : 9,"));
        CliTest.Result r = run("score", "--model", withEos.toString(), "--data", data.toString(), "--device", "cpu");
        assertEquals(0, r.status(), r.err());
        assertEquals(directLogp(withEos, new int[]{9}, new int[]{4, 5}),
                new ObjectMapper().readTree(r.out().strip()).get("logp").asDouble(), 1e-4);

        Files.writeString(withEos.resolve(HfCheckpoint.CONFIG), Files.readString(odd.resolve(HfCheckpoint.CONFIG))
                .replace("{", "{\n  \"eos_token_id\" : 500,"));
        assertOneLineError(run("score", "--model", withEos.toString(), "--data", data.toString(), "--device", "cpu"),
                "config.json", "eos_token_id", "500");
    }
}
