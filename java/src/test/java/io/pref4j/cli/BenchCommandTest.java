package io.pref4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** pref4j bench on the CPU with the small model and tiny sizes: all three parts give positive finite rates. */
class BenchCommandTest {

    @TempDir
    Path dir;

    private static void positiveFinite(JsonNode n, String field) {
        assertTrue(n.has(field), "missing " + field + " in " + n);
        double v = n.get(field).asDouble();
        assertTrue(Double.isFinite(v) && v > 0, field + " = " + v);
    }

    @Test
    void smallCpuRunWritesPositiveFiniteRates() throws Exception {
        Path json = dir.resolve("bench.json");
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = new CommandLine(new BenchCommand());
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int status = cl.execute("--device", "cpu", "--threads", "1", "--model", "small", "--batch", "2", "--seq", "16",
                "--gen-batch", "2", "--prompt-len", "4", "--new-tokens", "4", "--attn-batch", "2",
                "--steps", "3", "--warmup", "1", "--peak-tflops", "0.1", "--peak-gbps", "10", "--json", json.toString());
        assertEquals(0, status, out + "\n" + err);
        assertTrue(out.toString().contains("dpo step"), out.toString());
        JsonNode r = new ObjectMapper().readTree(json.toFile());
        assertTrue(r.get("device").asText().startsWith("cpu"));
        JsonNode dpo = r.get("dpo");
        for (String f : new String[]{"median_s", "tokens_per_s", "tflops", "mfu"}) positiveFinite(dpo, f);
        assertEquals(2 * 2 * 16, dpo.get("tokens_per_step").asLong());
        assertTrue(Double.isFinite(dpo.get("last_loss").asDouble()));
        JsonNode gen = r.get("generate");
        for (String f : new String[]{"median_s", "tokens_per_s", "achieved_gbps", "floor_fraction"}) positiveFinite(gen, f);
        assertEquals(8, gen.get("generated_tokens").asLong());
        JsonNode att = r.get("attention");
        assertEquals(1, att.size());
        assertEquals(16, att.get(0).get("T").asInt());
        for (String f : new String[]{"median_s", "tflops"}) positiveFinite(att.get(0), f);
    }

    @Test
    void unknownPartIsAUsageError() {
        CommandLine cl = new CommandLine(new BenchCommand());
        cl.setOut(new PrintWriter(new StringWriter()));
        cl.setErr(new PrintWriter(new StringWriter()));
        cl.setExecutionExceptionHandler((ex, c, p) -> ex instanceof io.pref4j.UserInputException ? Main.EXIT_USAGE : 1);
        assertEquals(Main.EXIT_USAGE, cl.execute("--device", "cpu", "--model", "small", "--what", "nope"));
    }

    @Test
    void defaultPeakKnowsTheH100() {
        assertEquals(989.4, BenchCommand.defaultPeakTflops("cuda 0: NVIDIA H100 80GB HBM3, fp32 GEMMs"));
        assertNull(BenchCommand.defaultPeakTflops("cpu (2 threads)"));
    }
}
