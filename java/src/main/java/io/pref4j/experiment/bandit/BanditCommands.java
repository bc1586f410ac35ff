package io.pref4j.experiment.bandit;

import io.pref4j.cli.ExperimentCommand;
import io.pref4j.kernel.Backends;
import io.pref4j.kernel.Kernels;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Predicate;

/** The picocli subcommands {@code experiment bandit} and {@code experiment seq-bandit}. */
public final class BanditCommands {
    private BanditCommands() {}

    static Predicate<BanditMethod> filter(String methods) {
        if (methods == null || methods.isBlank()) return m -> true;
        Set<String> names = Set.of(methods.split(","));
        return m -> names.contains(m.family()) || names.contains(m.name());
    }

    @Command(name = "bandit", mixinStandardHelpOptions = true,
            description = {"The categorical bandit (SPEC 6.1): offline vs on-policy best-of-N (with and without the negative",
                    "term), RWR, DPO, IPO and REINFORCE on R1 and R2, and the fixed-budget sample-reuse ablation."})
    public static final class Bandit implements Callable<Integer> {
        @Mixin
        ExperimentCommand.Options opts;

        @Option(names = "--methods", description = "Only these methods or settings (comma-separated names, e.g. onpolicy-bon,offline-bon).")
        String methods;

        @Override
        public Integer call() {
            var size = opts.size();
            Path out = opts.outDir("bandit");
            try (Kernels k = Backends.open(opts.device, opts.threads, s -> System.out.println("bandit: " + s))) {
                BanditReport rep = BanditExperiment.runCategorical(k, size, opts.seed, opts.seeds, filter(methods), System.out);
                BanditExperiment.write(rep, out, "bandit", System.out);
            }
            return 0;
        }
    }

    @Command(name = "seq-bandit", mixinStandardHelpOptions = true,
            description = {"The sequence bandit (SPEC 6.2): a 3-layer GPT generating 9 tokens, R1/R2 averaged over them;",
                    "on-policy vs offline best-of-N and IPO."})
    public static final class SeqBandit implements Callable<Integer> {
        @Mixin
        ExperimentCommand.Options opts;

        @Option(names = "--methods", description = "Only these methods (comma-separated names).")
        String methods;

        @Override
        public Integer call() {
            var size = opts.size();
            Path out = opts.outDir("seq-bandit");
            try (Kernels k = Backends.open(opts.device, opts.threads, s -> System.out.println("seq-bandit: " + s))) {
                BanditReport rep = BanditExperiment.runSequence(k, size, opts.seed, opts.seeds, filter(methods), System.out);
                BanditExperiment.write(rep, out, "seq_bandit", System.out);
            }
            return 0;
        }
    }
}
