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

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code pref4j gpu-check}: every CUDA kernel against the CPU reference on fresh random
 * inputs (the comparisons of {@link KernelChecks}, the same the JUnit GPU suite runs), from
 * the jar alone. Prints a table (op, shape, max rel error, tolerance, PASS/FAIL).
 * Exit status: 0 all pass, 1 a check failed, 2 no usable GPU here (the reason is printed).
 */
@Command(name = "gpu-check", mixinStandardHelpOptions = true,
        description = {"Check every CUDA kernel against the CPU reference on fresh random inputs and print a table.",
                "Exit status: 0 all pass, 1 a check failed, 2 no usable GPU (the reason is printed)."})
public final class GpuCheckCommand implements Callable<Integer> {

    /** Exit status when no GPU can be used. */
    public static final int EXIT_NO_GPU = 2;

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

    @Spec
    CommandSpec spec;

    /** Standalone entry (before or without registration in Main): java -cp pref4j-all.jar io.pref4j.cli.GpuCheckCommand. */
    public static void main(String[] args) {
        System.exit(new picocli.CommandLine(new GpuCheckCommand()).execute(args));
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
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
            out.println("gpu-check: " + test.name() + " against " + ref.name() + ", seed " + s);
            out.flush();
            List<KernelChecks.Result> results = KernelChecks.runAll(ref, test, s);
            out.print(KernelChecks.table(results));
            long failed = results.stream().filter(r -> !r.pass()).count();
            out.println(failed == 0
                    ? "gpu-check: all " + results.size() + " checks pass"
                    : "gpu-check: " + failed + " of " + results.size() + " checks FAIL (reproduce with --seed " + s + ")");
            out.flush();
            return failed == 0 ? 0 : 1;
        }
    }
}
