package io.pref4j.kernel.cuda;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Bindings to every function of pref4j's kernel library {@code libpref4j_cuda.so}, declared in
 * {@code native/include/pref4j.h} (the header's comments are the contract; each method here
 * is {@code p4j_<name>} with the stream last). Every status is checked: a non-zero one
 * becomes a {@link CudaException} naming the kernel, the status and
 * {@code p4j_status_string}'s description.
 *
 * <p>The library is taken from {@code -Dpref4j.cuda.lib} / {@code PREF4J_CUDA_LIB} (the file, or
 * a folder holding it) when given, else extracted from the jar resource
 * {@code native/<platform>/libpref4j_cuda.so} (platform e.g. {@code linux-x86_64}) to a
 * temporary file. Its ABI version ({@code p4j_abi_version}) must be {@link #ABI_VERSION}.
 */
public final class Pref4jNative {
    private Pref4jNative() {}

    public static final String LIBRARY = "libpref4j_cuda.so";
    /** The header's P4J_ABI_VERSION these bindings were written for. */
    public static final int ABI_VERSION = 1;
    /** P4J_LOGPROB_STATS_FLOATS: floats of logprob stats per row. */
    static final int LOGPROB_STATS_FLOATS = 8;
    /** P4J_SUM_SQUARES_OUT_DOUBLES: doubles p4j_sum_squares's out buffer holds. */
    static final int SUM_SQUARES_OUT_DOUBLES = 1024;
    /** P4J_NORM_PARTIALS: row chunks of the two-pass dweight reductions (scratch = this × columns floats). */
    static final int NORM_PARTIALS = 128;

    // P4J_E_* statuses
    static final int E_INVALID_ARGUMENT = -1, E_OUT_OF_RANGE = -2, E_GROUP_TOO_SMALL = -3, E_UNSUPPORTED = -4;
    static final Map<Integer, String> ERROR_NAMES = Map.of(
            E_INVALID_ARGUMENT, "P4J_E_INVALID_ARGUMENT", E_OUT_OF_RANGE, "P4J_E_OUT_OF_RANGE",
            E_GROUP_TOO_SMALL, "P4J_E_GROUP_TOO_SMALL", E_UNSUPPORTED, "P4J_E_UNSUPPORTED");

    private static final NativeLibs.Result LIB = load();
    private static final NativeLibs.Binder B = new NativeLibs.Binder(LIB.ok() ? LIB.loaded().lookup() : null);

    private static final MethodHandle P4J_STATUS_STRING = B.bind("p4j_status_string", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle P4J_VERSION = B.bind("p4j_version", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle P4J_ABI_VERSION = B.bind("p4j_abi_version", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle P4J_CHECK_INTS = B.bind("p4j_check_ints", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_DEVICE_COUNT = B.bind("p4j_device_count", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_SET_DEVICE = B.bind("p4j_set_device", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle P4J_DEVICE_INFO = B.bind("p4j_device_info", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_MEM_GET_INFO = B.bind("p4j_mem_get_info", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle P4J_MALLOC = B.bind("p4j_malloc", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle P4J_FREE = B.bind("p4j_free", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_MALLOC_HOST = B.bind("p4j_malloc_host", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle P4J_FREE_HOST = B.bind("p4j_free_host", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_MEMCPY_ASYNC = B.bind("p4j_memcpy_async", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    private static final MethodHandle P4J_MEMSET_ASYNC = B.bind("p4j_memset_async", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle P4J_STREAM_CREATE = B.bind("p4j_stream_create", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_STREAM_DESTROY = B.bind("p4j_stream_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_STREAM_SYNCHRONIZE = B.bind("p4j_stream_synchronize", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_DEVICE_SYNCHRONIZE = B.bind("p4j_device_synchronize", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle P4J_FILL = B.bind("p4j_fill", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_FLOAT, ADDRESS));
    private static final MethodHandle P4J_ADD = B.bind("p4j_add", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    private static final MethodHandle P4J_ACCUMULATE = B.bind("p4j_accumulate", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    private static final MethodHandle P4J_SCALE = B.bind("p4j_scale", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_FLOAT, ADDRESS));
    private static final MethodHandle P4J_GELU_FORWARD = B.bind("p4j_gelu_forward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    private static final MethodHandle P4J_GELU_BACKWARD = B.bind("p4j_gelu_backward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    private static final MethodHandle P4J_BIAS_BACKWARD = B.bind("p4j_bias_backward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_ROW_SUM = B.bind("p4j_row_sum", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_ROW_BROADCAST = B.bind("p4j_row_broadcast", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_GATHER_ROWS = B.bind("p4j_gather_rows", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_SCATTER_ADD_ROWS = B.bind("p4j_scatter_add_rows", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_LAYER_NORM_FORWARD = B.bind("p4j_layer_norm_forward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_LAYER_NORM_BACKWARD = B.bind("p4j_layer_norm_backward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_EMBEDDING_FORWARD = B.bind("p4j_embedding_forward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_EMBEDDING_BACKWARD = B.bind("p4j_embedding_backward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_GQA_ATTENTION_FORWARD = B.bind("p4j_gqa_attention_forward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_GQA_ATTENTION_BACKWARD = B.bind("p4j_gqa_attention_backward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_GQA_KV_CACHE_WRITE = B.bind("p4j_gqa_kv_cache_write", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_GQA_ATTENTION_DECODE = B.bind("p4j_gqa_attention_decode", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_ATTENTION_FORWARD = B.bind("p4j_attention_forward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_ATTENTION_BACKWARD = B.bind("p4j_attention_backward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_KV_CACHE_WRITE = B.bind("p4j_kv_cache_write", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_ATTENTION_DECODE = B.bind("p4j_attention_decode", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_RMS_NORM_FORWARD = B.bind("p4j_rms_norm_forward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_FLOAT, ADDRESS));
    private static final MethodHandle P4J_RMS_NORM_BACKWARD = B.bind("p4j_rms_norm_backward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_QK_NORM_FORWARD = B.bind("p4j_qk_norm_forward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, ADDRESS));
    private static final MethodHandle P4J_QK_NORM_BACKWARD = B.bind("p4j_qk_norm_backward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_ROPE_FORWARD = B.bind("p4j_rope_forward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_ROPE_BACKWARD = B.bind("p4j_rope_backward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_SWIGLU_FORWARD = B.bind("p4j_swiglu_forward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_SWIGLU_BACKWARD = B.bind("p4j_swiglu_backward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_LOGPROB_INIT = B.bind("p4j_logprob_init", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_LOGPROB_CHUNK_FORWARD = B.bind("p4j_logprob_chunk_forward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_LOGPROB_FINALIZE = B.bind("p4j_logprob_finalize", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_LOGPROB_CHUNK_BACKWARD = B.bind("p4j_logprob_chunk_backward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_ADAMW = B.bind("p4j_adamw", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_SUM_SQUARES = B.bind("p4j_sum_squares", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    private static final MethodHandle P4J_SAMPLE = B.bind("p4j_sample", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_INT, JAVA_FLOAT, ADDRESS));
    private static final MethodHandle P4J_PAIRWISE_LOSS = B.bind("p4j_pairwise_loss", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, ADDRESS));
    private static final MethodHandle P4J_SFT_LOSS = B.bind("p4j_sft_loss", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_RWR_LOSS = B.bind("p4j_rwr_loss", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_FLOAT, ADDRESS));
    private static final MethodHandle P4J_BEST_OF_N_LOSS = B.bind("p4j_best_of_n_loss", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, ADDRESS));
    private static final MethodHandle P4J_REINFORCE_LOSS = B.bind("p4j_reinforce_loss", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, ADDRESS));
    private static final MethodHandle P4J_PPO_ADVANTAGES = B.bind("p4j_ppo_advantages", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_PPO_LOSS = B.bind("p4j_ppo_loss", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, ADDRESS));
    private static final MethodHandle P4J_GRPO_ADVANTAGES = B.bind("p4j_grpo_advantages", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_GRPO_LOSS = B.bind("p4j_grpo_loss", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, JAVA_INT, ADDRESS));
    private static final MethodHandle P4J_KTO_LOSS = B.bind("p4j_kto_loss", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, ADDRESS));
    private static final MethodHandle P4J_LENGTH_NORM_PAIRWISE_LOSS = B.bind("p4j_length_norm_pairwise_loss", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT, ADDRESS));
    private static final MethodHandle P4J_GET_LAST_ERROR = B.bind("p4j_get_last_error", FunctionDescriptor.of(JAVA_INT));

    /** The user's path, else the jar's bundled copy. */
    private static NativeLibs.Result load() {
        String user = NativeLibs.setting("pref4j.cuda.lib", "PREF4J_CUDA_LIB");
        if (user != null) {
            List<String> c = NativeLibs.looksLikeFile(user) ? List.of(user) : List.of(Path.of(user, LIBRARY).toString());
            NativeLibs.Result r = NativeLibs.open("pref4j's CUDA kernel library (" + LIBRARY + ", from -Dpref4j.cuda.lib / PREF4J_CUDA_LIB)", c);
            return r;
        }
        String platform = NativeLibs.platform();
        if (platform == null) {
            return new NativeLibs.Result(null, "pref4j's CUDA kernel library: no build for "
                    + System.getProperty("os.name") + "/" + System.getProperty("os.arch"));
        }
        String resource = resourcePath(platform);
        try {
            Optional<Path> file = NativeLibs.extractResource(resource);
            if (file.isEmpty()) {
                return new NativeLibs.Result(null, "pref4j's CUDA kernel library not found: the jar has no " + resource
                        + " (it was built without nvcc) and neither -Dpref4j.cuda.lib nor PREF4J_CUDA_LIB is set");
            }
            return NativeLibs.open("pref4j's CUDA kernel library (" + resource + " from the jar)", List.of(file.get().toString()));
        } catch (IOException e) {
            return new NativeLibs.Result(null, "pref4j's CUDA kernel library could not be extracted from the jar (" + resource + "): " + e);
        }
    }

    /** The jar resource of the library for a platform folder. */
    static String resourcePath(String platform) {
        return "native/" + platform + "/" + LIBRARY;
    }

    /** The library when it loaded (whatever its symbols), else null; used to find the CUDA runtime in it. */
    static NativeLibs.Loaded loadedLibrary() {
        return LIB.ok() ? LIB.loaded() : null;
    }

    /** True when the library loaded, every function bound and the ABI matches. */
    public static boolean loaded() {
        return loadError() == null;
    }

    /** Why the library is unusable (with the paths tried), or null. */
    public static String loadError() {
        if (!LIB.ok()) return LIB.error();
        List<String> missing = B.missing();
        if (!missing.isEmpty()) return LIB.loaded().path() + " lacks " + String.join(", ", missing);
        int abi = abiVersion();
        if (abi != ABI_VERSION) {
            return LIB.loaded().path() + " has ABI version " + abi + "; this pref4j needs " + ABI_VERSION
                    + " (rebuild the library or use the jar it came with)";
        }
        return null;
    }

    public static String source() {
        return LIB.ok() ? LIB.loaded().path() : null;
    }

    public static int abiVersion() {
        if (P4J_ABI_VERSION == null) return -1;
        try {
            return (int) P4J_ABI_VERSION.invokeExact();
        } catch (Throwable t) {
            return -1;
        }
    }

    /** p4j_version: major*10000 + minor*100 + patch, or -1. */
    public static int version() {
        if (P4J_VERSION == null) return -1;
        try {
            return (int) P4J_VERSION.invokeExact();
        } catch (Throwable t) {
            return -1;
        }
    }

    /** p4j_status_string(status), or null when the library is not loaded. */
    static String statusString(int status) {
        if (P4J_STATUS_STRING == null) return null;
        try {
            MemorySegment p = (MemorySegment) P4J_STATUS_STRING.invokeExact(status);
            return p.equals(MemorySegment.NULL) ? null : p.reinterpret(4096).getString(0, StandardCharsets.UTF_8);
        } catch (Throwable t) {
            return null;
        }
    }

    /** The name of a kernel status: P4J_E_* for negative ones, the cudaError_t name for positive ones. */
    static String statusName(int status) {
        if (status < 0) return ERROR_NAMES.get(status);
        return CudaRuntime.errorName(status);
    }

    /** Throws the one exception type for a non-zero kernel status. */
    static void check(String kernel, int status) {
        if (status == 0) return;
        String desc = statusString(status);
        if (desc == null && status > 0) desc = CudaRuntime.errorString(status);
        String msg = CudaException.statusMessage(kernel, status, statusName(status), desc);
        if (status == CudaRuntime.ERROR_MEMORY_ALLOCATION) {
            msg += "; reduce the batch size, the sequence length or the model size";
        }
        throw new CudaException(kernel, status, msg);
    }

    private static CudaException failed(String kernel, Throwable t) {
        if (t instanceof CudaException c) return c;
        String why = loadError();
        if (why != null) return new CudaException(kernel, kernel + ": the kernel library is not available: " + why, t);
        return new CudaException(kernel, kernel + " could not be called: " + t, t);
    }

    // ---------------------------------------------------------------- raw statuses (callers decide what they mean)

    /** p4j_malloc's status without throwing (out-of-memory gets its own message from CudaRuntime). */
    static int mallocStatus(MemorySegment ptrOut, long bytes) {
        try {
            return (int) P4J_MALLOC.invokeExact(ptrOut, bytes);
        } catch (Throwable t) {
            throw failed("p4j_malloc", t);
        }
    }

    /** p4j_device_count's status without throwing (35 = no usable driver, 100 = no device). */
    static int deviceCountStatus(MemorySegment countOut) {
        try {
            return (int) P4J_DEVICE_COUNT.invokeExact(countOut);
        } catch (Throwable t) {
            throw failed("p4j_device_count", t);
        }
    }

    /** p4j_get_last_error: returns and clears the last non-sticky error of this thread. */
    static int getLastError() {
        try {
            return (int) P4J_GET_LAST_ERROR.invokeExact();
        } catch (Throwable t) {
            throw failed("p4j_get_last_error", t);
        }
    }

    // ---------------------------------------------------------------- kernels (generated from pref4j.h, in its order)

    /** p4j_check_ints: see native/include/pref4j.h. */
    static void checkInts(MemorySegment x, long n, int lo, int hi, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_CHECK_INTS.invokeExact(x, n, lo, hi, stream);
        } catch (Throwable t) {
            throw failed("p4j_check_ints", t);
        }
        check("p4j_check_ints", st);
    }

    /** p4j_device_count: see native/include/pref4j.h. */
    static void deviceCount(MemorySegment count) {
        int st;
        try {
            st = (int) P4J_DEVICE_COUNT.invokeExact(count);
        } catch (Throwable t) {
            throw failed("p4j_device_count", t);
        }
        check("p4j_device_count", st);
    }

    /** p4j_set_device: see native/include/pref4j.h. */
    static void setDevice(int device) {
        int st;
        try {
            st = (int) P4J_SET_DEVICE.invokeExact(device);
        } catch (Throwable t) {
            throw failed("p4j_set_device", t);
        }
        check("p4j_set_device", st);
    }

    /** p4j_device_info: see native/include/pref4j.h. */
    static void deviceInfo(int device, MemorySegment buf, int len, MemorySegment cc) {
        int st;
        try {
            st = (int) P4J_DEVICE_INFO.invokeExact(device, buf, len, cc);
        } catch (Throwable t) {
            throw failed("p4j_device_info", t);
        }
        check("p4j_device_info", st);
    }

    /** p4j_mem_get_info: see native/include/pref4j.h. */
    static void memGetInfo(MemorySegment freeBytes, MemorySegment totalBytes) {
        int st;
        try {
            st = (int) P4J_MEM_GET_INFO.invokeExact(freeBytes, totalBytes);
        } catch (Throwable t) {
            throw failed("p4j_mem_get_info", t);
        }
        check("p4j_mem_get_info", st);
    }

    /** p4j_malloc: see native/include/pref4j.h. */
    static void malloc(MemorySegment ptr, long bytes) {
        int st;
        try {
            st = (int) P4J_MALLOC.invokeExact(ptr, bytes);
        } catch (Throwable t) {
            throw failed("p4j_malloc", t);
        }
        check("p4j_malloc", st);
    }

    /** p4j_free: see native/include/pref4j.h. */
    static void free(MemorySegment ptr) {
        int st;
        try {
            st = (int) P4J_FREE.invokeExact(ptr);
        } catch (Throwable t) {
            throw failed("p4j_free", t);
        }
        check("p4j_free", st);
    }

    /** p4j_malloc_host: see native/include/pref4j.h. */
    static void mallocHost(MemorySegment ptr, long bytes) {
        int st;
        try {
            st = (int) P4J_MALLOC_HOST.invokeExact(ptr, bytes);
        } catch (Throwable t) {
            throw failed("p4j_malloc_host", t);
        }
        check("p4j_malloc_host", st);
    }

    /** p4j_free_host: see native/include/pref4j.h. */
    static void freeHost(MemorySegment ptr) {
        int st;
        try {
            st = (int) P4J_FREE_HOST.invokeExact(ptr);
        } catch (Throwable t) {
            throw failed("p4j_free_host", t);
        }
        check("p4j_free_host", st);
    }

    /** p4j_memcpy_async: see native/include/pref4j.h. */
    static void memcpyAsync(MemorySegment dst, MemorySegment src, long bytes, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_MEMCPY_ASYNC.invokeExact(dst, src, bytes, stream);
        } catch (Throwable t) {
            throw failed("p4j_memcpy_async", t);
        }
        check("p4j_memcpy_async", st);
    }

    /** p4j_memset_async: see native/include/pref4j.h. */
    static void memsetAsync(MemorySegment ptr, int value, long bytes, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_MEMSET_ASYNC.invokeExact(ptr, value, bytes, stream);
        } catch (Throwable t) {
            throw failed("p4j_memset_async", t);
        }
        check("p4j_memset_async", st);
    }

    /** p4j_stream_create: see native/include/pref4j.h. */
    static void streamCreate(MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_STREAM_CREATE.invokeExact(stream);
        } catch (Throwable t) {
            throw failed("p4j_stream_create", t);
        }
        check("p4j_stream_create", st);
    }

    /** p4j_stream_destroy: see native/include/pref4j.h. */
    static void streamDestroy(MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_STREAM_DESTROY.invokeExact(stream);
        } catch (Throwable t) {
            throw failed("p4j_stream_destroy", t);
        }
        check("p4j_stream_destroy", st);
    }

    /** p4j_stream_synchronize: see native/include/pref4j.h. */
    static void streamSynchronize(MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_STREAM_SYNCHRONIZE.invokeExact(stream);
        } catch (Throwable t) {
            throw failed("p4j_stream_synchronize", t);
        }
        check("p4j_stream_synchronize", st);
    }

    /** p4j_device_synchronize: see native/include/pref4j.h. */
    static void deviceSynchronize() {
        int st;
        try {
            st = (int) P4J_DEVICE_SYNCHRONIZE.invokeExact();
        } catch (Throwable t) {
            throw failed("p4j_device_synchronize", t);
        }
        check("p4j_device_synchronize", st);
    }

    /** p4j_fill: see native/include/pref4j.h. */
    static void fill(MemorySegment x, long n, float value, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_FILL.invokeExact(x, n, value, stream);
        } catch (Throwable t) {
            throw failed("p4j_fill", t);
        }
        check("p4j_fill", st);
    }

    /** p4j_add: see native/include/pref4j.h. */
    static void add(MemorySegment out, MemorySegment a, MemorySegment b, long n, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_ADD.invokeExact(out, a, b, n, stream);
        } catch (Throwable t) {
            throw failed("p4j_add", t);
        }
        check("p4j_add", st);
    }

    /** p4j_accumulate: see native/include/pref4j.h. */
    static void accumulate(MemorySegment y, MemorySegment x, long n, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_ACCUMULATE.invokeExact(y, x, n, stream);
        } catch (Throwable t) {
            throw failed("p4j_accumulate", t);
        }
        check("p4j_accumulate", st);
    }

    /** p4j_scale: see native/include/pref4j.h. */
    static void scale(MemorySegment x, long n, float s, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_SCALE.invokeExact(x, n, s, stream);
        } catch (Throwable t) {
            throw failed("p4j_scale", t);
        }
        check("p4j_scale", st);
    }

    /** p4j_gelu_forward: see native/include/pref4j.h. */
    static void geluForward(MemorySegment out, MemorySegment inp, long n, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_GELU_FORWARD.invokeExact(out, inp, n, stream);
        } catch (Throwable t) {
            throw failed("p4j_gelu_forward", t);
        }
        check("p4j_gelu_forward", st);
    }

    /** p4j_gelu_backward: see native/include/pref4j.h. */
    static void geluBackward(MemorySegment dinp, MemorySegment inp, MemorySegment dout, long n, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_GELU_BACKWARD.invokeExact(dinp, inp, dout, n, stream);
        } catch (Throwable t) {
            throw failed("p4j_gelu_backward", t);
        }
        check("p4j_gelu_backward", st);
    }

    /** p4j_bias_backward: see native/include/pref4j.h. */
    static void biasBackward(MemorySegment dbias, MemorySegment dout, int M, int N, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_BIAS_BACKWARD.invokeExact(dbias, dout, M, N, stream);
        } catch (Throwable t) {
            throw failed("p4j_bias_backward", t);
        }
        check("p4j_bias_backward", st);
    }

    /** p4j_row_sum: see native/include/pref4j.h. */
    static void rowSum(MemorySegment out, MemorySegment x, int rows, int cols, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_ROW_SUM.invokeExact(out, x, rows, cols, stream);
        } catch (Throwable t) {
            throw failed("p4j_row_sum", t);
        }
        check("p4j_row_sum", st);
    }

    /** p4j_row_broadcast: see native/include/pref4j.h. */
    static void rowBroadcast(MemorySegment out, MemorySegment x, int rows, int cols, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_ROW_BROADCAST.invokeExact(out, x, rows, cols, stream);
        } catch (Throwable t) {
            throw failed("p4j_row_broadcast", t);
        }
        check("p4j_row_broadcast", st);
    }

    /** p4j_gather_rows: see native/include/pref4j.h. */
    static void gatherRows(MemorySegment out, MemorySegment x, MemorySegment rows, int R, int C, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_GATHER_ROWS.invokeExact(out, x, rows, R, C, stream);
        } catch (Throwable t) {
            throw failed("p4j_gather_rows", t);
        }
        check("p4j_gather_rows", st);
    }

    /** p4j_scatter_add_rows: see native/include/pref4j.h. */
    static void scatterAddRows(MemorySegment dx, MemorySegment dout, MemorySegment rows, int R, int C, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_SCATTER_ADD_ROWS.invokeExact(dx, dout, rows, R, C, stream);
        } catch (Throwable t) {
            throw failed("p4j_scatter_add_rows", t);
        }
        check("p4j_scatter_add_rows", st);
    }

    /** p4j_layer_norm_forward: see native/include/pref4j.h. */
    static void layerNormForward(MemorySegment out, MemorySegment mean, MemorySegment rstd, MemorySegment inp, MemorySegment weight, MemorySegment bias, int N, int C, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_LAYER_NORM_FORWARD.invokeExact(out, mean, rstd, inp, weight, bias, N, C, stream);
        } catch (Throwable t) {
            throw failed("p4j_layer_norm_forward", t);
        }
        check("p4j_layer_norm_forward", st);
    }

    /** p4j_layer_norm_backward: see native/include/pref4j.h. */
    static void layerNormBackward(MemorySegment dinp, MemorySegment dweight, MemorySegment dbias, MemorySegment dout, MemorySegment inp, MemorySegment weight, MemorySegment mean, MemorySegment rstd, int N, int C, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_LAYER_NORM_BACKWARD.invokeExact(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C, stream);
        } catch (Throwable t) {
            throw failed("p4j_layer_norm_backward", t);
        }
        check("p4j_layer_norm_backward", st);
    }

    /** p4j_embedding_forward: see native/include/pref4j.h. */
    static void embeddingForward(MemorySegment out, MemorySegment tokens, MemorySegment wte, MemorySegment wpe, int B, int T, int C, int V, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_EMBEDDING_FORWARD.invokeExact(out, tokens, wte, wpe, B, T, C, V, stream);
        } catch (Throwable t) {
            throw failed("p4j_embedding_forward", t);
        }
        check("p4j_embedding_forward", st);
    }

    /** p4j_embedding_backward: see native/include/pref4j.h. */
    static void embeddingBackward(MemorySegment dwte, MemorySegment dwpe, MemorySegment dout, MemorySegment tokens, int B, int T, int C, int V, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_EMBEDDING_BACKWARD.invokeExact(dwte, dwpe, dout, tokens, B, T, C, V, stream);
        } catch (Throwable t) {
            throw failed("p4j_embedding_backward", t);
        }
        check("p4j_embedding_backward", st);
    }

    /** p4j_gqa_attention_forward: see native/include/pref4j.h. */
    static void gqaAttentionForward(MemorySegment out, MemorySegment lse, MemorySegment qkv, MemorySegment lengths, int B, int T, int NH, int NKV, int HS, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_GQA_ATTENTION_FORWARD.invokeExact(out, lse, qkv, lengths, B, T, NH, NKV, HS, stream);
        } catch (Throwable t) {
            throw failed("p4j_gqa_attention_forward", t);
        }
        check("p4j_gqa_attention_forward", st);
    }

    /** p4j_gqa_attention_backward: see native/include/pref4j.h. */
    static void gqaAttentionBackward(MemorySegment dqkv, MemorySegment dout, MemorySegment qkv, MemorySegment out, MemorySegment lse, MemorySegment lengths, int B, int T, int NH, int NKV, int HS, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_GQA_ATTENTION_BACKWARD.invokeExact(dqkv, dout, qkv, out, lse, lengths, B, T, NH, NKV, HS, stream);
        } catch (Throwable t) {
            throw failed("p4j_gqa_attention_backward", t);
        }
        check("p4j_gqa_attention_backward", st);
    }

    /** p4j_gqa_kv_cache_write: see native/include/pref4j.h. */
    static void gqaKvCacheWrite(MemorySegment kCache, MemorySegment vCache, MemorySegment qkv, int B, int T, int NH, int NKV, int HS, int maxT, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_GQA_KV_CACHE_WRITE.invokeExact(kCache, vCache, qkv, B, T, NH, NKV, HS, maxT, stream);
        } catch (Throwable t) {
            throw failed("p4j_gqa_kv_cache_write", t);
        }
        check("p4j_gqa_kv_cache_write", st);
    }

    /** p4j_gqa_attention_decode: see native/include/pref4j.h. */
    static void gqaAttentionDecode(MemorySegment out, MemorySegment qkv, MemorySegment kCache, MemorySegment vCache, MemorySegment positions, int B, int NH, int NKV, int HS, int maxT, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_GQA_ATTENTION_DECODE.invokeExact(out, qkv, kCache, vCache, positions, B, NH, NKV, HS, maxT, stream);
        } catch (Throwable t) {
            throw failed("p4j_gqa_attention_decode", t);
        }
        check("p4j_gqa_attention_decode", st);
    }

    /** p4j_attention_forward: see native/include/pref4j.h. */
    static void attentionForward(MemorySegment out, MemorySegment lse, MemorySegment qkv, MemorySegment lengths, int B, int T, int C, int NH, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_ATTENTION_FORWARD.invokeExact(out, lse, qkv, lengths, B, T, C, NH, stream);
        } catch (Throwable t) {
            throw failed("p4j_attention_forward", t);
        }
        check("p4j_attention_forward", st);
    }

    /** p4j_attention_backward: see native/include/pref4j.h. */
    static void attentionBackward(MemorySegment dqkv, MemorySegment dout, MemorySegment qkv, MemorySegment out, MemorySegment lse, MemorySegment lengths, int B, int T, int C, int NH, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_ATTENTION_BACKWARD.invokeExact(dqkv, dout, qkv, out, lse, lengths, B, T, C, NH, stream);
        } catch (Throwable t) {
            throw failed("p4j_attention_backward", t);
        }
        check("p4j_attention_backward", st);
    }

    /** p4j_kv_cache_write: see native/include/pref4j.h. */
    static void kvCacheWrite(MemorySegment kCache, MemorySegment vCache, MemorySegment qkv, int B, int T, int C, int NH, int maxT, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_KV_CACHE_WRITE.invokeExact(kCache, vCache, qkv, B, T, C, NH, maxT, stream);
        } catch (Throwable t) {
            throw failed("p4j_kv_cache_write", t);
        }
        check("p4j_kv_cache_write", st);
    }

    /** p4j_attention_decode: see native/include/pref4j.h. */
    static void attentionDecode(MemorySegment out, MemorySegment qkv, MemorySegment kCache, MemorySegment vCache, MemorySegment positions, int B, int C, int NH, int maxT, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_ATTENTION_DECODE.invokeExact(out, qkv, kCache, vCache, positions, B, C, NH, maxT, stream);
        } catch (Throwable t) {
            throw failed("p4j_attention_decode", t);
        }
        check("p4j_attention_decode", st);
    }

    /** p4j_rms_norm_forward: see native/include/pref4j.h. */
    static void rmsNormForward(MemorySegment out, MemorySegment rstd, MemorySegment inp, MemorySegment weight, int N, int C, float eps, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_RMS_NORM_FORWARD.invokeExact(out, rstd, inp, weight, N, C, eps, stream);
        } catch (Throwable t) {
            throw failed("p4j_rms_norm_forward", t);
        }
        check("p4j_rms_norm_forward", st);
    }

    /** p4j_rms_norm_backward: see native/include/pref4j.h. */
    static void rmsNormBackward(MemorySegment dinp, MemorySegment dweight, MemorySegment scratch, MemorySegment dout, MemorySegment inp, MemorySegment weight, MemorySegment rstd, int N, int C, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_RMS_NORM_BACKWARD.invokeExact(dinp, dweight, scratch, dout, inp, weight, rstd, N, C, stream);
        } catch (Throwable t) {
            throw failed("p4j_rms_norm_backward", t);
        }
        check("p4j_rms_norm_backward", st);
    }

    /** p4j_qk_norm_forward: see native/include/pref4j.h. */
    static void qkNormForward(MemorySegment qkvOut, MemorySegment rstd, MemorySegment qkvIn, MemorySegment qWeight, MemorySegment kWeight, int N, int NH, int NKV, int HS, float eps, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_QK_NORM_FORWARD.invokeExact(qkvOut, rstd, qkvIn, qWeight, kWeight, N, NH, NKV, HS, eps, stream);
        } catch (Throwable t) {
            throw failed("p4j_qk_norm_forward", t);
        }
        check("p4j_qk_norm_forward", st);
    }

    /** p4j_qk_norm_backward: see native/include/pref4j.h. */
    static void qkNormBackward(MemorySegment dqkvIn, MemorySegment dqWeight, MemorySegment dkWeight, MemorySegment scratch, MemorySegment dqkvOut, MemorySegment qkvIn, MemorySegment qWeight, MemorySegment kWeight, MemorySegment rstd, int N, int NH, int NKV, int HS, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_QK_NORM_BACKWARD.invokeExact(dqkvIn, dqWeight, dkWeight, scratch, dqkvOut, qkvIn, qWeight, kWeight, rstd, N, NH, NKV, HS, stream);
        } catch (Throwable t) {
            throw failed("p4j_qk_norm_backward", t);
        }
        check("p4j_qk_norm_backward", st);
    }

    /** p4j_rope_forward: see native/include/pref4j.h. */
    static void ropeForward(MemorySegment qkv, MemorySegment cos, MemorySegment sin, MemorySegment positions, int B, int T, int NH, int NKV, int HS, int maxPos, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_ROPE_FORWARD.invokeExact(qkv, cos, sin, positions, B, T, NH, NKV, HS, maxPos, stream);
        } catch (Throwable t) {
            throw failed("p4j_rope_forward", t);
        }
        check("p4j_rope_forward", st);
    }

    /** p4j_rope_backward: see native/include/pref4j.h. */
    static void ropeBackward(MemorySegment dqkv, MemorySegment cos, MemorySegment sin, MemorySegment positions, int B, int T, int NH, int NKV, int HS, int maxPos, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_ROPE_BACKWARD.invokeExact(dqkv, cos, sin, positions, B, T, NH, NKV, HS, maxPos, stream);
        } catch (Throwable t) {
            throw failed("p4j_rope_backward", t);
        }
        check("p4j_rope_backward", st);
    }

    /** p4j_swiglu_forward: see native/include/pref4j.h. */
    static void swigluForward(MemorySegment out, MemorySegment inp, int N, int I, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_SWIGLU_FORWARD.invokeExact(out, inp, N, I, stream);
        } catch (Throwable t) {
            throw failed("p4j_swiglu_forward", t);
        }
        check("p4j_swiglu_forward", st);
    }

    /** p4j_swiglu_backward: see native/include/pref4j.h. */
    static void swigluBackward(MemorySegment dinp, MemorySegment dout, MemorySegment inp, int N, int I, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_SWIGLU_BACKWARD.invokeExact(dinp, dout, inp, N, I, stream);
        } catch (Throwable t) {
            throw failed("p4j_swiglu_backward", t);
        }
        check("p4j_swiglu_backward", st);
    }

    /** p4j_logprob_init: see native/include/pref4j.h. */
    static void logprobInit(MemorySegment stats, int N, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_LOGPROB_INIT.invokeExact(stats, N, stream);
        } catch (Throwable t) {
            throw failed("p4j_logprob_init", t);
        }
        check("p4j_logprob_init", st);
    }

    /** p4j_logprob_chunk_forward: see native/include/pref4j.h. */
    static void logprobChunkForward(MemorySegment stats, MemorySegment chunk, MemorySegment targets, int N, int v0, int Vc, int V, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_LOGPROB_CHUNK_FORWARD.invokeExact(stats, chunk, targets, N, v0, Vc, V, stream);
        } catch (Throwable t) {
            throw failed("p4j_logprob_chunk_forward", t);
        }
        check("p4j_logprob_chunk_forward", st);
    }

    /** p4j_logprob_finalize: see native/include/pref4j.h. */
    static void logprobFinalize(MemorySegment logp, MemorySegment entropy, MemorySegment lse, MemorySegment stats, MemorySegment targets, int N, int V, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_LOGPROB_FINALIZE.invokeExact(logp, entropy, lse, stats, targets, N, V, stream);
        } catch (Throwable t) {
            throw failed("p4j_logprob_finalize", t);
        }
        check("p4j_logprob_finalize", st);
    }

    /** p4j_logprob_chunk_backward: see native/include/pref4j.h. */
    static void logprobChunkBackward(MemorySegment chunk, MemorySegment dlogp, MemorySegment dentropy, MemorySegment lse, MemorySegment entropy, MemorySegment targets, int N, int v0, int Vc, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_LOGPROB_CHUNK_BACKWARD.invokeExact(chunk, dlogp, dentropy, lse, entropy, targets, N, v0, Vc, stream);
        } catch (Throwable t) {
            throw failed("p4j_logprob_chunk_backward", t);
        }
        check("p4j_logprob_chunk_backward", st);
    }

    /** p4j_adamw: see native/include/pref4j.h. */
    static void adamw(MemorySegment params, MemorySegment grads, MemorySegment m, MemorySegment v, long n, float lr, float beta1, float beta2, float eps, float weightDecay, int step, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_ADAMW.invokeExact(params, grads, m, v, n, lr, beta1, beta2, eps, weightDecay, step, stream);
        } catch (Throwable t) {
            throw failed("p4j_adamw", t);
        }
        check("p4j_adamw", st);
    }

    /** p4j_sum_squares: see native/include/pref4j.h. */
    static void sumSquares(MemorySegment out, MemorySegment x, long n, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_SUM_SQUARES.invokeExact(out, x, n, stream);
        } catch (Throwable t) {
            throw failed("p4j_sum_squares", t);
        }
        check("p4j_sum_squares", st);
    }

    /** p4j_sample: see native/include/pref4j.h. */
    static void sample(MemorySegment tokens, MemorySegment logp, MemorySegment logits, MemorySegment seeds, long counter, int B, int V, float temperature, int topK, float topP, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_SAMPLE.invokeExact(tokens, logp, logits, seeds, counter, B, V, temperature, topK, topP, stream);
        } catch (Throwable t) {
            throw failed("p4j_sample", t);
        }
        check("p4j_sample", st);
    }

    /** p4j_pairwise_loss: see native/include/pref4j.h. */
    static void pairwiseLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment refLogp, MemorySegment rewards, MemorySegment chosenIdx, MemorySegment rejectedIdx, int S, int P, int type, int weightMode, float beta, float labelSmoothing, float ipoTau, float beta2, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_PAIRWISE_LOSS.invokeExact(metrics, dlogp, logp, refLogp, rewards, chosenIdx, rejectedIdx, S, P, type, weightMode, beta, labelSmoothing, ipoTau, beta2, stream);
        } catch (Throwable t) {
            throw failed("p4j_pairwise_loss", t);
        }
        check("p4j_pairwise_loss", st);
    }

    /** p4j_sft_loss: see native/include/pref4j.h. */
    static void sftLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment refLogp, MemorySegment lengths, MemorySegment rewards, int S, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_SFT_LOSS.invokeExact(metrics, dlogp, logp, refLogp, lengths, rewards, S, stream);
        } catch (Throwable t) {
            throw failed("p4j_sft_loss", t);
        }
        check("p4j_sft_loss", st);
    }

    /** p4j_rwr_loss: see native/include/pref4j.h. */
    static void rwrLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment refLogp, MemorySegment lengths, MemorySegment rewards, MemorySegment groups, int S, int G, int filter, int topK, float tau, float wMax, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_RWR_LOSS.invokeExact(metrics, dlogp, logp, refLogp, lengths, rewards, groups, S, G, filter, topK, tau, wMax, stream);
        } catch (Throwable t) {
            throw failed("p4j_rwr_loss", t);
        }
        check("p4j_rwr_loss", st);
    }

    /** p4j_best_of_n_loss: see native/include/pref4j.h. */
    static void bestOfNLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment refLogp, MemorySegment rewards, MemorySegment groups, int S, int G, int negativeMode, float betaNeg, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_BEST_OF_N_LOSS.invokeExact(metrics, dlogp, logp, refLogp, rewards, groups, S, G, negativeMode, betaNeg, stream);
        } catch (Throwable t) {
            throw failed("p4j_best_of_n_loss", t);
        }
        check("p4j_best_of_n_loss", st);
    }

    /** p4j_reinforce_loss: see native/include/pref4j.h. */
    static void reinforceLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment state, MemorySegment logp, MemorySegment refLogp, MemorySegment rewards, MemorySegment groups, int S, int G, int baseline, float decay, float klCoef, float clipAdv, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_REINFORCE_LOSS.invokeExact(metrics, dlogp, state, logp, refLogp, rewards, groups, S, G, baseline, decay, klCoef, clipAdv, stream);
        } catch (Throwable t) {
            throw failed("p4j_reinforce_loss", t);
        }
        check("p4j_reinforce_loss", st);
    }

    /** p4j_ppo_advantages: see native/include/pref4j.h. */
    static void ppoAdvantages(MemorySegment metrics, MemorySegment advantages, MemorySegment returns, MemorySegment oldLogp, MemorySegment refLogp, MemorySegment oldValues, MemorySegment scores, MemorySegment mask, int B, int T, float klCoef, float gamma, float lam, int whiten, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_PPO_ADVANTAGES.invokeExact(metrics, advantages, returns, oldLogp, refLogp, oldValues, scores, mask, B, T, klCoef, gamma, lam, whiten, stream);
        } catch (Throwable t) {
            throw failed("p4j_ppo_advantages", t);
        }
        check("p4j_ppo_advantages", st);
    }

    /** p4j_ppo_loss: see native/include/pref4j.h. */
    static void ppoLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment dvalue, MemorySegment logp, MemorySegment oldLogp, MemorySegment values, MemorySegment oldValues, MemorySegment advantages, MemorySegment returns, MemorySegment mask, int B, int T, float clipEps, float valueClip, float vfCoef, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_PPO_LOSS.invokeExact(metrics, dlogp, dvalue, logp, oldLogp, values, oldValues, advantages, returns, mask, B, T, clipEps, valueClip, vfCoef, stream);
        } catch (Throwable t) {
            throw failed("p4j_ppo_loss", t);
        }
        check("p4j_ppo_loss", st);
    }
    /** p4j_grpo_advantages: see native/include/pref4j.h. */
    static void grpoAdvantages(MemorySegment metrics, MemorySegment advantages, MemorySegment rewards, MemorySegment groups, int B, int G, int scaleRewards, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_GRPO_ADVANTAGES.invokeExact(metrics, advantages, rewards, groups, B, G, scaleRewards, stream);
        } catch (Throwable t) {
            throw failed("p4j_grpo_advantages", t);
        }
        check("p4j_grpo_advantages", st);
    }

    /** p4j_grpo_loss: see native/include/pref4j.h. */
    static void grpoLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment oldLogp, MemorySegment refLogp, MemorySegment advantages, MemorySegment mask, int B, int T, int lossType, int importanceLevel, float epsilon, float epsilonHigh, float beta, int maxCompletionLength, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_GRPO_LOSS.invokeExact(metrics, dlogp, logp, oldLogp, refLogp, advantages, mask, B, T, lossType, importanceLevel, epsilon, epsilonHigh, beta, maxCompletionLength, stream);
        } catch (Throwable t) {
            throw failed("p4j_grpo_loss", t);
        }
        check("p4j_grpo_loss", st);
    }

    /** p4j_kto_loss: see native/include/pref4j.h. */
    static void ktoLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment refLogp, MemorySegment labels, int S, float beta, float zRef, float desirableWeight, float undesirableWeight, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_KTO_LOSS.invokeExact(metrics, dlogp, logp, refLogp, labels, S, beta, zRef, desirableWeight, undesirableWeight, stream);
        } catch (Throwable t) {
            throw failed("p4j_kto_loss", t);
        }
        check("p4j_kto_loss", st);
    }

    /** p4j_length_norm_pairwise_loss: see native/include/pref4j.h. */
    static void lengthNormPairwiseLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment lengths, MemorySegment chosenIdx, MemorySegment rejectedIdx, int S, int P, int type, float beta, float labelSmoothing, float simpoGamma, float orpoLambda, MemorySegment stream) {
        int st;
        try {
            st = (int) P4J_LENGTH_NORM_PAIRWISE_LOSS.invokeExact(metrics, dlogp, logp, lengths, chosenIdx, rejectedIdx, S, P, type, beta, labelSmoothing, simpoGamma, orpoLambda, stream);
        } catch (Throwable t) {
            throw failed("p4j_length_norm_pairwise_loss", t);
        }
        check("p4j_length_norm_pairwise_loss", st);
    }
}
