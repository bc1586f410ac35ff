package io.pref4j.kernel.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Bindings to cuBLAS, opened at run time by its full soname {@code libcublas.so.13} from
 * {@code -Dpref4j.cuda.cublas} / {@code PREF4J_CUBLAS} (a file or a folder),
 * {@code CUDA_HOME/lib64}, {@code /usr/local/cuda/lib64} or the system path. The kernel
 * library never links against cuBLAS.
 *
 * <p>pref4j is row-major and cuBLAS column-major; {@link #rowMajor} maps a row-major
 * product onto cuBLAS's arguments (see there). fp32 GEMMs use {@link #COMPUTE_32F} unless
 * TF32 is asked for ({@link #COMPUTE_32F_FAST_TF32}).
 */
public final class Cublas {
    private Cublas() {}

    public static final String SONAME = "libcublas.so.13";

    static final int OP_N = 0, OP_T = 1;
    static final int CUDA_R_32F = 0, CUDA_R_16BF = 14;
    static final int COMPUTE_32F = 68, COMPUTE_32F_FAST_TF32 = 77;
    static final int GEMM_DEFAULT = -1;
    static final int STATUS_SUCCESS = 0, STATUS_ALLOC_FAILED = 3;

    private static final NativeLibs.Result LIB = NativeLibs.open("cuBLAS (" + SONAME + ")",
            NativeLibs.candidates(NativeLibs.setting("pref4j.cuda.cublas", "PREF4J_CUBLAS"), SONAME));
    private static final NativeLibs.Binder B = new NativeLibs.Binder(LIB.ok() ? LIB.loaded().lookup() : null);

    private static final MethodHandle cublasCreate_v2 = B.bind("cublasCreate_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle cublasDestroy_v2 = B.bind("cublasDestroy_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle cublasSetStream_v2 = B.bind("cublasSetStream_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle cublasGemmEx = B.bind("cublasGemmEx", FunctionDescriptor.of(JAVA_INT,
            ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,       // handle, transa, transb, m, n, k
            ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,                           // alpha, A, Atype, lda
            ADDRESS, JAVA_INT, JAVA_INT,                                    // B, Btype, ldb
            ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,                           // beta, C, Ctype, ldc
            JAVA_INT, JAVA_INT));                                           // computeType, algo
    private static final MethodHandle cublasGemmStridedBatchedEx = B.bind("cublasGemmStridedBatchedEx", FunctionDescriptor.of(JAVA_INT,
            ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,       // handle, transa, transb, m, n, k
            ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG,                // alpha, A, Atype, lda, strideA
            ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG,                         // B, Btype, ldb, strideB
            ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG,                // beta, C, Ctype, ldc, strideC
            JAVA_INT, JAVA_INT, JAVA_INT));                                 // batchCount, computeType, algo
    // optional: present since cuBLAS 11.4; the table below is used without them
    private static final MethodHandle cublasGetStatusName = optional("cublasGetStatusName", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle cublasGetStatusString = optional("cublasGetStatusString", FunctionDescriptor.of(ADDRESS, JAVA_INT));

    /** alpha/beta live in host memory (CUBLAS_POINTER_MODE_HOST, the default). */
    private static final MemorySegment ONE = Arena.global().allocateFrom(JAVA_FLOAT, 1f);
    private static final MemorySegment ZERO = Arena.global().allocateFrom(JAVA_FLOAT, 0f);

    private static MethodHandle optional(String name, FunctionDescriptor fd) {
        if (!LIB.ok()) return null;
        return LIB.loaded().lookup().find(name).map(s -> NativeLibs.LINKER.downcallHandle(s, fd)).orElse(null);
    }

    // ---------------------------------------------------------------- loading and status

    public static boolean loaded() {
        return LIB.ok() && B.missing().isEmpty();
    }

    /** Why cuBLAS is unusable (with the paths tried), or null. */
    public static String loadError() {
        if (!LIB.ok()) return LIB.error();
        List<String> missing = B.missing();
        return missing.isEmpty() ? null : LIB.loaded().path() + " lacks " + String.join(", ", missing);
    }

    public static String source() {
        return LIB.ok() ? LIB.loaded().path() : null;
    }

    static final Map<Integer, String> STATUS_NAMES = Map.of(
            0, "CUBLAS_STATUS_SUCCESS", 1, "CUBLAS_STATUS_NOT_INITIALIZED", 3, "CUBLAS_STATUS_ALLOC_FAILED",
            7, "CUBLAS_STATUS_INVALID_VALUE", 8, "CUBLAS_STATUS_ARCH_MISMATCH", 11, "CUBLAS_STATUS_MAPPING_ERROR",
            13, "CUBLAS_STATUS_EXECUTION_FAILED", 14, "CUBLAS_STATUS_INTERNAL_ERROR", 15, "CUBLAS_STATUS_NOT_SUPPORTED",
            16, "CUBLAS_STATUS_LICENSE_ERROR");

    /** The status's name (from cuBLAS when it can say, else the table), or null. */
    static String statusName(int status) {
        String s = callString(cublasGetStatusName, status);
        return s != null ? s : STATUS_NAMES.get(status);
    }

    static String statusString(int status) {
        return callString(cublasGetStatusString, status);
    }

    private static String callString(MethodHandle h, int status) {
        if (h == null) return null;
        try {
            MemorySegment p = (MemorySegment) h.invokeExact(status);
            return p.equals(MemorySegment.NULL) ? null : p.reinterpret(4096).getString(0, StandardCharsets.UTF_8);
        } catch (Throwable t) {
            return null;
        }
    }

    static void check(String call, int status) {
        if (status == STATUS_SUCCESS) return;
        String desc = statusString(status);
        if (status == STATUS_ALLOC_FAILED) {
            desc = (desc == null ? "" : desc + "; ") + "out of memory for cuBLAS's workspace: reduce the batch size or the model size";
        }
        throw new CudaException(call, status, CudaException.statusMessage(call, status, statusName(status), desc));
    }

    private static void require(MethodHandle h, String call) {
        if (h == null) {
            String why = loadError();
            throw new CudaException(call, CudaException.NOT_LOADED, call + ": cuBLAS is not available: "
                    + (why != null ? why : "symbol not found"));
        }
    }

    private static CudaException failed(String call, Throwable t) {
        if (t instanceof CudaException c) return c;
        return new CudaException(call, call + " could not be called: " + t, t);
    }

    // ---------------------------------------------------------------- handle

    /** cublasCreate_v2: a new handle. */
    public static MemorySegment create() {
        require(cublasCreate_v2, "cublasCreate_v2");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            int st = (int) cublasCreate_v2.invokeExact(out);
            check("cublasCreate_v2", st);
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw failed("cublasCreate_v2", t);
        }
    }

    public static void setStream(MemorySegment handle, MemorySegment stream) {
        require(cublasSetStream_v2, "cublasSetStream_v2");
        try {
            int st = (int) cublasSetStream_v2.invokeExact(handle, stream);
            check("cublasSetStream_v2", st);
        } catch (Throwable t) {
            throw failed("cublasSetStream_v2", t);
        }
    }

    public static void destroy(MemorySegment handle) {
        require(cublasDestroy_v2, "cublasDestroy_v2");
        try {
            int st = (int) cublasDestroy_v2.invokeExact(handle);
            check("cublasDestroy_v2", st);
        } catch (Throwable t) {
            throw failed("cublasDestroy_v2", t);
        }
    }

    // ---------------------------------------------------------------- row-major mapping

    /**
     * A column-major GEMM C(m×n) = op1(X1) · op2(X2) with leading dimensions, as cuBLAS
     * takes it. {@code firstIsB} says that X1 is the row-major product's B operand and X2
     * its A (always true for {@link #rowMajor}; kept explicit for the reader and the test).
     */
    record ColumnMajor(int transa, int transb, int m, int n, int k, int lda, int ldb, int ldc, boolean firstIsB) {}

    /**
     * Maps the row-major product out[M,N] = op(A)·op(B) (A stored [M,K], or [K,M] when
     * transA; B stored [K,N], or [N,K] when transB) onto column-major cuBLAS arguments.
     *
     * <p>A row-major r×c matrix with leading dimension c is, read column-major, its c×r
     * transpose. So the row-major out is the column-major outᵀ (N×M, ldc N), and
     * outᵀ = op(B)ᵀ · op(A)ᵀ: cuBLAS's first operand is B and its second A, with m = N,
     * n = M, k = K. B stored [K,N] reads column-major as an N×K matrix = op(B)ᵀ directly
     * (no transpose, lda = N); stored [N,K] it reads as K×N and must be transposed
     * (lda = K). Likewise A stored [M,K] reads as K×M = op(A)ᵀ (no transpose, ldb = K);
     * stored [K,M] it reads as M×K and is transposed (ldb = M).
     */
    static ColumnMajor rowMajor(int M, int N, int K, boolean transA, boolean transB) {
        return new ColumnMajor(transB ? OP_T : OP_N, transA ? OP_T : OP_N, N, M, K,
                transB ? K : N, transA ? M : K, N, true);
    }

    // ---------------------------------------------------------------- GEMMs

    /**
     * Row-major fp32 out[M,N] (=, or += when accumulate) op(A)·op(B) through cublasGemmEx.
     * Every size must be ≥ 1 (callers handle empty products).
     */
    static void gemm(MemorySegment handle, MemorySegment out, MemorySegment a, MemorySegment b,
                     int M, int N, int K, boolean transA, boolean transB, boolean accumulate, boolean tf32) {
        require(cublasGemmEx, "cublasGemmEx");
        ColumnMajor g = rowMajor(M, N, K, transA, transB);
        int compute = tf32 ? COMPUTE_32F_FAST_TF32 : COMPUTE_32F;
        MemorySegment beta = accumulate ? ONE : ZERO;
        try {
            int st = (int) cublasGemmEx.invokeExact(handle, g.transa(), g.transb(), g.m(), g.n(), g.k(),
                    ONE, b, CUDA_R_32F, g.lda(),
                    a, CUDA_R_32F, g.ldb(),
                    beta, out, CUDA_R_32F, g.ldc(),
                    compute, GEMM_DEFAULT);
            check(gemmName("cublasGemmEx", M, N, K, transA, transB), st);
        } catch (Throwable t) {
            throw failed("cublasGemmEx", t);
        }
    }

    /** {@link #gemm} over {@code batch} problems with element strides (cublasGemmStridedBatchedEx). */
    static void gemmStridedBatched(MemorySegment handle, MemorySegment out, MemorySegment a, MemorySegment b,
                                   int batch, long strideOut, long strideA, long strideB,
                                   int M, int N, int K, boolean transA, boolean transB, boolean accumulate, boolean tf32) {
        require(cublasGemmStridedBatchedEx, "cublasGemmStridedBatchedEx");
        ColumnMajor g = rowMajor(M, N, K, transA, transB);
        int compute = tf32 ? COMPUTE_32F_FAST_TF32 : COMPUTE_32F;
        MemorySegment beta = accumulate ? ONE : ZERO;
        try {
            int st = (int) cublasGemmStridedBatchedEx.invokeExact(handle, g.transa(), g.transb(), g.m(), g.n(), g.k(),
                    ONE, b, CUDA_R_32F, g.lda(), strideB,
                    a, CUDA_R_32F, g.ldb(), strideA,
                    beta, out, CUDA_R_32F, g.ldc(), strideOut,
                    batch, compute, GEMM_DEFAULT);
            check(gemmName("cublasGemmStridedBatchedEx", M, N, K, transA, transB) + " batch " + batch, st);
        } catch (Throwable t) {
            throw failed("cublasGemmStridedBatchedEx", t);
        }
    }

    private static String gemmName(String fn, int M, int N, int K, boolean transA, boolean transB) {
        return fn + "(M " + M + ", N " + N + ", K " + K + (transA ? ", transA" : "") + (transB ? ", transB" : "") + ")";
    }
}
