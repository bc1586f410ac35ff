package io.pref4j.kernel.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.util.Locale;

/**
 * Whether the CUDA backend can run here, and if not, why, in one line. The checks run in
 * the order a user would fix them: platform, driver ({@code libcuda.so.1}), a device (through
 * the kernel library's runtime, or libcudart when the library is missing), pref4j's kernel
 * library, cuBLAS. Nothing here throws.
 */
public final class CudaAvailability {
    private CudaAvailability() {}

    public static final String DRIVER_SONAME = "libcuda.so.1";

    /**
     * The outcome: available, or the reason it is not. description names the device when
     * available (e.g. "cuda:0 NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB").
     */
    public record Probe(boolean available, String reason, String description) {
        static Probe no(String reason) {
            return new Probe(false, reason, null);
        }
    }

    private static volatile Probe cached;

    /** The probe for device 0 (computed once per process). */
    public static Probe probe() {
        Probe p = cached;
        if (p == null) {
            p = compute();
            cached = p;
        }
        return p;
    }

    private static Probe compute() {
        try {
            String platform = NativeLibs.platform();
            if (platform == null) {
                return Probe.no("no CUDA backend for " + System.getProperty("os.name") + "/" + System.getProperty("os.arch")
                        + " (Linux x86_64 and aarch64 only)");
            }
            String driverError = driverError();
            if (driverError != null) return Probe.no(driverError);
            if (!CudaRuntime.loaded() && !Pref4jNative.loaded()) {
                return Probe.no(Pref4jNative.loadError() + "; and " + CudaRuntime.loadError());
            }
            if (CudaRuntime.loaded()) { // through the kernel library, else libcudart: a device before the library
                int[] dc = CudaRuntime.probeDeviceCount();
                String deviceError = deviceError(dc[0], dc[1], CudaRuntime.errorName(dc[0]), statusText(dc[0]),
                        CudaRuntime.driverVersion());
                if (deviceError != null) return Probe.no(deviceError);
            }
            if (!Pref4jNative.loaded()) return Probe.no(Pref4jNative.loadError());
            if (!Cublas.loaded()) return Probe.no(Cublas.loadError());
            return new Probe(true, null, describe(0));
        } catch (RuntimeException | LinkageError e) {
            return Probe.no("CUDA detection failed: " + e);
        }
    }

    private static String statusText(int status) {
        String s = Pref4jNative.loaded() ? Pref4jNative.statusString(status) : null;
        return s != null ? s : CudaRuntime.errorString(status);
    }

    /** Null when the driver library loads, else the reason. */
    static String driverError() {
        try {
            SymbolLookup.libraryLookup(DRIVER_SONAME, Arena.global());
            return null;
        } catch (IllegalArgumentException e) {
            return "no CUDA driver: " + DRIVER_SONAME + " not found";
        }
    }

    /**
     * The reason no device is usable given cudaGetDeviceCount's status and count, or null
     * when there is one. Pure (for tests).
     */
    static String deviceError(int status, int count, String name, String description, int driverVersion) {
        if (status == CudaRuntime.ERROR_INSUFFICIENT_DRIVER) {
            String v = driverVersion > 0 ? " (driver supports CUDA " + version(driverVersion) + ")" : "";
            return "the CUDA driver is too old for CUDA 13" + v + ": cudaGetDeviceCount returned "
                    + (name != null ? name : "status " + status) + "; update the NVIDIA driver";
        }
        if (status == CudaRuntime.ERROR_NO_DEVICE || (status == CudaRuntime.SUCCESS && count <= 0)) {
            return "no CUDA device (cudaGetDeviceCount found none)";
        }
        if (status != CudaRuntime.SUCCESS) {
            return "no usable CUDA device: " + CudaException.statusMessage("cudaGetDeviceCount", status, name, description);
        }
        return null;
    }

    /** 12040 → "12.4". */
    static String version(int v) {
        return (v / 1000) + "." + ((v % 1000) / 10);
    }

    /** "cuda:0 NAME, sm_XY, N GiB" for a device. */
    static String describe(int device) {
        String name = CudaRuntime.deviceName(device);
        int cc = CudaRuntime.computeCapability(device);
        CudaRuntime.setDevice(device);
        long[] mem = CudaRuntime.memInfo();
        return String.format(Locale.ROOT, "cuda:%d %s, sm_%d, %.1f GiB", device, name, cc,
                mem[1] / (1024.0 * 1024 * 1024));
    }
}
