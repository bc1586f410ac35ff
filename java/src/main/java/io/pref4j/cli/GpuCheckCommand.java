package io.pref4j.cli;

import io.pref4j.kernel.Kernels;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.kernel.cuda.CudaAvailability;
import io.pref4j.kernel.cuda.CudaException;
import io.pref4j.kernel.cuda.CudaKernels;
import io.pref4j.kernel.cuda.KernelChecks;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import io.pref4j.kernel.CounterRng;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import java.util.concurrent.Callable;

/**
 * {@code pref4j gpu-check}: every CUDA kernel against the CPU reference on fresh random
 * inputs (the comparisons of {@link KernelChecks}, the same the JUnit GPU suite runs), from
 * the jar alone. Prints a table (op, shape, max rel error, tolerance, PASS/FAIL).
 * Exit status: 0 all pass, 1 a check failed, 2 no usable GPU here (the reason is printed),
 * 3 --only selects no check. {@code --only REGEX} runs the rows whose "op shape" contains a
 * match (a row keeps its seed under any selection, so {@code --seed S --only NAME} reproduces
 * it); {@code --repeat N} runs the selection N times, each time on fresh inputs (a result that
 * moves between repeats on a deterministic kernel is a race); {@code --list} prints the rows.
 */
@Command(name = "gpu-check", mixinStandardHelpOptions = true,
        description = {"Check every CUDA kernel against the CPU reference on fresh random inputs and print a table.",
                "Exit status: 0 all pass, 1 a check failed, 2 no usable GPU (the reason is printed), 3 --only selects nothing."})
public final class GpuCheckCommand implements Callable<Integer> {

    /** Exit status when no GPU can be used. */
    public static final int EXIT_NO_GPU = 2;

    /** Exit status when --only selects no row (or is not a valid regex). */
    public static final int EXIT_NOTHING_SELECTED = 3;

    @Option(names = "--seed", description = "Seed of the random inputs (default: a fresh one, printed).")
    Long seed;

    @Option(names = "--device-index", defaultValue = "0", description = "CUDA device (default: ${DEFAULT-VALUE}).")
    int deviceIndex;

    @Option(names = "--tf32", description = "Use TF32 for cuBLAS products (tolerances stay those of fp32, so expect FAILs on large products).")
    boolean tf32;

    @Option(names = "--threads", defaultValue = "0", description = "CPU reference threads (0 = all cores).")
    int threads;

    @Option(names = "--cpu-vs-cpu", description = "Compare a 1-thread CPU context with the reference instead of CUDA: checks the checker on a machine without a GPU.")
    boolean cpuVsCpu;

    @Option(names = "--only", paramLabel = "REGEX", description = "Run only the rows whose \"op shape\" contains a match (Java regex, e.g. 'attention|logprob').")
    String only;

    @Option(names = "--repeat", defaultValue = "1", paramLabel = "N", description = "Run the selection N times, fresh inputs each time (default: ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--list", description = "Print the rows (op and shape) that would run, and exit.")
    boolean list;

    @Option(names = "--logprob-chunk-mib", paramLabel = "MIB", description = "Log-prob chunk buffer in MiB (sets -Dpref4j.cuda.logprobChunkMiB; 0 = the smallest, 64 Ki floats: many vocabulary chunks and row groups).")
    Long logprobChunkMib;

    @Spec
    CommandSpec spec;

    /** Standalone entry (before or without registration in Main): java -cp pref4j-all.jar io.pref4j.cli.GpuCheckCommand. */
    public static void main(String[] args) {
        System.exit(new picocli.CommandLine(new GpuCheckCommand()).execute(args));
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Pattern sel;
        try {
            sel = only == null || only.isEmpty() ? null : Pattern.compile(only);
        } catch (PatternSyntaxException e) {
            out.println("gpu-check: --only: " + e.getDescription() + " in " + only);
            out.flush();
            return EXIT_NOTHING_SELECTED;
        }
        List<KernelChecks.Check> chosen = KernelChecks.select(sel);
        if (chosen.isEmpty()) {
            out.println("gpu-check: --only '" + only + "' selects none of the " + KernelChecks.all().size() + " rows (see --list)");
            out.flush();
            return EXIT_NOTHING_SELECTED;
        }
        if (list) {
            for (KernelChecks.Check ch : chosen) out.println(KernelChecks.name(ch));
            out.flush();
            return 0;
        }
        if (repeat < 1) repeat = 1;
        if (logprobChunkMib != null) System.setProperty("pref4j.cuda.logprobChunkMiB", Long.toString(Math.max(0, logprobChunkMib)));
        long s = seed != null ? seed : System.nanoTime() ^ 0x5DEECE66DL;
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        Kernels dev;
        if (cpuVsCpu) {
            dev = new CpuKernels(1);
        } else {
            CudaAvailability.Probe p = CudaAvailability.probe();
            if (!p.available()) {
                out.println("gpu-check: no usable GPU: " + p.reason());
                out.flush();
                return EXIT_NO_GPU;
            }
            try {
                dev = new CudaKernels(deviceIndex, tf32);
            } catch (CudaException e) {
                out.println("gpu-check: no usable GPU: " + e.getMessage());
                out.flush();
                return EXIT_NO_GPU;
            }
        }
        try (Kernels test = dev; Kernels ref = new CpuKernels(n)) {
            out.println("gpu-check: " + test.name() + " against " + ref.name() + ", seed " + s
                    + (sel != null ? ", only '" + only + "' (" + chosen.size() + " rows)" : "")
                    + (repeat > 1 ? ", " + repeat + " repeats" : "")
                    + (logprobChunkMib != null ? ", log-prob chunk buffer " + logprobChunkMib + " MiB" : ""));
            out.flush();
            long failed = 0, total = 0;
            List<Long> failedSeeds = new ArrayList<>();
            for (int rep = 0; rep < repeat; rep++) {
                long rs = rep == 0 ? s : CounterRng.rowSeed(s, -1L - rep); // repeat 0 is --seed itself
                if (repeat > 1) out.println("-- repeat " + (rep + 1) + " of " + repeat + ", seed " + rs);
                long t0 = System.nanoTime();
                List<KernelChecks.Result> results = KernelChecks.runAll(ref, test, rs, sel);
                out.print(KernelChecks.table(results));
                long f = results.stream().filter(r -> !r.pass()).count();
                if (f > 0) failedSeeds.add(rs);
                failed += f;
                total += results.size();
                if (repeat > 1) out.printf(Locale.ROOT, "-- repeat %d: %d of %d FAIL, %.1f s%n", rep + 1, f, results.size(), (System.nanoTime() - t0) / 1e9);
                out.flush();
            }
            out.println(failed == 0
                    ? "gpu-check: all " + total + " checks pass"
                    : "gpu-check: " + failed + " of " + total + " checks FAIL (reproduce with --seed "
                            + failedSeeds.get(0) + (sel != null ? " --only '" + only + "'" : "") + ")");
            out.flush();
            return failed == 0 ? 0 : 1;
        }
    }
}
