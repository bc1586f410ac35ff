package io.pref4j.kernel.cuda;

/**
 * The one exception type of the CUDA backend: a failed CUDA runtime call, cuBLAS call or
 * pref4j kernel, or a native library that could not be loaded. The message always names
 * the call or kernel; for a failed status it gives the status number, its name and the
 * library's description of it, e.g.
 * {@code cudaMalloc failed: status 2 (cudaErrorMemoryAllocation: out of memory)}.
 */
public final class CudaException extends RuntimeException {

    /** Status used when no native status exists (a library or symbol that did not load). */
    public static final int NOT_LOADED = -1;

    private final String call;
    private final int status;

    public CudaException(String call, int status, String message) {
        super(message);
        this.call = call;
        this.status = status;
    }

    public CudaException(String call, String message, Throwable cause) {
        super(message, cause);
        this.call = call;
        this.status = NOT_LOADED;
    }

    /** The CUDA/cuBLAS function or pref4j kernel that failed. */
    public String call() {
        return call;
    }

    /** The native status (cudaError_t, cublasStatus_t or the kernel's), or {@link #NOT_LOADED}. */
    public int status() {
        return status;
    }

    /** True for cudaErrorMemoryAllocation and CUBLAS_STATUS_ALLOC_FAILED. */
    public boolean isOutOfMemory() {
        String m = getMessage();
        return m != null && (m.contains("out of memory") || m.contains("out of GPU memory"));
    }

    /**
     * The message for a failed status: "{call} failed: status {n} ({name}: {description})".
     * name or description may be null (then left out).
     */
    static String statusMessage(String call, int status, String name, String description) {
        StringBuilder sb = new StringBuilder(call).append(" failed: status ").append(status);
        boolean hasName = name != null && !name.isBlank();
        boolean hasDesc = description != null && !description.isBlank();
        if (hasName || hasDesc) {
            sb.append(" (");
            if (hasName) sb.append(name);
            if (hasName && hasDesc) sb.append(": ");
            if (hasDesc) sb.append(description);
            sb.append(')');
        }
        return sb.toString();
    }

    /**
     * An allocation that did not fit: says how much was asked, how much the device has free
     * and in total (when known, else ≤ 0), and what to reduce.
     */
    static CudaException outOfMemory(String call, int status, long askedBytes, long freeBytes, long totalBytes) {
        StringBuilder sb = new StringBuilder(call).append(": out of GPU memory allocating ").append(mib(askedBytes));
        if (freeBytes >= 0 && totalBytes > 0) {
            sb.append(" (").append(mib(freeBytes)).append(" free of ").append(mib(totalBytes)).append(')');
        }
        sb.append(" [status ").append(status).append(']')
          .append("; reduce the batch size (batch_size / --batch-tokens), the sequence length or the model size,")
          .append(" or free the GPU of other processes");
        return new CudaException(call, status, sb.toString());
    }

    static String mib(long bytes) {
        if (bytes < 1024 * 1024) return bytes + " bytes";
        return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
    }
}
