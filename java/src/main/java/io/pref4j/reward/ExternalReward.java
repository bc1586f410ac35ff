package io.pref4j.reward;

import io.pref4j.UserInputException;
import io.pref4j.io.Jsonl;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A reward computed by a command the user names (SPEC §4): for each batch pref4j starts the
 * command, writes one JSON line {@code {"prompt":…,"response":…}} per completion to its
 * stdin (UTF-8, then closes stdin), and reads one number per line from its stdout, in
 * order. The command is an argv list started directly (no shell: no quoting, globbing or
 * variable expansion), with pref4j's environment and working folder.
 *
 * <p>One process per batch: simple and stateless (a command that loads a large model pays
 * its start-up once per batch). The whole batch must finish within the timeout, or the
 * process and its descendants are killed and scoring fails. Every failure is a one-line
 * {@link UserInputException} naming the command and, where it applies, the 1-based line
 * of the batch: a timeout, a non-numeric or non-finite answer, fewer or more answers than
 * lines, a non-zero exit status (with the last lines of stderr), a missing executable.
 * Blank lines in stdout count as answers (and are not numbers); surrounding spaces are
 * ignored. The command's answers are complete when its stdout closes: a command that
 * leaves a background child holding stdout open counts as not answering in time.
 */
public final class ExternalReward implements RewardSource {

    /** How many trailing stderr lines a crash message quotes. */
    static final int STDERR_TAIL = 5;

    private final List<String> command;
    private final long timeoutNanos;
    private final double timeoutSeconds;

    /**
     * @param command        the argv: the executable (a path, or a name looked up on PATH)
     *                       and its arguments
     * @param timeoutSeconds the limit for one batch, &gt; 0
     * @throws UserInputException if the list is empty or the executable cannot be found
     */
    public ExternalReward(List<String> command, double timeoutSeconds) {
        if (command == null || command.isEmpty() || command.stream().anyMatch(s -> s == null || s.isEmpty()))
            throw new UserInputException("reward.command must be a non-empty list of non-empty strings");
        if (!(timeoutSeconds > 0) || !Double.isFinite(timeoutSeconds))
            throw new UserInputException("reward.timeout_s must be a number > 0, got " + timeoutSeconds);
        this.command = List.copyOf(command);
        this.timeoutSeconds = timeoutSeconds;
        this.timeoutNanos = (long) (timeoutSeconds * 1e9);
        checkExecutable();
    }

    @Override
    public String name() {
        return "external" + command;
    }

    public List<String> command() {
        return command;
    }

    /** Fails early when the executable does not exist (the same check start() would make). */
    private void checkExecutable() {
        String exe = command.getFirst();
        if (exe.contains("/")) {
            Path p = Path.of(exe);
            if (!Files.exists(p)) throw new UserInputException("reward command " + command + ": executable " + exe + " does not exist");
            if (Files.isDirectory(p) || !Files.isExecutable(p))
                throw new UserInputException("reward command " + command + ": " + exe + " is not an executable file");
            return;
        }
        String path = System.getenv("PATH");
        if (path != null) {
            for (String d : path.split(java.io.File.pathSeparator)) {
                if (d.isEmpty()) continue;
                Path p = Path.of(d, exe);
                if (Files.isRegularFile(p) && Files.isExecutable(p)) return;
            }
        }
        throw new UserInputException("reward command " + command + ": executable '" + exe + "' not found on PATH");
    }

