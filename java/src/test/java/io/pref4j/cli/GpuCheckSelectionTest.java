package io.pref4j.cli;

import io.pref4j.kernel.cuda.KernelChecks;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** gpu-check's --only, --repeat and --list on the CPU (--cpu-vs-cpu), and the rows issue 12 asks for. */
class GpuCheckSelectionTest {

    static String[] run(String... args) {
        StringWriter sw = new StringWriter();
        CommandLine cl = new CommandLine(new GpuCheckCommand());
        cl.setOut(new PrintWriter(sw));
        int rc = cl.execute(args);
        return new String[] {Integer.toString(rc), sw.toString()};
    }

    @Test
    void onlyAndRepeat() {
        String[] r = run("--cpu-vs-cpu", "--seed", "5", "--only", "^adamw|^gelu", "--repeat", "2");
        assertEquals("0", r[0], r[1]);
        assertTrue(r[1].contains("-- repeat 2 of 2"), r[1]);
        assertTrue(r[1].contains("gpu-check: all 6 checks pass"), r[1]);
        assertTrue(!r[1].contains("logprob"), r[1]);
    }

    @Test
    void nothingSelectedAndBadRegex() {
        assertEquals(Integer.toString(GpuCheckCommand.EXIT_NOTHING_SELECTED), run("--cpu-vs-cpu", "--only", "no such row")[0]);
        assertEquals(Integer.toString(GpuCheckCommand.EXIT_NOTHING_SELECTED), run("--cpu-vs-cpu", "--only", "(")[0]);
    }

    @Test
    void listNamesTheNewRows() {
        String[] r = run("--list");
        assertEquals("0", r[0], r[1]);
        String out = r[1];
        assertTrue(out.contains("attentionForward+Backward B 2 T 77 C 256 NH 2"), "head size 128");
        assertTrue(out.contains("attentionForward+Backward B 1 T 520 C 768 NH 12"), "GPT-2-sized attention");
        assertTrue(out.contains("logprobForward+Backward (many chunks) N 600 C 32 V 20011"), "many chunks");
        assertTrue(out.contains("gpt dpo step (fwd+bwd+adamw) L 2 C 128 NH 2 V 2053"), "GPT step at head size 64");
        assertEquals(KernelChecks.all().size(), out.strip().split("\n").length);
    }

    @Test
    void aRowKeepsItsSeedUnderASelection() {
        try (var ref = new io.pref4j.kernel.cpu.CpuKernels(1); var dev = new io.pref4j.kernel.cpu.CpuKernels(1)) {
            var all = KernelChecks.runAll(ref, dev, 99, Pattern.compile("^adamw"));
            assertEquals(1, all.size());
            assertTrue(all.get(0).pass());
        }
    }
}
