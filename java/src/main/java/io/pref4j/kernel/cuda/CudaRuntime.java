package io.pref4j.kernel.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The CUDA runtime calls pref4j needs (device count and info, memory, copies, streams), with
 * every status checked.
 *
 * <h2>Which runtime</h2>
 * pref4j's kernel library links the CUDA runtime statically and exports thin wrappers over
 * it ({@code p4j_malloc}, {@code p4j_memcpy_async}, ...; see pref4j.h). When that library is
 * loaded, every call here goes through those wrappers: one runtime instance then owns the
 * allocations, the stream and the kernel launches, and the host needs no
 * {@code libcudart.so} at all (only the driver, and cuBLAS, which shares the device's
 * primary context). Only when the kernel library is absent are these bindings made to the
 * shared {@code libcudart.so.13} ({@code -Dpref4j.cuda.cudart} / {@code PREF4J_CUDART}, a file
 * or folder; {@code CUDA_HOME}; {@code /usr/local/cuda}; the system path), so that detection
 * can still tell "no device" from "no kernel library", and status codes still get names.
 *
 * <p>Pointers (device, host, streams) are passed as {@link MemorySegment}s whose address is
 * the pointer; sizes as {@code long} (size_t).
 */
public final class CudaRuntime {
    private CudaRuntime() {}

    public static final String SONAME = "libcudart.so.13";

    // cudaError_t values used by name
    static final int SUCCESS = 0;
    static final int ERROR_MEMORY_ALLOCATION = 2;
    static final int ERROR_INSUFFICIENT_DRIVER = 35;
    static final int ERROR_NO_DEVICE = 100;

    // cudaMemcpyKind
    static final int HOST_TO_DEVICE = 1, DEVICE_TO_HOST = 2, DEVICE_TO_DEVICE = 3;
    // cudaDeviceAttr
    static final int ATTR_MULTIPROCESSOR_COUNT = 16, ATTR_CC_MAJOR = 75, ATTR_CC_MINOR = 76;
    static final int STREAM_NON_BLOCKING = 1;

    /** Every runtime symbol bound below: the kernel library's runtime is used only when it exports all. */
    private static final List<String> REQUIRED = List.of("cudaGetDeviceCount", "cudaSetDevice",
            "cudaDeviceGetAttribute", "cudaGetDeviceProperties", "cudaMemGetInfo", "cudaMalloc", "cudaFree",
            "cudaMemcpyAsync", "cudaMemsetAsync", "cudaStreamCreateWithFlags", "cudaStreamSynchronize",
            "cudaStreamDestroy", "cudaGetLastError", "cudaGetErrorName", "cudaGetErrorString",
            "cudaRuntimeGetVersion", "cudaDriverGetVersion");

    private static final NativeLibs.Result LIB = chooseLibrary();
    private static final NativeLibs.Binder B = new NativeLibs.Binder(LIB.ok() ? LIB.loaded().lookup() : null);

