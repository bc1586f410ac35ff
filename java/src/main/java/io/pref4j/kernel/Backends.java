package io.pref4j.kernel;

import io.pref4j.UserInputException;
import io.pref4j.kernel.cpu.CpuKernels;

import java.util.function.Consumer;

/**
 * Chooses the backend once per run: {@code cpu}, {@code cuda}, or {@code auto} (CUDA when
 * a device and the library load, else the CPU, with one log line saying why).
 */
public final class Backends {
    private Backends() {}

    /**
     * Opens the backend named by {@code device}. threads ≤ 0 means all processors. The
     * choice (and for auto, the reason) goes to log.
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
            case "cuda" -> throw new UserInputException("--device cuda: this build has no CUDA backend yet; use --device cpu or auto");
            case "auto" -> {
                Kernels k = new CpuKernels(n);
                log.accept("device: " + k.name() + " (auto: this build has no CUDA backend yet)");
                return k;
            }
            default -> throw new UserInputException("--device must be one of cpu, cuda, auto; got '" + device + "'");
        }
    }
}
