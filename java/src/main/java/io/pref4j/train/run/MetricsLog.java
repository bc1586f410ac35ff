package io.pref4j.train.run;

import io.pref4j.io.AtomicFiles;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import io.pref4j.io.Jsonl;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code metrics.jsonl}: one JSON object per step, {@code {"step": 12, "loss": 0.69, ...}},
 * flushed after every line, so a crash loses at most the line being written.
 *
 * <p>Values are written as JSON numbers, strings, booleans or null. A NaN or infinite number
 * is written as {@code null} and named in a {@code "nonfinite"} object on the same line
 * ({@code "loss": null, "nonfinite": {"loss": "NaN"}}), so every line stays valid JSON.
 *
 * <p>On resume ({@link #resume}) the lines with a step larger than the checkpoint's are
 * removed (atomically), as is a torn last line, and writing continues after them: the
 * file then reads exactly as if the run had never stopped.
 */
public final class MetricsLog implements Closeable {

    /** Name of the file in a run folder. */
    public static final String FILE = "metrics.jsonl";
    /** The key holding the step. */
    public static final String STEP = "step";
    /** The key naming non-finite values of a line. */
    public static final String NONFINITE = "nonfinite";

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private final Path file;
    private final Jsonl.Writer out;
    private long lastStep;

    private MetricsLog(Path file, Jsonl.Writer out, long lastStep) {
        this.file = file;
        this.out = out;
        this.lastStep = lastStep;
    }

    /** Starts a new log, replacing any file. */
    public static MetricsLog create(Path file) {
        return new MetricsLog(file, Jsonl.writer(file), -1);
    }

    /**
     * Continues a log after resuming from a checkpoint at {@code step}: keeps the lines with
     * {@code step <= step} (a missing file starts empty).
     *
     * @throws UserInputException naming file and line if a line other than the last is not
     *                            a JSON object with an integer "step"
     */
    public static MetricsLog resume(Path file, long step) {
        List<String> kept = new ArrayList<>();
        long last = -1;
        for (Line l : lines(file)) {
            if (l.step <= step) {
                kept.add(l.text);
                last = Math.max(last, l.step);
            }
        }
        try {
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            for (String s : kept) buf.writeBytes((s + "\n").getBytes(StandardCharsets.UTF_8));
            AtomicFiles.replace(file, buf.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot rewrite: " + e.getMessage(), e);
        }
        return new MetricsLog(file, Jsonl.appender(file), last);
    }

    /** The file written. */
    public Path file() {
        return file;
    }

    /** The step of the last line written or kept (-1 when none). */
    public long lastStep() {
        return lastStep;
    }

    /**
     * Appends one line {@code {"step": step, ...values}} and flushes it. Values may be
     * numbers, strings, booleans, null or Jackson nodes; insertion order is kept.
     */
    public void log(long step, Map<String, ?> values) {
        ObjectNode line = NODES.objectNode();
        line.put(STEP, step);
        ObjectNode bad = null;
        for (Map.Entry<String, ?> e : values.entrySet()) {
            String k = e.getKey();
            if (k.equals(STEP) || k.equals(NONFINITE)) {
                throw new IllegalArgumentException("metric name \"" + k + "\" is reserved");
            }
            Object v = e.getValue();
            if (v instanceof Double || v instanceof Float) {
                double d = ((Number) v).doubleValue();
                if (!Double.isFinite(d)) {
                    line.putNull(k);
                    if (bad == null) bad = NODES.objectNode();
                    bad.put(k, Double.isNaN(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
                    continue;
                }
            }
            line.set(k, node(k, v));
        }
        if (bad != null) line.set(NONFINITE, bad);
        out.write(line);
        lastStep = step;
    }

    private static JsonNode node(String k, Object v) {
        if (v == null) return NODES.nullNode();
        if (v instanceof JsonNode n) return n;
        if (v instanceof Double d) return NODES.numberNode(d);
        if (v instanceof Float f) return NODES.numberNode(f);
        if (v instanceof Long l) return NODES.numberNode(l);
        if (v instanceof Integer i) return NODES.numberNode(i);
        if (v instanceof Short s) return NODES.numberNode(s);
        if (v instanceof Byte b) return NODES.numberNode(b);
        if (v instanceof Boolean b) return NODES.booleanNode(b);
        if (v instanceof CharSequence s) return NODES.textNode(s.toString());
        throw new IllegalArgumentException("metric \"" + k + "\": unsupported value type " + v.getClass().getName());
    }

    @Override
    public void close() {
        out.close();
    }

    // ------------------------------------------------------------------ reading

    private record Line(long step, String text, ObjectNode node) {
    }

    /**
     * The lines of a metrics file as objects (a torn last line, from a crash mid-write, is
     * skipped; a missing file is empty).
     */
    public static List<ObjectNode> read(Path file) {
        List<ObjectNode> out = new ArrayList<>();
        for (Line l : lines(file)) out.add(l.node);
        return out;
    }

    private static List<Line> lines(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw new UserInputException(file + ": cannot read: " + e.getMessage(), e);
        }
        String[] raw = text.split("\n", -1);
        // the text after the last newline is empty, or a line torn by a crash
        int n = raw.length;
        List<Line> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String s = raw[i];
            if (s.isBlank()) continue;
            boolean last = i == n - 1;
            ObjectNode node;
            try {
                JsonNode j = Checkpoints.JSON.readTree(s);
                if (!(j instanceof ObjectNode o)) throw new UserInputException(file + ":" + (i + 1)
                        + ": expected a JSON object, got " + j.getNodeType().toString().toLowerCase());
                node = o;
            } catch (JsonProcessingException e) {
                if (last) break; // torn final line (no newline after it): drop it
                throw new UserInputException(file + ":" + (i + 1) + ": malformed JSON ("
                        + e.getOriginalMessage().lines().findFirst().orElse("") + ")", e);
            }
            JsonNode st = node.get(STEP);
            if (st == null || !st.isIntegralNumber() || !st.canConvertToLong()) {
                throw new UserInputException(file + ":" + (i + 1) + ": expected an integer \"step\", got " + st);
            }
            out.add(new Line(st.longValue(), s, node));
        }
        return out;
    }
}
