package io.pref4j.reward;

import io.pref4j.UserInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The external reward command, run as an argv (no shell) on small /bin/sh scripts: a working
 * scorer, and one clear message for each way a command can fail.
 */
class ExternalRewardTest {

    @TempDir
    Path dir;

    /** An executable /bin/sh script with the given body. */
    Path script(String name, String body) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, "#!/bin/sh\n" + body + "\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwxr-xr-x"));
        return f;
    }

    static List<Completion> batch(String... responses) {
        List<Completion> b = new ArrayList<>();
        for (String r : responses) b.add(new Completion("say it", r, null, null));
        return b;
    }

    static String error(ExternalReward r, List<Completion> batch) {
        return assertThrows(UserInputException.class, () -> r.score(batch)).getMessage();
    }

    @Test
    void scoresEachLineInOrder() throws Exception {
        // the length of each JSON line (awk prints one number per input line), then negated by a
        // second argument, to check that the argv reaches the command unsplit and unexpanded
        Path s = script("len.sh", "exec awk -v sign=\"$1\" '{ print sign * length($0) }'");
        try (ExternalReward r = new ExternalReward(List.of(s.toString(), "-1"), 10)) {
            List<Completion> b = batch("a", "hello", "", "quote \" and ünïcode");
            double[] got = r.score(b);
            for (int i = 0; i < b.size(); i++) {
                String line = "{\"prompt\":\"say it\",\"response\":" + io.pref4j.io.Jsonl.toLine(b.get(i).response()) + "}";
                // awk counts characters in a UTF-8 locale and bytes otherwise: accept either
                double chars = line.length(), bytes = line.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
                assertTrue(got[i] == -chars || got[i] == -bytes, "line " + i + ": " + got[i] + " for " + line);
            }
            assertEquals(0, r.score(List.of()).length);
        }
    }

    @Test
    void readsWhatTheCommandReceives() throws Exception {
        // echo back a number embedded in the response: proves the JSON lines arrive intact
        Path s = script("echo.sh", "while IFS= read -r line; do echo \"$line\" | sed 's/.*\"response\":\"\\([0-9.-]*\\)\".*/\\1/'; done");
        try (ExternalReward r = new ExternalReward(List.of(s.toString()), 10)) {
            assertArrayEquals(new double[]{1.5, -2, 7}, r.score(batch("1.5", "-2", "7")));
        }
    }

    @Test
    void argvIsNotAShellString() throws Exception {
        // '$HOME' and '*' reach the command verbatim: no shell expands them
        Path s = script("args.sh", "cat >/dev/null; [ \"$1\" = '$HOME' ] && [ \"$2\" = '*' ] && echo 1 || echo 0");
        try (ExternalReward r = new ExternalReward(List.of(s.toString(), "$HOME", "*"), 10)) {
            assertArrayEquals(new double[]{1}, r.score(batch("x")));
        }
    }

    @Test
    void nonNumericAnswerNamesTheLine() throws Exception {
        Path s = script("bad.sh", "cat >/dev/null; echo 1; echo 2.5; echo banana; echo 4");
        ExternalReward r = new ExternalReward(List.of(s.toString()), 10);
        String m = error(r, batch("a", "b", "c", "d"));
        assertEquals("reward command [" + s + "]: answer to line 3 of 4 is not a number: \"banana\"", m);
        Path nan = script("nan.sh", "cat >/dev/null; echo 1; echo NaN");
        assertTrue(error(new ExternalReward(List.of(nan.toString()), 10), batch("a", "b"))
                .endsWith("answer to line 2 of 2 is not a finite number: \"NaN\""));
    }

    @Test
    void tooFewAnswersNamesTheFirstUnanswered() throws Exception {
        Path s = script("few.sh", "cat >/dev/null; echo 1; echo 2");
        String m = error(new ExternalReward(List.of(s.toString()), 10), batch("a", "b", "c", "d", "e"));
        assertEquals("reward command [" + s + "] answered 2 of 5 lines: no answer for line 3", m);
        Path more = script("more.sh", "cat >/dev/null; echo 1; echo 2; echo 3");
        assertTrue(error(new ExternalReward(List.of(more.toString()), 10), batch("a", "b"))
                .endsWith("answered more lines than the 2 it was given: line 3 is \"3\""));
    }

    @Test
    void crashReportsExitStatusAndStderr() throws Exception {
        Path s = script("crash.sh", "read line; echo 0.5; echo 'loading model...' >&2; echo 'Traceback: KeyError: response' >&2; exit 3");
        String m = error(new ExternalReward(List.of(s.toString()), 10), batch("a", "b", "c"));
        assertEquals("reward command [" + s + "] failed with exit status 3 (batch of 3 lines); stderr: loading model... | Traceback: KeyError: response", m);
        Path quiet = script("quiet.sh", "exit 1");
        assertTrue(error(new ExternalReward(List.of(quiet.toString()), 10), batch("a")).endsWith("nothing on stderr"));
    }

    @Test
    void timeoutKillsTheCommand() throws Exception {
        Path pidFile = dir.resolve("pid");
        Path s = script("slow.sh", "echo $$ > '" + pidFile + "'; sleep 30; echo 1");
        long t0 = System.nanoTime();
        String m = error(new ExternalReward(List.of(s.toString()), 1), batch("a", "b", "c", "d", "e", "f", "g", "h"));
        double secs = (System.nanoTime() - t0) / 1e9;
        assertEquals("reward command [" + s + "] did not answer within 1 s (batch of 8 lines); it was killed", m);
        assertTrue(secs < 10, "took " + secs + " s");
        long pid = Long.parseLong(Files.readString(pidFile).strip());
        var h = ProcessHandle.of(pid);
        if (h.isPresent()) h.get().onExit().get(5, java.util.concurrent.TimeUnit.SECONDS);
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "the script still runs");
        String fractional = error(new ExternalReward(List.of(s.toString()), 0.5), batch("a"));
        assertTrue(fractional.contains("within 0.5 s (batch of 1 lines)"), fractional);
    }

    @Test
    void missingExecutable() throws Exception {
        Path gone = dir.resolve("no-such-scorer");
        assertEquals("reward command [" + gone + ", x]: executable " + gone + " does not exist",
                assertThrows(UserInputException.class, () -> new ExternalReward(List.of(gone.toString(), "x"), 10)).getMessage());
        assertEquals("reward command [no-such-scorer-pref4j]: executable 'no-such-scorer-pref4j' not found on PATH",
                assertThrows(UserInputException.class, () -> new ExternalReward(List.of("no-such-scorer-pref4j"), 10)).getMessage());
        Path notExec = dir.resolve("plain.txt");
        Files.writeString(notExec, "1\n");
        assertTrue(assertThrows(UserInputException.class, () -> new ExternalReward(List.of(notExec.toString()), 10))
                .getMessage().endsWith("is not an executable file"));
        // removed after the check: start() fails, and says so in one line
        Path s = script("vanishing.sh", "cat");
        ExternalReward r = new ExternalReward(List.of(s.toString()), 10);
        Files.delete(s);
        String m = error(r, batch("a"));
        assertTrue(m.startsWith("reward command [" + s + "]: cannot start " + s + ": "), m);
        assertFalse(m.contains("\n"));
    }

    @Test
    void pythonOneLinerAsArgv() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(onPath("python3"), "python3 not installed");
        String code = "import sys, json\nfor l in sys.stdin: print(-len(json.loads(l)['response']))";
        try (ExternalReward r = new ExternalReward(List.of("python3", "-c", code), 20)) {
            assertArrayEquals(new double[]{-1, -5, 0}, r.score(batch("a", "héllo", "")));
        }
    }

    static boolean onPath(String exe) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":"))
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, exe))) return true;
        return false;
    }
}