    private static final MethodHandle cudaGetDeviceCount = B.bind("cudaGetDeviceCount", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle cudaSetDevice = B.bind("cudaSetDevice", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle cudaDeviceGetAttribute = B.bind("cudaDeviceGetAttribute", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle cudaGetDeviceProperties = B.bind("cudaGetDeviceProperties", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle cudaMemGetInfo = B.bind("cudaMemGetInfo", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle cudaMalloc = B.bind("cudaMalloc", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle cudaFree = B.bind("cudaFree", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle cudaMemcpyAsync = B.bind("cudaMemcpyAsync", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS));
    private static final MethodHandle cudaMemsetAsync = B.bind("cudaMemsetAsync", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle cudaStreamCreateWithFlags = B.bind("cudaStreamCreateWithFlags", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle cudaStreamSynchronize = B.bind("cudaStreamSynchronize", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle cudaStreamDestroy = B.bind("cudaStreamDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle cudaGetLastError = B.bind("cudaGetLastError", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle cudaGetErrorName = B.bind("cudaGetErrorName", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle cudaGetErrorString = B.bind("cudaGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle cudaRuntimeGetVersion = B.bind("cudaRuntimeGetVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle cudaDriverGetVersion = B.bind("cudaDriverGetVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS));

    /**
     * libcudart.so.13 when the kernel library (whose runtime wrappers are preferred) is not
     * usable; otherwise nothing is loaded. A kernel library that exports the runtime's own
     * symbols is used for them directly.
     */
    private static NativeLibs.Result chooseLibrary() {
        if (Pref4jNative.loaded()) return new NativeLibs.Result(null, null);
        NativeLibs.Loaded kernels = Pref4jNative.loadedLibrary();
        if (kernels != null && REQUIRED.stream().allMatch(n -> kernels.lookup().find(n).isPresent())) {
            return new NativeLibs.Result(new NativeLibs.Loaded(kernels.lookup(), kernels.path() + " (static CUDA runtime)"), null);
        }
        return NativeLibs.open("the CUDA runtime (" + SONAME + ")",
                NativeLibs.candidates(NativeLibs.setting("pref4j.cuda.cudart", "PREF4J_CUDART"), SONAME));
    }

    /** True when calls go through the kernel library's p4j_* runtime wrappers. */
    static boolean viaKernels() {
        return Pref4jNative.loaded();
    }

    // ---------------------------------------------------------------- loading

    /** True when the runtime library loaded and every symbol bound. */
    public static boolean loaded() {
        return viaKernels() || (LIB.ok() && B.missing().isEmpty());
    }

    /** Why the runtime is unusable, or null when it is usable. */
    public static String loadError() {
        if (viaKernels()) return null;
        if (!LIB.ok()) return LIB.error();
        List<String> missing = B.missing();
        return missing.isEmpty() ? null : LIB.loaded().path() + " lacks " + String.join(", ", missing);
    }

    /** Where the runtime's symbols come from. */
    public static String source() {
        if (viaKernels()) return Pref4jNative.source() + " (its static CUDA runtime, through the p4j_* wrappers)";
        return LIB.ok() ? LIB.loaded().path() : null;
    }

    private static void require(MethodHandle h, String call) {
        if (h == null) {
            String why = loadError();
            throw new CudaException(call, CudaException.NOT_LOADED, call + ": the CUDA runtime is not available: "
                    + (why != null ? why : "symbol not found"));
        }
    }

    // ---------------------------------------------------------------- status

    /** Names of common cudaError_t values, used when the runtime cannot describe a status itself. */
    static final Map<Integer, String> KNOWN_ERRORS = Map.ofEntries(
            Map.entry(0, "cudaSuccess"), Map.entry(1, "cudaErrorInvalidValue"),
            Map.entry(2, "cudaErrorMemoryAllocation"), Map.entry(3, "cudaErrorInitializationError"),
            Map.entry(4, "cudaErrorCudartUnloading"), Map.entry(35, "cudaErrorInsufficientDriver"),
            Map.entry(98, "cudaErrorInvalidDeviceFunction"), Map.entry(100, "cudaErrorNoDevice"),
            Map.entry(101, "cudaErrorInvalidDevice"), Map.entry(209, "cudaErrorNoKernelImageForDevice"),
            Map.entry(400, "cudaErrorInvalidResourceHandle"), Map.entry(700, "cudaErrorIllegalAddress"),
            Map.entry(701, "cudaErrorLaunchOutOfResources"), Map.entry(702, "cudaErrorLaunchTimeout"),
            Map.entry(719, "cudaErrorLaunchFailure"), Map.entry(999, "cudaErrorUnknown"));

    /** cudaGetErrorName(status), or the built-in table, or null. */
    public static String errorName(int status) {
        String s = callString(cudaGetErrorName, status);
        return s != null ? s : KNOWN_ERRORS.get(status);
    }

    /** cudaGetErrorString(status), or null when the runtime is not loaded. */
    public static String errorString(int status) {
        if (cudaGetErrorString == null && Pref4jNative.loadedLibrary() != null) return Pref4jNative.statusString(status);
        return callString(cudaGetErrorString, status);
    }

    private static String callString(MethodHandle h, int status) {
        if (h == null) return null;
        try {
            MemorySegment p = (MemorySegment) h.invokeExact(status);
            if (p.equals(MemorySegment.NULL)) return null;
            return p.reinterpret(4096).getString(0, StandardCharsets.UTF_8);
        } catch (Throwable t) {
            return null;
        }
    }

    /** Throws the one exception type when status is not cudaSuccess. */
    static void check(String call, int status) {
        if (status != SUCCESS) {
            throw new CudaException(call, status, CudaException.statusMessage(call, status, errorName(status), errorString(status)));
        }
    }

    private static CudaException failed(String call, Throwable t) {
        if (t instanceof CudaException c) return c;
        if (t instanceof RuntimeException r && !(r instanceof IllegalStateException)) {
            return new CudaException(call, call + " could not be called: " + r, r);
        }
        return new CudaException(call, call + " could not be called: " + t, t);
    }

    // ---------------------------------------------------------------- device

    /** cudaGetDeviceCount. */
    public static int deviceCount() {
        if (viaKernels()) {
            int[] r = probeDeviceCount();
            check("p4j_device_count", r[0]);
            return r[1];
        }
        require(cudaGetDeviceCount, "cudaGetDeviceCount");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_INT);
            int st = (int) cudaGetDeviceCount.invokeExact(out);
            check("cudaGetDeviceCount", st);
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw failed("cudaGetDeviceCount", t);
        }
    }

    /**
     * cudaGetDeviceCount's status without throwing (for detection): {status, count}.
     */
    static int[] probeDeviceCount() {
        if (viaKernels()) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(JAVA_INT);
                int st = Pref4jNative.deviceCountStatus(out);
                return new int[] {st, st == SUCCESS ? out.get(JAVA_INT, 0) : 0};
            }
        }
        if (cudaGetDeviceCount == null) return new int[] {CudaException.NOT_LOADED, 0};
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_INT);
            int st = (int) cudaGetDeviceCount.invokeExact(out);
            return new int[] {st, st == SUCCESS ? out.get(JAVA_INT, 0) : 0};
        } catch (Throwable t) {
            return new int[] {CudaException.NOT_LOADED, 0};
        }
    }

    public static void setDevice(int device) {
        if (viaKernels()) {
            Pref4jNative.setDevice(device);
            return;
        }
        require(cudaSetDevice, "cudaSetDevice");
        try {
            int st = (int) cudaSetDevice.invokeExact(device);
            check("cudaSetDevice(" + device + ")", st);
        } catch (Throwable t) {
            throw failed("cudaSetDevice", t);
        }
    }

    /** The compute capability as major*10 + minor (e.g. 90). */
    public static int computeCapability(int device) {
        if (viaKernels()) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment name = a.allocate(256), cc = a.allocate(JAVA_INT);
                Pref4jNative.deviceInfo(device, name, 256, cc);
                return cc.get(JAVA_INT, 0);
            }
        }
        return attribute(ATTR_CC_MAJOR, device) * 10 + attribute(ATTR_CC_MINOR, device);
    }

    /** cudaDeviceGetAttribute(attr, device) (libcudart only). */
    static int attribute(int attr, int device) {
        require(cudaDeviceGetAttribute, "cudaDeviceGetAttribute");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_INT);
            int st = (int) cudaDeviceGetAttribute.invokeExact(out, attr, device);
            check("cudaDeviceGetAttribute(" + attr + ")", st);
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw failed("cudaDeviceGetAttribute", t);
        }
    }

    /**
     * The device's name. cudaDeviceProp starts with {@code char name[256]} in every CUDA
     * version; the struct is written into a buffer far larger than any version's size.
     */
    public static String deviceName(int device) {
        if (viaKernels()) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment name = a.allocate(256);
                Pref4jNative.deviceInfo(device, name, 256, MemorySegment.NULL);
                return name.getString(0, StandardCharsets.UTF_8);
            }
        }
        require(cudaGetDeviceProperties, "cudaGetDeviceProperties");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment prop = a.allocate(16384, 16);
            int st = (int) cudaGetDeviceProperties.invokeExact(prop, device);
            check("cudaGetDeviceProperties", st);
            byte[] name = prop.asSlice(0, 256).toArray(ValueLayout.JAVA_BYTE);
            int n = 0;
            while (n < name.length && name[n] != 0) n++;
            return new String(name, 0, n, StandardCharsets.UTF_8);
        } catch (Throwable t) {
            throw failed("cudaGetDeviceProperties", t);
        }
    }

    /** {free, total} bytes of device memory (cudaMemGetInfo). */
    public static long[] memInfo() {
        if (viaKernels()) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment free = a.allocate(JAVA_LONG), total = a.allocate(JAVA_LONG);
                Pref4jNative.memGetInfo(free, total);
                return new long[] {free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0)};
            }
        }
        require(cudaMemGetInfo, "cudaMemGetInfo");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment free = a.allocate(JAVA_LONG), total = a.allocate(JAVA_LONG);
            int st = (int) cudaMemGetInfo.invokeExact(free, total);
            check("cudaMemGetInfo", st);
            return new long[] {free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0)};
        } catch (Throwable t) {
            throw failed("cudaMemGetInfo", t);
        }
    }

    /** cudaRuntimeGetVersion, e.g. 13000; -1 when unknown. */
    public static int runtimeVersion() {
        return version(cudaRuntimeGetVersion);
    }

    /** cudaDriverGetVersion, e.g. 13000 (0 = no driver); -1 when unknown. */
    public static int driverVersion() {
        return version(cudaDriverGetVersion);
    }

    private static int version(MethodHandle h) {
        if (h == null) return -1;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_INT);
            int st = (int) h.invokeExact(out);
            return st == SUCCESS ? out.get(JAVA_INT, 0) : -1;
        } catch (Throwable t) {
            return -1;
        }
    }

    // ---------------------------------------------------------------- memory

    /**
     * cudaMalloc(bytes): the device address. Out of memory becomes a CudaException saying
     * how much was asked, how much is free and what to reduce.
     */
    public static long malloc(long bytes) {
        int st;
        long ptr;
        String call = viaKernels() ? "p4j_malloc" : "cudaMalloc";
        if (!viaKernels()) require(cudaMalloc, "cudaMalloc");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            st = viaKernels() ? Pref4jNative.mallocStatus(out, bytes) : (int) cudaMalloc.invokeExact(out, bytes);
            ptr = out.get(ADDRESS, 0).address();
        } catch (Throwable t) {
            throw failed(call, t);
        }
        if (st == ERROR_MEMORY_ALLOCATION) {
            lastError(); // clear the (non-sticky) error
            long free = -1, total = -1;
            try {
                long[] info = memInfo();
                free = info[0];
                total = info[1];
            } catch (CudaException ignored) {
                // keep unknown
            }
            throw CudaException.outOfMemory(call, st, bytes, free, total);
        }
        check(call + "(" + bytes + " bytes)", st);
        return ptr;
    }

    public static void free(long ptr) {
        if (viaKernels()) {
            Pref4jNative.free(ptr(ptr));
            return;
        }
        require(cudaFree, "cudaFree");
        try {
            int st = (int) cudaFree.invokeExact(MemorySegment.ofAddress(ptr));
            check("cudaFree", st);
        } catch (Throwable t) {
            throw failed("cudaFree", t);
        }
    }

    /** cudaMemcpyAsync(dst, src, bytes, kind, stream). */
    public static void memcpyAsync(MemorySegment dst, MemorySegment src, long bytes, int kind, MemorySegment stream) {
        if (viaKernels()) { // cudaMemcpyDefault: the direction follows from the addresses
            Pref4jNative.memcpyAsync(dst, src, bytes, stream);
            return;
        }
        require(cudaMemcpyAsync, "cudaMemcpyAsync");
        try {
            int st = (int) cudaMemcpyAsync.invokeExact(dst, src, bytes, kind, stream);
            check("cudaMemcpyAsync(" + bytes + " bytes, kind " + kind + ")", st);
        } catch (Throwable t) {
            throw failed("cudaMemcpyAsync", t);
        }
    }

    /** cudaMemsetAsync(ptr, value, bytes, stream). */
    public static void memsetAsync(MemorySegment ptr, int value, long bytes, MemorySegment stream) {
        if (viaKernels()) {
            Pref4jNative.memsetAsync(ptr, value, bytes, stream);
            return;
        }
        require(cudaMemsetAsync, "cudaMemsetAsync");
        try {
            int st = (int) cudaMemsetAsync.invokeExact(ptr, value, bytes, stream);
            check("cudaMemsetAsync(" + bytes + " bytes)", st);
        } catch (Throwable t) {
            throw failed("cudaMemsetAsync", t);
        }
    }

    // ---------------------------------------------------------------- streams

    /** A new stream that does not synchronise with the legacy default stream. */
    public static MemorySegment streamCreate() {
        if (viaKernels()) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(ADDRESS);
                Pref4jNative.streamCreate(out);
                return out.get(ADDRESS, 0);
            }
        }
        require(cudaStreamCreateWithFlags, "cudaStreamCreateWithFlags");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            int st = (int) cudaStreamCreateWithFlags.invokeExact(out, STREAM_NON_BLOCKING);
            check("cudaStreamCreateWithFlags", st);
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw failed("cudaStreamCreateWithFlags", t);
        }
    }

    public static void streamSynchronize(MemorySegment stream) {
        if (viaKernels()) {
            Pref4jNative.streamSynchronize(stream);
            return;
        }
        require(cudaStreamSynchronize, "cudaStreamSynchronize");
        try {
            int st = (int) cudaStreamSynchronize.invokeExact(stream);
            check("cudaStreamSynchronize", st);
        } catch (Throwable t) {
            throw failed("cudaStreamSynchronize", t);
        }
    }

    public static void streamDestroy(MemorySegment stream) {
        if (viaKernels()) {
            Pref4jNative.streamDestroy(stream);
            return;
        }
        require(cudaStreamDestroy, "cudaStreamDestroy");
        try {
            int st = (int) cudaStreamDestroy.invokeExact(stream);
            check("cudaStreamDestroy", st);
        } catch (Throwable t) {
            throw failed("cudaStreamDestroy", t);
        }
    }

    /** cudaGetLastError (returns and clears the last launch error). */
    public static int lastError() {
        if (viaKernels()) return Pref4jNative.getLastError();
        if (cudaGetLastError == null) return CudaException.NOT_LOADED;
        try {
            return (int) cudaGetLastError.invokeExact();
        } catch (Throwable t) {
            throw failed("cudaGetLastError", t);
        }
    }

    /** A segment for a raw address (pointer arguments), NULL for 0. */
    static MemorySegment ptr(long address) {
        return address == 0 ? MemorySegment.NULL : MemorySegment.ofAddress(address);
    }

    /** The lookup in use (for tests that check where the runtime came from). */
    static SymbolLookup lookup() {
        return LIB.ok() ? LIB.loaded().lookup() : null;
    }
}
