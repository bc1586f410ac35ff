package io.pref4j.cli;

import io.pref4j.UserInputException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;

/**
 * The pref4j command line. Bad user input ends with one line on stderr and exit status 2
 * (the stack trace only with --debug); other failures exit 1.
 */
@Command(name = "pref4j", mixinStandardHelpOptions = true, version = "pref4j 0.1.0",
        description = "Preference fine-tuning of language models on the JVM.",
        subcommands = {DemoCommand.class, TrainCommand.class, SampleCommand.class, EvalCommand.class, ScoreCommand.class,
                TrainRmCommand.class, ExperimentCommand.class, GpuCheckCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    /** Exit status for bad user input (config, data, files, arguments). */
    public static final int EXIT_USAGE = 2;

    @Option(names = "--debug", scope = CommandLine.ScopeType.INHERIT,
            description = "Print stack traces for errors.")
    boolean debug;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI with the given streams and returns the exit status (for tests). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        boolean debug = java.util.Arrays.asList(args).contains("--debug");
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler((ex, a) -> {
            err.println("pref4j: " + ex.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, err);
            err.println("(see: pref4j " + (ex.getCommandLine().getCommandName().equals("pref4j") ? "" : ex.getCommandLine().getCommandName() + " ") + "--help)");
            return EXIT_USAGE;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            Throwable t = ex;
            if (t instanceof UserInputException) {
                err.println("pref4j: error: " + t.getMessage());
                if (debug) t.printStackTrace(err);
                return EXIT_USAGE;
            }
            err.println("pref4j: failed: " + t);
            if (debug) t.printStackTrace(err);
            else err.println("(run with --debug for the stack trace)");
            return 1;
        });
        int status = cl.execute(args);
        out.flush();
        err.flush();
        return status;
    }
}
