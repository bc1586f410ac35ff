package io.pref4j.train.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class MetricsLogTest {

    @TempDir
    Path dir;

    static Map<String, Object> m(Object... kv) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) out.put((String) kv[i], kv[i + 1]);
        return out;
    }

    @Test
    void oneJsonObjectPerStepFlushedAtOnce() throws IOException {
        Path f = dir.resolve("metrics.jsonl");
        try (MetricsLog log = MetricsLog.create(f)) {
            log.log(1, m("loss", 0.6931471805599453, "reward", -12.5f, "tokens", 640, "phase", "train", "ok", true));
            // flushed per line: visible before close
            assertEquals("{\"step\":1,\"loss\":0.6931471805599453,\"reward\":-12.5,\"tokens\":640,\"phase\":\"train\",\"ok\":true}\n",
                    Files.readString(f));
            log.log(2, m("loss", Double.NaN, "grad_norm", Double.POSITIVE_INFINITY, "reward", -3.0));
            log.log(3, m("loss", Float.NEGATIVE_INFINITY, "kl", null));
            assertEquals(3, log.lastStep());
            assertThrows(IllegalArgumentException.class, () -> log.log(4, m("step", 1)));
            assertThrows(IllegalArgumentException.class, () -> log.log(4, m("x", new Object())));
        }
        List<String> lines = Files.readAllLines(f);
        assertEquals(3, lines.size());
        ObjectMapper strict = new ObjectMapper();
        for (String l : lines) assertTrue(strict.readTree(l).isObject(), l); // strict JSON: no NaN tokens
        assertEquals("{\"step\":2,\"loss\":null,\"grad_norm\":null,\"reward\":-3.0,\"nonfinite\":{\"loss\":\"NaN\",\"grad_norm\":\"Infinity\"}}",
                lines.get(1));
        JsonNode third = strict.readTree(lines.get(2));
        assertEquals("-Infinity", third.get("nonfinite").get("loss").asText());
        assertTrue(third.get("kl").isNull());
        assertFalse(third.get("nonfinite").has("kl"));
        List<ObjectNode> rows = MetricsLog.read(f);
        assertEquals(3, rows.size());
        assertEquals(0.6931471805599453, rows.get(0).get("loss").doubleValue());
    }

    @Test
    void resumeContinuesExactlyAfterTheCheckpointStep() throws IOException {
        Path f = dir.resolve("metrics.jsonl");
        try (MetricsLog log = MetricsLog.create(f)) {
            for (int s = 1; s <= 6; s++) log.log(s, m("loss", 1.0 / s));
        }
        String uninterrupted;
        Path g = dir.resolve("uninterrupted.jsonl");
        try (MetricsLog log = MetricsLog.create(g)) {
            for (int s = 1; s <= 8; s++) log.log(s, m("loss", 1.0 / s));
        }
        uninterrupted = Files.readString(g);
        // the run died after step 6 with its last checkpoint at step 4; a torn line follows
        Files.writeString(f, Files.readString(f) + "{\"step\":7,\"lo");
        try (MetricsLog log = MetricsLog.resume(f, 4)) {
            assertEquals(4, log.lastStep());
            for (int s = 5; s <= 8; s++) log.log(s, m("loss", 1.0 / s));
        }
        assertEquals(uninterrupted, Files.readString(f));
    }

    @Test
    void resumeOfAMissingFileStartsEmptyAndTornLinesAreSkippedWhenReading() throws IOException {
        Path f = dir.resolve("sub/metrics.jsonl");
        try (MetricsLog log = MetricsLog.resume(f, 10)) {
            assertEquals(-1, log.lastStep());
            log.log(11, m("loss", 0.5));
        }
        assertEquals("{\"step\":11,\"loss\":0.5}\n", Files.readString(f));
        Files.writeString(f, Files.readString(f) + "{\"step\":12,");
        assertEquals(1, MetricsLog.read(f).size());
        assertEquals(List.of(), MetricsLog.read(dir.resolve("none.jsonl")));
    }

    @Test
    void damagedLinesNameFileAndLine() throws IOException {
        Path f = dir.resolve("metrics.jsonl");
        Files.writeString(f, "{\"step\":1}\nnot json\n{\"step\":3}\n");
        String msg = assertThrows(UserInputException.class, () -> MetricsLog.resume(f, 5)).getMessage();
        assertTrue(msg.startsWith(f + ":2: malformed JSON ("), msg);
        Files.writeString(f, "{\"step\":1}\n{\"loss\":1}\n");
        assertEquals(f + ":2: expected an integer \"step\", got null",
                assertThrows(UserInputException.class, () -> MetricsLog.read(f)).getMessage());
        Files.writeString(f, "{\"step\":1}\n[1]\n");
        assertEquals(f + ":2: expected a JSON object, got array",
                assertThrows(UserInputException.class, () -> MetricsLog.read(f)).getMessage());
    }
}
