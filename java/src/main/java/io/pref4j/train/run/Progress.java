package io.pref4j.train.run;

import io.pref4j.config.LogSection;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * The console side of a run. On a terminal: one live line rewritten with {@code \r}
 * ({@code step 12/100 (12%)  reward -3.41  loss 0.6931  1.2k tok/s  ETA 1m05s}), at most
 * ten times a second. Elsewhere (a file, a pipe, CI): the same text as a plain line every
 * {@code every} steps and at the last step.
 *
 * <p>Rates and the ETA count only the steps of this process (after {@link #start}), so a
 * resumed run's ETA is not distorted by the steps done before it.
 */
public final class Progress {

    private static final long LIVE_INTERVAL_NANOS = 100_000_000L;

    private final PrintStream out;
    private final boolean live;
    private final long total;
    private final int every;
    private final LongSupplier clock;
    private long startNanos = -1, startStep, tokens, lastPrint = Long.MIN_VALUE;
    private int lastWidth;
    private boolean lineOpen;

    /**
     * @param out   where to print
     * @param live  a live {@code \r} line (true) or plain lines (false)
     * @param total the step number of the last step
     * @param every plain mode: print every this many steps
     * @param clock nanosecond clock ({@code System::nanoTime}; injectable for tests)
     */
    public Progress(PrintStream out, boolean live, long total, int every, LongSupplier clock) {
        if (every < 1) throw new IllegalArgumentException("every must be >= 1, got " + every);
        this.out = out;
        this.live = live;
        this.total = total;
        this.every = every;
        this.clock = clock;
    }

    /** Whether to show the live line: {@code always}, {@code never}, or {@code auto} = on a terminal. */
    public static boolean live(LogSection.Progress mode, boolean onTerminal) {
        return switch (mode) {
            case ALWAYS -> true;
            case NEVER -> false;
            case AUTO -> onTerminal;
        };
    }

    /** Progress on stdout, live when {@code log.progress} says so ({@code auto}: when {@link System#console()} exists). */
    public static Progress console(LogSection log, long total) {
        return new Progress(System.out, live(log.progress(), System.console() != null), total, log.every(),
                System::nanoTime);
    }

    public boolean isLive() {
        return live;
    }

    /** Starts the clock; {@code step} is the last step already done (0 for a new run). */
    public void start(long step) {
        startNanos = clock.getAsLong();
        startStep = step;
        tokens = 0;
    }

    /**
     * Reports a finished step.
     *
     * @param tokens tokens processed by this step (for the tokens/s rate)
     */
    public void update(long step, double reward, double loss, long tokens) {
        if (startNanos < 0) start(step - 1);
        this.tokens += tokens;
        long now = clock.getAsLong();
        boolean last = step >= total;
        if (live) {
            if (!last && lastPrint != Long.MIN_VALUE && now - lastPrint < LIVE_INTERVAL_NANOS) return;
            String s = line(step, reward, loss, now);
            int pad = Math.max(0, lastWidth - s.length());
            out.print("\r" + s + " ".repeat(pad));
            lastWidth = s.length();
            lineOpen = true;
            if (last) finish();
            out.flush();
        } else if (step % every == 0 || last) {
            out.println(line(step, reward, loss, now));
            out.flush();
        }
        lastPrint = now;
    }

    /** Prints a message on its own line without garbling the live line. */
    public void println(String message) {
        if (lineOpen) {
            out.print("\r" + " ".repeat(lastWidth) + "\r");
            lastWidth = 0;
            lineOpen = false;
        }
        out.println(message);
        out.flush();
    }

    /** Ends the live line (a newline), so later output starts on a fresh line. */
    public void finish() {
        if (lineOpen) {
            out.println();
            lineOpen = false;
            lastWidth = 0;
        }
        out.flush();
    }

    /** The progress text for a step (also what plain mode prints). */
    String line(long step, double reward, double loss, long now) {
        StringBuilder sb = new StringBuilder();
        sb.append("step ").append(step).append('/').append(total);
        if (total > 0) sb.append(" (").append(Math.min(100, step * 100 / total)).append("%)");
        if (!Double.isNaN(reward)) sb.append("  reward ").append(num(reward));   // offline runs have none
        sb.append("  loss ").append(num(loss));
        double secs = (now - startNanos) / 1e9;
        long done = step - startStep;
        if (secs > 0 && done > 0) {
            sb.append("  ").append(rate(tokens / secs)).append(" tok/s");
            long remaining = Math.max(0, total - step);
            sb.append("  ETA ").append(duration(secs / done * remaining));
        }
        return sb.toString();
    }

    static String num(double v) {
        if (Double.isNaN(v)) return "nan";
        if (Double.isInfinite(v)) return v > 0 ? "inf" : "-inf";
        if (v != 0 && (Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3)) return String.format(Locale.ROOT, "%.3e", v);
        return String.format(Locale.ROOT, "%.4f", v);
    }

    static String rate(double perSecond) {
        if (perSecond >= 1e6) return String.format(Locale.ROOT, "%.1fM", perSecond / 1e6);
        if (perSecond >= 1e3) return String.format(Locale.ROOT, "%.1fk", perSecond / 1e3);
        return String.format(Locale.ROOT, "%.0f", perSecond);
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        if (s >= 3600) return String.format(Locale.ROOT, "%dh%02dm", s / 3600, s % 3600 / 60);
        if (s >= 60) return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        return s + "s";
    }
}
