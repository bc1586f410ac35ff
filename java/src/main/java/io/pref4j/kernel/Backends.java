package io.pref4j.kernel;

import io.pref4j.UserInputException;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.kernel.cuda.CudaAvailability;
import io.pref4j.kernel.cuda.CudaException;
import io.pref4j.kernel.cuda.CudaKernels;

import java.util.function.Consumer;

/**
 * Chooses the backend once per run: {@code cpu}, {@code cuda}, or {@code auto} (CUDA when
 * a device and the libraries load, else the CPU, with one log line saying why).
 */
public final class Backends {
    private Backends() {}

    /**
     * Opens the backend named by {@code device}. threads ≤ 0 means all processors (CPU
     * backend). The choice (and for auto, the reason) goes to log. {@code cuda} without a
     * usable GPU fails with one line saying why (no driver, no device, a library not found
     * with the paths tried).
     */
    public static Kernels open(String device, int threads, Consumer<String> log) {
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        String d = device == null ? "auto" : device.trim().toLowerCase(java.util.Locale.ROOT);
        switch (d) {
            case "cpu" -> {
                Kernels k = new CpuKernels(n);
                log.accept("device: " + k.name());
                return k;
            }
            case "cuda" -> {
                CudaAvailability.Probe p = CudaAvailability.probe();
                if (!p.available()) throw new UserInputException("--device cuda: " + p.reason());
                try {
                    Kernels k = new CudaKernels();
                    log.accept("device: " + k.name());
                    return k;
                } catch (CudaException e) {
                    throw new UserInputException("--device cuda: " + e.getMessage(), e);
                }
            }
            case "auto" -> {
                CudaAvailability.Probe p = CudaAvailability.probe();
                String why = p.reason();
                if (p.available()) {
                    try {
                        Kernels k = new CudaKernels();
                        log.accept("device auto: " + k.name());
                        return k;
                    } catch (CudaException e) {
                        why = e.getMessage();
                    }
                }
                Kernels k = new CpuKernels(n);
                log.accept(autoCpuLine(why, k.name()));
                return k;
            }
            default -> throw new UserInputException("--device must be one of cpu, cuda, auto; got '" + device + "'");
        }
    }

    /** "device auto: cpu (WHY); cpu (N threads)". */
    static String autoCpuLine(String why, String cpuName) {
        return "device auto: cpu (" + why + "); " + cpuName;
    }
}