    @Override
    public double[] score(List<Completion> batch) {
        int n = batch.size();
        if (n == 0) return new double[0];
        List<String> lines = new ArrayList<>(n);
        for (Completion c : batch) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("prompt", c.prompt());
            m.put("response", c.response());
            lines.add(Jsonl.toLine(m));
        }
        Process proc;
        try {
            proc = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.PIPE).start();
        } catch (IOException e) {
            throw new UserInputException("reward command " + command + ": cannot start " + command.getFirst() + ": " + firstLine(e.getMessage()), e);
        }
        // feed stdin and drain stdout and stderr on their own threads, so neither side blocks
        Thread writer = daemon("reward-stdin", () -> {
            try (Writer w = new BufferedWriter(new OutputStreamWriter(proc.getOutputStream(), StandardCharsets.UTF_8))) {
                for (String l : lines) {
                    w.write(l);
                    w.write('\n');
                }
            } catch (IOException ignored) {
                // the command stopped reading (exited or closed stdin): its answers tell the rest
            }
        });
        List<String> answers = new ArrayList<>();
        Thread reader = daemon("reward-stdout", () -> readLines(proc.getInputStream(), answers, n + 1));
        Deque<String> errTail = new ArrayDeque<>();
        Thread errReader = daemon("reward-stderr", () -> tailLines(proc.getErrorStream(), errTail));
        long deadline = System.nanoTime() + timeoutNanos;
        boolean finished;
        try {
            finished = proc.waitFor(timeoutNanos, TimeUnit.NANOSECONDS);
            if (finished) {
                // the pipes may stay open a little after exit (or forever, if a child kept them)
                long left = Math.max(deadline - System.nanoTime(), TimeUnit.MILLISECONDS.toNanos(500));
                reader.join(TimeUnit.NANOSECONDS.toMillis(left) + 1);
                errReader.join(200);
                if (reader.isAlive()) finished = false;
            }
        } catch (InterruptedException e) {
            kill(proc);
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the reward command " + command, e);
        }
        if (!finished) {
            kill(proc);
            throw new UserInputException(String.format(Locale.ROOT, "reward command %s did not answer within %s s (batch of %d lines); it was killed",
                    command, seconds(timeoutSeconds), n));
        }
        writer.interrupt();
        int status = proc.exitValue();
        if (status != 0) {
            String tail;
            synchronized (errTail) {
                tail = errTail.isEmpty() ? "nothing on stderr" : "stderr: " + String.join(" | ", errTail);
            }
            throw new UserInputException("reward command " + command + " failed with exit status " + status
                    + " (batch of " + n + " lines); " + tail);
        }
        List<String> got;
        synchronized (answers) {
            got = List.copyOf(answers);
        }
        double[] r = new double[n];
        for (int i = 0; i < n; i++) {
            if (i >= got.size())
                throw new UserInputException("reward command " + command + " answered " + got.size() + " of " + n
                        + " lines: no answer for line " + (i + 1));
            String a = got.get(i).strip();
            double v;
            try {
                v = Double.parseDouble(a);
            } catch (NumberFormatException e) {
                throw new UserInputException("reward command " + command + ": answer to line " + (i + 1) + " of " + n
                        + " is not a number: \"" + clip(a) + "\"");
            }
            if (!Double.isFinite(v))
                throw new UserInputException("reward command " + command + ": answer to line " + (i + 1) + " of " + n
                        + " is not a finite number: \"" + clip(a) + "\"");
            r[i] = v;
        }
        if (got.size() > n)
            throw new UserInputException("reward command " + command + " answered more lines than the " + n
                    + " it was given: line " + (n + 1) + " is \"" + clip(got.get(n)) + "\"");
        return r;
    }

    private static Thread daemon(String name, Runnable r) {
        return Thread.ofPlatform().name(name).daemon().start(r);
    }

    /** Reads lines into out (synchronised), keeping at most max of them but draining the rest. */
    private static void readLines(InputStream in, List<String> out, int max) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String l;
            while ((l = r.readLine()) != null) {
                synchronized (out) {
                    if (out.size() < max) out.add(l);
                }
            }
        } catch (IOException ignored) {
            // the process was killed
        }
    }

    private static void tailLines(InputStream in, Deque<String> tail) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String l;
            while ((l = r.readLine()) != null) {
                if (l.isBlank()) continue;
                synchronized (tail) {
                    tail.addLast(clip(l.strip()));
                    if (tail.size() > STDERR_TAIL) tail.removeFirst();
                }
            }
        } catch (IOException ignored) {
            // the process was killed
        }
    }

    private static void kill(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        try {
            p.getInputStream().close();
            p.getErrorStream().close();
            p.getOutputStream().close();
        } catch (IOException ignored) {
            // best effort
        }
    }

    private static String seconds(double s) {
        return s == Math.rint(s) ? String.valueOf((long) s) : String.valueOf(s);
    }

    private static String clip(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }

    private static String firstLine(String s) {
        if (s == null) return "unknown error";
        int i = s.indexOf('\n');
        return i < 0 ? s : s.substring(0, i);
    }
}
