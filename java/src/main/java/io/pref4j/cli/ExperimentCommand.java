package io.pref4j.cli;

import io.pref4j.UserInputException;
import io.pref4j.experiment.bandit.BanditCommands;
import io.pref4j.experiment.bandit.Size;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;

/**
 * {@code pref4j experiment}: the reproductions of SPEC §6, one subcommand each. A new
 * experiment is one class (a picocli command, usually with {@code @Mixin
 * ExperimentCommand.Options}) and one entry in {@code subcommands} below.
 */
@Command(name = "experiment", mixinStandardHelpOptions = true,
        description = {"Reproduce the papers' findings (SPEC §6); each writes OUT/summary.json, PNG plots and prints a table.",
                "Results and verdicts: docs/reproduction.md."},
        subcommands = {
                BanditCommands.Bandit.class,
                BanditCommands.SeqBandit.class,
                io.pref4j.experiment.length.LengthExperiment.class,
                io.pref4j.experiment.length.OptuneExperiment.class,
        })
public final class ExperimentCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** The options every experiment shares (use as {@code @Mixin ExperimentCommand.Options opts}). */
    public static final class Options {
        @Option(names = "--seed", defaultValue = "0", description = "First seed (default: ${DEFAULT-VALUE}).")
        public long seed;

        @Option(names = "--seeds", defaultValue = "3", description = "Number of seeds: seed, seed+1, ... (default: ${DEFAULT-VALUE}).")
        public int seeds;

        @Option(names = "--out", description = "Output folder (default: runs/experiment-NAME).")
        public Path out;

        @Option(names = "--quick", description = "CI size (under a minute).")
        public boolean quick;

        @Option(names = "--full", description = "The full grid (much longer than the default).")
        public boolean full;

        @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0 = all cores).")
        public int threads;

        @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
        public String device;

        /** The size the flags ask for. */
        public Size size() {
            if (quick && full) throw new UserInputException("--quick and --full exclude each other");
            if (seeds < 1) throw new UserInputException("--seeds must be >= 1, got " + seeds);
            return quick ? Size.QUICK : full ? Size.FULL : Size.DEFAULT;
        }

        /** --out, or runs/experiment-NAME. */
        public Path outDir(String name) {
            return out != null ? out : Path.of("runs", "experiment-" + name);
        }
    }

    /** Runs {@code experiment ...} on its own (the same error handling as the pref4j CLI). */
    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true), err = new PrintWriter(System.err, true);
        boolean debug = java.util.Arrays.asList(args).contains("--debug");
        CommandLine cl = new CommandLine(new ExperimentCommand());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            if (ex instanceof UserInputException) {
                err.println("pref4j: error: " + ex.getMessage());
                if (debug) ex.printStackTrace(err);
                return Main.EXIT_USAGE;
            }
            err.println("pref4j: failed: " + ex);
            ex.printStackTrace(err);
            return 1;
        });
        System.exit(cl.execute(java.util.Arrays.stream(args).filter(a -> !a.equals("--debug")).toArray(String[]::new)));
    }
}
