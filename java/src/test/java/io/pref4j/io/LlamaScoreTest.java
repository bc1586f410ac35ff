package io.pref4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pref4j.cli.Main;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code pref4j score} on a random Llama folder (tools/golden/make_llama_fixtures.py) with
 * pre-tokenized pairs: every chosen/rejected log-prob equals PyTorch's float64 value (each
 * line carries it as expect_*) within 1e-4 relative.
 */
class LlamaScoreTest {

    static final Path GOLDEN = Path.of("src", "test", "resources", "golden");

    @Test
    void scoreMatchesPyTorchFloat64() throws Exception {
        StringWriter out = new StringWriter(), err = new StringWriter();
        Path pairs = GOLDEN.resolve("llama_score_pairs.jsonl");
        int status = Main.run(new String[]{"score", "--model", GOLDEN.resolve("llama_score").toString(), "--data", pairs.toString(),
                "--device", "cpu", "--threads", "2"}, new PrintWriter(out), new PrintWriter(err));
        assertEquals(0, status, err.toString());
        List<String> lines = out.toString().lines().toList();
        assertEquals(Files.readAllLines(pairs).size(), lines.size());
        ObjectMapper json = new ObjectMapper();
        int checked = 0;
        for (String l : lines) {
            JsonNode n = json.readTree(l);
            for (String s : new String[]{"chosen", "rejected"}) {
                double got = n.get(s + "_logp").asDouble(), want = n.get("expect_" + s + "_logp").asDouble();
                assertTrue(want < -1, "a non-trivial log-prob: " + want);
                assertEquals(want, got, 1e-4 * Math.abs(want), "line " + n.get("id") + " " + s);
                checked++;
            }
        }
        assertEquals(8, checked);
    }
}
