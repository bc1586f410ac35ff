package io.pref4j.kernel.cuda;

import io.pref4j.kernel.Kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The CUDA backend: buffers are device memory, matrix products go to cuBLAS, everything
 * else to pref4j's kernel library ({@link Pref4jNative}). All work is queued on one
 * non-blocking stream owned by this context; {@link #synchronize()} waits for it, and the
 * methods that return host values (reads, {@link #sumSquares}) synchronise.
 *
 * <p>Buffers: {@link #allocFloats} and friends return a {@link MemorySegment} whose address is
 * the device pointer ({@code MemorySegment.ofAddress(ptr).reinterpret(bytes)}). Slices of it
 * are views; a segment is never dereferenced on the host. Every buffer is freed when the
 * context closes.
 *
 * <p>Precision: fp32 everywhere; cuBLAS computes in fp32 ({@code CUBLAS_COMPUTE_32F}) unless
 * TF32 is asked for (constructor, or {@code -Dpref4j.cuda.tf32=true}); attention with head
 * size 64 or 128 uses bf16 tensor cores (see pref4j.h).
 *
 * <p>The fused log-prob gather runs as GEMM chunks: for a group of rows and a chunk of the
 * vocabulary, cuBLAS writes the chunk's logits into a bounded buffer
 * ({@code -Dpref4j.cuda.logprobChunkMiB}, default 64 MiB) and the chunk kernels fold it into
 * per-row statistics (forward) or turn it into dz in place and two more GEMMs accumulate
 * dhidden and dweight (backward). No [N, V] buffer exists.
 *
 * <p>The Llama-family layers: grouped-query attention, RMSNorm, the q/k norm, RoPE and SwiGLU
 * go to pref4j.h's {@code p4j_gqa_*}, {@code p4j_rms_norm_*}, ... functions (the GPT-2 attention
 * methods are their NKV = NH case). The two norm backwards reduce dweight deterministically
 * through a scratch buffer of {@code P4J_NORM_PARTIALS} × columns floats, grown on demand;
 * RoPE's table length comes from the cos/sin segments' sizes.
 *
 * <p>Not thread-safe: one context is used by one thread at a time (like the CPU backend).
 */
public final class CudaKernels implements Kernels {

    private static final long DEFAULT_CHUNK_BYTES = 64L << 20;
    private static final int MIN_CHUNK_VOCAB = 256;

    private final int device;
    private final boolean tf32;
    private final String description;
    private final MemorySegment stream;
    private final MemorySegment cublas;
    private final List<DeviceBuffer> buffers = new ArrayList<>();
    private final long chunkFloats;
    private long allocatedBytes;
    private boolean closed;
    private String lastLaunch = "none";
    private Thread owner;

    // scratch, grown on demand and reused
    private DeviceBuffer ones, chunk, stats, sumOut, normScratch;
    private long onesN, chunkN, statsN, normScratchN;

    /** Device 0, fp32 GEMMs unless -Dpref4j.cuda.tf32=true. */
    public CudaKernels() {
        this(0, Boolean.getBoolean("pref4j.cuda.tf32"));
    }

    /**
     * A context on the given device. Fails with a {@link CudaException} saying why when the
     * driver, a device or a library is missing (see {@link CudaAvailability}).
     */
    public CudaKernels(int device, boolean tf32) {
        requireAvailable();
        this.device = device;
        this.tf32 = tf32;
        CudaRuntime.setDevice(device);
        this.owner = Thread.currentThread();
        String desc = CudaAvailability.describe(device);
        this.description = desc + (tf32 ? ", tf32" : ", fp32") + " GEMMs";
        this.stream = CudaRuntime.streamCreate();
        MemorySegment h;
        try {
            h = Cublas.create();
            Cublas.setStream(h, stream);
        } catch (CudaException e) {
            CudaRuntime.streamDestroy(stream);
            throw e;
        }
        this.cublas = h;
        long mib = Long.getLong("pref4j.cuda.logprobChunkMiB", DEFAULT_CHUNK_BYTES >> 20);
        this.chunkFloats = Math.max(1L << 16, (mib << 20) / 4);
    }

    private static void requireAvailable() {
        CudaAvailability.Probe p = CudaAvailability.probe();
        if (!p.available()) throw new CudaException("CudaKernels", CudaException.NOT_LOADED, "CUDA is not available: " + p.reason());
    }

    @Override public String name() {
        return description;
    }

    public boolean tf32() {
        return tf32;
    }

    /** Bytes of device buffers allocated so far through this context (freed on close). */
    public long allocatedBytes() {
        return allocatedBytes;
    }

    /** The stream all work of this context is queued on. */
    public MemorySegment stream() {
        return stream;
    }

    /** Makes this context's device current when called from a thread other than the last one. */
    private void enter(String op) {
        if (closed) throw new IllegalStateException("CudaKernels is closed (" + op + ")");
        Thread t = Thread.currentThread();
        if (t != owner) {
            CudaRuntime.setDevice(device);
            owner = t;
        }
        lastLaunch = op;
    }

    private static MemorySegment p(MemorySegment x) {
        return x == null ? MemorySegment.NULL : x;
    }

    // ---------------------------------------------------------------- memory

    private DeviceBuffer allocate(long bytes, String what) {
        enter("cudaMalloc");
        DeviceBuffer b = DeviceBuffer.allocate(bytes);
        buffers.add(b);
        allocatedBytes += bytes;
        return b;
    }

    private MemorySegment allocZeroed(long bytes, String what) {
        if (bytes < 0) throw new IllegalArgumentException(what + ": negative size");
        DeviceBuffer b = allocate(bytes, what);
        if (bytes > 0) CudaRuntime.memsetAsync(b.segment(), 0, bytes, stream);
        return b.segment();
    }

    @Override public MemorySegment allocFloats(long n) {
        return allocZeroed(n * 4, "allocFloats");
    }

    @Override public MemorySegment allocInts(long n) {
        return allocZeroed(n * 4, "allocInts");
    }

    @Override public MemorySegment allocLongs(long n) {
        return allocZeroed(n * 8, "allocLongs");
    }

    /** A scratch buffer of at least n elements of elemBytes, replacing old when too small. */
    private DeviceBuffer grow(DeviceBuffer old, long have, long n, int elemBytes, String what) {
        if (old != null && have >= n) return old;
        if (old != null) {
            buffers.remove(old);
            allocatedBytes -= old.bytes();
            old.close();
        }
        return allocate(n * elemBytes, what);
    }

    @Override public void fill(MemorySegment x, long n, float value) {
        if (n <= 0) return;
        enter("fill");
        if (Float.floatToRawIntBits(value) == 0) CudaRuntime.memsetAsync(x, 0, n * 4, stream);
        else Pref4jNative.fill(x, n, value, stream);
    }

    @Override public void copy(MemorySegment dst, MemorySegment src, long bytes) {
        if (bytes <= 0) return;
        enter("copy");
        CudaRuntime.memcpyAsync(dst, src, bytes, CudaRuntime.DEVICE_TO_DEVICE, stream);
    }

    /** Host array → device: staged through native memory; waits so the staging can be freed. */
    private void upload(MemorySegment dst, MemorySegment host, long bytes) {
        checkSize(dst, bytes, "write");
        CudaRuntime.memcpyAsync(dst, host, bytes, CudaRuntime.HOST_TO_DEVICE, stream);
        CudaRuntime.streamSynchronize(stream);
    }

    private static void checkSize(MemorySegment dev, long bytes, String op) {
        if (bytes > dev.byteSize()) {
            throw new IndexOutOfBoundsException(op + ": " + bytes + " bytes do not fit a buffer of " + dev.byteSize());
        }
    }

    @Override public void write(MemorySegment dst, float[] src) {
        if (src.length == 0) return;
        enter("write");
        try (Arena a = Arena.ofConfined()) {
            upload(dst, a.allocateFrom(ValueLayout.JAVA_FLOAT, src), (long) src.length * 4);
        }
    }

    @Override public void writeInts(MemorySegment dst, int[] src) {
        if (src.length == 0) return;
        enter("writeInts");
        try (Arena a = Arena.ofConfined()) {
            upload(dst, a.allocateFrom(ValueLayout.JAVA_INT, src), (long) src.length * 4);
        }
    }

    @Override public void writeLongs(MemorySegment dst, long[] src) {
        if (src.length == 0) return;
        enter("writeLongs");
        try (Arena a = Arena.ofConfined()) {
            upload(dst, a.allocateFrom(ValueLayout.JAVA_LONG, src), (long) src.length * 8);
        }
    }

    @Override public void read(MemorySegment src, float[] dst) {
        if (dst.length == 0) return;
        enter("read");
        long bytes = (long) dst.length * 4;
        checkSize(src, bytes, "read");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(bytes, 16);
            CudaRuntime.memcpyAsync(host, src, bytes, CudaRuntime.DEVICE_TO_HOST, stream);
            syncStream();
            MemorySegment.copy(host, ValueLayout.JAVA_FLOAT, 0, dst, 0, dst.length);
        }
    }

    @Override public void readInts(MemorySegment src, int[] dst) {
        if (dst.length == 0) return;
        enter("readInts");
        long bytes = (long) dst.length * 4;
        checkSize(src, bytes, "readInts");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(bytes, 16);
            CudaRuntime.memcpyAsync(host, src, bytes, CudaRuntime.DEVICE_TO_HOST, stream);
            syncStream();
            MemorySegment.copy(host, ValueLayout.JAVA_INT, 0, dst, 0, dst.length);
        }
    }

    @Override public void synchronize() {
        enter("synchronize");
        syncStream();
    }

    /**
     * Waits for the stream. An error here comes from work queued earlier (kernels run
     * asynchronously), so the message names the last operation queued.
     */
    private void syncStream() {
        String last = lastLaunch;
        try {
            CudaRuntime.streamSynchronize(stream);
        } catch (CudaException e) {
            throw new CudaException(e.call(), e.status(), e.getMessage() + " (reported when waiting for queued work; the last"
                    + " operation queued was " + last + "; CUDA_LAUNCH_BLOCKING=1 makes errors surface at the launch that caused them)");
        }
    }

    // ---------------------------------------------------------------- linear algebra

    /** ones[M] (for adding a bias as a rank-1 product), grown on demand. */
    private MemorySegment ones(int M) {
        if (ones == null || onesN < M) {
            long n = Math.max(M, 1024);
            ones = grow(ones, onesN, n, 4, "ones");
            onesN = n;
            Pref4jNative.fill(ones.segment(), n, 1f, stream);
        }
        return ones.segment();
    }

    @Override public void matmul(MemorySegment out, MemorySegment a, MemorySegment b, MemorySegment bias,
                                 int M, int N, int K, boolean transA, boolean transB, boolean accumulate) {
        if (M <= 0 || N <= 0) return;
        enter("matmul");
        if (K <= 0) {
            if (!accumulate) fill(out, (long) M * N, 0f);
        } else {
            Cublas.gemm(cublas, out, a, b, M, N, K, transA, transB, accumulate, tf32);
        }
        if (bias != null) {
            // out += ones[M,1] · bias[1,N]
            Cublas.gemm(cublas, out, ones(M), bias, M, N, 1, false, false, true, tf32);
        }
    }

    @Override public void matmulBatched(MemorySegment out, MemorySegment a, MemorySegment b, int batch,
                                        long strideOut, long strideA, long strideB,
                                        int M, int N, int K, boolean transA, boolean transB, boolean accumulate) {
        if (batch <= 0 || M <= 0 || N <= 0) return;
        enter("matmulBatched");
        if (K <= 0) {
            if (!accumulate) {
                for (int i = 0; i < batch; i++) fill(out.asSlice(i * strideOut * 4), (long) M * N, 0f);
            }
            return;
        }
        Cublas.gemmStridedBatched(cublas, out, a, b, batch, strideOut, strideA, strideB, M, N, K, transA, transB, accumulate, tf32);
    }

    @Override public void biasBackward(MemorySegment dbias, MemorySegment dout, int M, int N) {
        enter("p4j_bias_backward");
        Pref4jNative.biasBackward(dbias, dout, M, N, stream);
    }

    // ---------------------------------------------------------------- elementwise

    @Override public void add(MemorySegment out, MemorySegment a, MemorySegment b, long n) {
        enter("p4j_add");
        Pref4jNative.add(out, a, b, n, stream);
    }

    @Override public void accumulate(MemorySegment y, MemorySegment x, long n) {
        enter("p4j_accumulate");
        Pref4jNative.accumulate(y, x, n, stream);
    }

    @Override public void scale(MemorySegment x, long n, float s) {
        enter("p4j_scale");
        Pref4jNative.scale(x, n, s, stream);
    }

    @Override public void geluForward(MemorySegment out, MemorySegment inp, long n) {
        enter("p4j_gelu_forward");
        Pref4jNative.geluForward(out, inp, n, stream);
    }

    @Override public void geluBackward(MemorySegment dinp, MemorySegment inp, MemorySegment dout, long n) {
        enter("p4j_gelu_backward");
        Pref4jNative.geluBackward(dinp, inp, dout, n, stream);
    }

    // ---------------------------------------------------------------- layers

    @Override public void layerNormForward(MemorySegment out, MemorySegment mean, MemorySegment rstd,
                                           MemorySegment inp, MemorySegment weight, MemorySegment bias, int N, int C) {
        enter("p4j_layer_norm_forward");
        Pref4jNative.layerNormForward(out, mean, rstd, inp, weight, bias, N, C, stream);
    }

    @Override public void layerNormBackward(MemorySegment dinp, MemorySegment dweight, MemorySegment dbias,
                                            MemorySegment dout, MemorySegment inp, MemorySegment weight,
                                            MemorySegment mean, MemorySegment rstd, int N, int C) {
        enter("p4j_layer_norm_backward");
        Pref4jNative.layerNormBackward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C, stream);
    }

    /**
     * The vocabulary size the kernels need for bounds: the rows of wte, from the segment's
     * size (Kernels' signature has no V). A view sized to the table gives V exactly.
     */
    static int vocabRows(MemorySegment wte, int C) {
        long rows = wte.byteSize() / (4L * Math.max(C, 1));
        return (int) Math.min(rows, Integer.MAX_VALUE);
    }

    @Override public void embeddingForward(MemorySegment out, MemorySegment tokens, MemorySegment wte,
                                           MemorySegment wpe, int B, int T, int C) {
        enter("p4j_embedding_forward");
        Pref4jNative.embeddingForward(out, tokens, wte, wpe, B, T, C, vocabRows(wte, C), stream);
    }

    @Override public void embeddingBackward(MemorySegment dwte, MemorySegment dwpe, MemorySegment dout,
                                            MemorySegment tokens, int B, int T, int C) {
        enter("p4j_embedding_backward");
        Pref4jNative.embeddingBackward(dwte, dwpe, dout, tokens, B, T, C, vocabRows(dwte, C), stream);
    }

    @Override public void attentionForward(MemorySegment out, MemorySegment lse, MemorySegment qkv,
                                           MemorySegment lengths, int B, int T, int C, int NH) {
        enter("p4j_attention_forward");
        Pref4jNative.attentionForward(out, lse, qkv, lengths, B, T, C, NH, stream);
    }

    @Override public void attentionBackward(MemorySegment dqkv, MemorySegment dout, MemorySegment qkv,
                                            MemorySegment out, MemorySegment lse, MemorySegment lengths,
                                            int B, int T, int C, int NH) {
        enter("p4j_attention_backward");
        Pref4jNative.attentionBackward(dqkv, dout, qkv, out, lse, lengths, B, T, C, NH, stream);
    }

    @Override public void kvCacheWrite(MemorySegment kCache, MemorySegment vCache, MemorySegment qkv,
                                       int B, int T, int C, int NH, int maxT) {
        enter("p4j_kv_cache_write");
        Pref4jNative.kvCacheWrite(kCache, vCache, qkv, B, T, C, NH, maxT, stream);
    }

    @Override public void attentionDecode(MemorySegment out, MemorySegment qkv, MemorySegment kCache,
                                          MemorySegment vCache, MemorySegment positions,
                                          int B, int C, int NH, int maxT) {
        enter("p4j_attention_decode");
        Pref4jNative.attentionDecode(out, qkv, kCache, vCache, positions, B, C, NH, maxT, stream);
    }

    @Override public void gatherRows(MemorySegment out, MemorySegment x, MemorySegment rows, int R, int C) {
        enter("p4j_gather_rows");
        Pref4jNative.gatherRows(out, x, rows, R, C, stream);
    }

    @Override public void scatterAddRows(MemorySegment dx, MemorySegment dout, MemorySegment rows, int R, int C) {
        enter("p4j_scatter_add_rows");
        Pref4jNative.scatterAddRows(dx, dout, rows, R, C, stream);
    }

    @Override public void rowSum(MemorySegment out, MemorySegment x, int rows, int cols) {
        enter("p4j_row_sum");
        Pref4jNative.rowSum(out, x, rows, cols, stream);
    }

    @Override public void rowBroadcast(MemorySegment out, MemorySegment x, int rows, int cols) {
        enter("p4j_row_broadcast");
        Pref4jNative.rowBroadcast(out, x, rows, cols, stream);
    }

    // ---------------------------------------------------------------- log-probs

    /** How rows and vocabulary are split: rows per group and vocabulary per chunk. */
    record LogprobPlan(int rowsPerGroup, int vocabPerChunk) {}

    /**
     * The split for N rows and V tokens within a chunk buffer of budget floats: chunks of the
     * vocabulary as wide as the budget allows for all N rows (a multiple of 128, at least
     * 256 or V), then as many rows per group as fit with that chunk width. Pure (for tests).
     */
    static LogprobPlan plan(int N, int V, long budget) {
        int vc;
        if (V <= MIN_CHUNK_VOCAB) {
            vc = V;
        } else {
            long w = budget / Math.max(N, 1);
            w = (w / 128) * 128;
            vc = (int) Math.min(V, Math.max(MIN_CHUNK_VOCAB, w));
        }
        int rows = (int) Math.max(1, Math.min(N, budget / vc));
        return new LogprobPlan(rows, vc);
    }

    private void ensureLogprobScratch(LogprobPlan pl, int N) {
        long cn = (long) pl.rowsPerGroup() * pl.vocabPerChunk();
        if (chunk == null || chunkN < cn) {
            chunk = grow(chunk, chunkN, cn, 4, "logprob chunk");
            chunkN = cn;
        }
        long sn = (long) N * Pref4jNative.LOGPROB_STATS_FLOATS;
        if (stats == null || statsN < sn) {
            stats = grow(stats, statsN, sn, 4, "logprob stats");
            statsN = sn;
        }
    }

    private static MemorySegment rowsOf(MemorySegment x, long firstRow, long rowElems, int elemBytes) {
        return x == null ? null : x.asSlice(firstRow * rowElems * elemBytes);
    }

    @Override public void logprobForward(MemorySegment logp, MemorySegment entropy, MemorySegment lse,
                                         MemorySegment hidden, MemorySegment weight, MemorySegment targets,
                                         int N, int C, int V) {
        if (N <= 0) return;
        enter("logprobForward");
        LogprobPlan pl = plan(N, V, chunkFloats);
        ensureLogprobScratch(pl, N);
        MemorySegment ch = chunk.segment(), st = stats.segment();
        for (int n0 = 0; n0 < N; n0 += pl.rowsPerGroup()) {
            int ng = Math.min(pl.rowsPerGroup(), N - n0);
            MemorySegment hid = rowsOf(hidden, n0, C, 4), tg = rowsOf(targets, n0, 1, 4);
            MemorySegment sg = rowsOf(st, n0, Pref4jNative.LOGPROB_STATS_FLOATS, 4);
            lastLaunch = "p4j_logprob_init";
            Pref4jNative.logprobInit(sg, ng, stream);
            for (int v0 = 0; v0 < V; v0 += pl.vocabPerChunk()) {
                int vc = Math.min(pl.vocabPerChunk(), V - v0);
                lastLaunch = "cublasGemmEx (logprob chunk)";
                Cublas.gemm(cublas, ch, hid, weight.asSlice((long) v0 * C * 4), ng, vc, C, false, true, false, tf32);
                lastLaunch = "p4j_logprob_chunk_forward";
                Pref4jNative.logprobChunkForward(sg, ch, tg, ng, v0, vc, V, stream);
            }
            lastLaunch = "p4j_logprob_finalize";
            Pref4jNative.logprobFinalize(p(rowsOf(logp, n0, 1, 4)), p(rowsOf(entropy, n0, 1, 4)), p(rowsOf(lse, n0, 1, 4)),
                    sg, tg, ng, V, stream);
        }
    }

    @Override public void logprobBackward(MemorySegment dhidden, MemorySegment dweight, MemorySegment dlogp,
                                          MemorySegment dentropy, MemorySegment hidden, MemorySegment weight,
                                          MemorySegment targets, MemorySegment lse, MemorySegment entropy,
                                          int N, int C, int V) {
        if (N <= 0) return;
        enter("logprobBackward");
        if (dentropy != null && entropy == null) {
            throw new IllegalArgumentException("logprobBackward: dentropy given without the forward's entropy");
        }
        LogprobPlan pl = plan(N, V, chunkFloats);
        ensureLogprobScratch(pl, N);
        MemorySegment ch = chunk.segment();
        for (int n0 = 0; n0 < N; n0 += pl.rowsPerGroup()) {
            int ng = Math.min(pl.rowsPerGroup(), N - n0);
            MemorySegment hid = rowsOf(hidden, n0, C, 4), dh = rowsOf(dhidden, n0, C, 4), tg = rowsOf(targets, n0, 1, 4);
            MemorySegment dl = rowsOf(dlogp, n0, 1, 4), de = p(rowsOf(dentropy, n0, 1, 4));
            MemorySegment ls = rowsOf(lse, n0, 1, 4), en = p(rowsOf(entropy, n0, 1, 4));
            for (int v0 = 0; v0 < V; v0 += pl.vocabPerChunk()) {
                int vc = Math.min(pl.vocabPerChunk(), V - v0);
                MemorySegment w = weight.asSlice((long) v0 * C * 4), dw = dweight.asSlice((long) v0 * C * 4);
                lastLaunch = "cublasGemmEx (logprob chunk)";
                Cublas.gemm(cublas, ch, hid, w, ng, vc, C, false, true, false, tf32);
                lastLaunch = "p4j_logprob_chunk_backward";
                Pref4jNative.logprobChunkBackward(ch, dl, de, ls, en, tg, ng, v0, vc, stream);
                lastLaunch = "cublasGemmEx (logprob dhidden)";
                Cublas.gemm(cublas, dh, ch, w, ng, C, vc, false, false, true, tf32);
                lastLaunch = "cublasGemmEx (logprob dweight)";
                Cublas.gemm(cublas, dw, ch, hid, vc, C, ng, true, false, true, tf32);
            }
        }
    }

    // ---------------------------------------------------------------- optimiser

    @Override public void adamw(MemorySegment params, MemorySegment grads, MemorySegment m, MemorySegment v,
                                long n, float lr, float beta1, float beta2, float eps, float weightDecay, int step) {
        if (step < 1) throw new IllegalArgumentException("adamw: step counts from 1, got " + step);
        enter("p4j_adamw");
        Pref4jNative.adamw(params, grads, m, v, n, lr, beta1, beta2, eps, weightDecay, step, stream);
    }

    @Override public double sumSquares(MemorySegment x, long n) {
        if (n <= 0) return 0;
        enter("p4j_sum_squares");
        if (sumOut == null) sumOut = allocate((long) Pref4jNative.SUM_SQUARES_OUT_DOUBLES * 8, "sumSquares");
        Pref4jNative.sumSquares(sumOut.segment(), x, n, stream);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(ValueLayout.JAVA_DOUBLE);
            CudaRuntime.memcpyAsync(host, sumOut.segment(), 8, CudaRuntime.DEVICE_TO_HOST, stream);
            syncStream();
            return host.get(ValueLayout.JAVA_DOUBLE, 0);
        }
    }

    // ---------------------------------------------------------------- sampling

    @Override public void sample(MemorySegment tokens, MemorySegment logp, MemorySegment logits,
                                 MemorySegment seeds, long counter, int B, int V,
                                 float temperature, int topK, float topP) {
        enter("p4j_sample");
        Pref4jNative.sample(tokens, p(logp), logits, seeds, counter, B, V, temperature, topK, topP, stream);
    }

    // ---------------------------------------------------------------- lifecycle

    @Override public void close() {
        if (closed) return;
        CudaException first = null;
        try {
            synchronize();
        } catch (CudaException e) {
            first = e;
        }
        closed = true;
        try {
            Cublas.destroy(cublas);
        } catch (CudaException e) {
            if (first == null) first = e;
        }
        for (DeviceBuffer b : buffers) {
            try {
                b.close();
            } catch (CudaException e) {
                if (first == null) first = e;
            }
        }
        buffers.clear();
        try {
            CudaRuntime.streamDestroy(stream);
        } catch (CudaException e) {
            if (first == null) first = e;
        }
        if (first != null) throw first;
    }

    // ================================================================ losses (fused)

    @Override public void pairwiseLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp,
                                       MemorySegment refLogp, MemorySegment rewards, MemorySegment chosenIdx,
                                       MemorySegment rejectedIdx, int S, int P, int type, int weightMode,
                                       float beta, float labelSmoothing, float ipoTau, float beta2) {
        enter("p4j_pairwise_loss");
        Pref4jNative.pairwiseLoss(metrics, dlogp, logp, p(refLogp), p(rewards), p(chosenIdx), p(rejectedIdx), S, P, type,
                weightMode, beta, labelSmoothing, ipoTau, beta2, stream);
    }

    @Override public void sftLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp,
                                  MemorySegment refLogp, MemorySegment lengths, MemorySegment rewards, int S) {
        enter("p4j_sft_loss");
        Pref4jNative.sftLoss(metrics, dlogp, logp, p(refLogp), lengths, p(rewards), S, stream);
    }

    @Override public void rwrLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp,
                                  MemorySegment refLogp, MemorySegment lengths, MemorySegment rewards,
                                  MemorySegment groups, int S, int G, boolean filter, int topK, float tau, float wMax) {
        enter("p4j_rwr_loss");
        Pref4jNative.rwrLoss(metrics, dlogp, logp, p(refLogp), lengths, p(rewards), p(groups), S, G, filter ? 1 : 0, topK,
                tau, wMax, stream);
    }

    @Override public void bestOfNLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp,
                                      MemorySegment refLogp, MemorySegment rewards, MemorySegment groups,
                                      int S, int G, int negativeMode, float betaNeg) {
        enter("p4j_best_of_n_loss");
        Pref4jNative.bestOfNLoss(metrics, dlogp, logp, p(refLogp), p(rewards), p(groups), S, G, negativeMode, betaNeg, stream);
    }

    @Override public void reinforceLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment state,
                                        MemorySegment logp, MemorySegment refLogp, MemorySegment rewards,
                                        MemorySegment groups, int S, int G, int baseline, float decay,
                                        float klCoef, float clipAdv) {
        enter("p4j_reinforce_loss");
        Pref4jNative.reinforceLoss(metrics, dlogp, p(state), logp, p(refLogp), p(rewards), p(groups), S, G, baseline, decay,
                klCoef, clipAdv, stream);
    }

    @Override public void ppoAdvantages(MemorySegment metrics, MemorySegment advantages, MemorySegment returns,
                                        MemorySegment oldLogp, MemorySegment refLogp, MemorySegment oldValues,
                                        MemorySegment scores, MemorySegment mask, int B, int T,
                                        float klCoef, float gamma, float lambda, boolean whiten) {
        enter("p4j_ppo_advantages");
        Pref4jNative.ppoAdvantages(metrics, advantages, returns, oldLogp, p(refLogp), oldValues, scores, mask, B, T, klCoef,
                gamma, lambda, whiten ? 1 : 0, stream);
    }

    @Override public void ppoLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment dvalue,
                                  MemorySegment logp, MemorySegment oldLogp, MemorySegment values,
                                  MemorySegment oldValues, MemorySegment advantages, MemorySegment returns,
                                  MemorySegment mask, int B, int T, float clipEps, float valueClip, float vfCoef) {
        enter("p4j_ppo_loss");
        Pref4jNative.ppoLoss(metrics, dlogp, dvalue, logp, oldLogp, values, oldValues, advantages, returns, mask, B, T,
                clipEps, valueClip, vfCoef, stream);
    }

    @Override public void grpoAdvantages(MemorySegment metrics, MemorySegment advantages, MemorySegment rewards,
                                         MemorySegment groups, int B, int G, int scaleRewards) {
        enter("p4j_grpo_advantages");
        Pref4jNative.grpoAdvantages(metrics, advantages, rewards, groups, B, G, scaleRewards, stream);
    }

    @Override public void grpoLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment oldLogp,
                                   MemorySegment refLogp, MemorySegment advantages, MemorySegment mask, int B, int T,
                                   int lossType, int importanceLevel, float epsilon, float epsilonHigh, float beta,
                                   int maxCompletionLength) {
        enter("p4j_grpo_loss");
        Pref4jNative.grpoLoss(metrics, dlogp, logp, oldLogp, p(refLogp), advantages, mask, B, T, lossType, importanceLevel,
                epsilon, epsilonHigh, beta, maxCompletionLength, stream);
    }

    @Override public void ktoLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment refLogp,
                                  MemorySegment labels, int S, float beta, float zRef, float desirableWeight,
                                  float undesirableWeight) {
        enter("p4j_kto_loss");
        Pref4jNative.ktoLoss(metrics, dlogp, logp, refLogp, labels, S, beta, zRef, desirableWeight, undesirableWeight, stream);
    }

    @Override public void lengthNormPairwiseLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp,
                                                 MemorySegment lengths, MemorySegment chosenIdx, MemorySegment rejectedIdx,
                                                 int S, int P, int type, float beta, float labelSmoothing,
                                                 float simpoGamma, float orpoLambda) {
        enter("p4j_length_norm_pairwise_loss");
        Pref4jNative.lengthNormPairwiseLoss(metrics, dlogp, logp, lengths, p(chosenIdx), p(rejectedIdx), S, P, type, beta,
                labelSmoothing, simpoGamma, orpoLambda, stream);
    }

    // ---------------------------------------------------------------- Llama family

    @Override public void attentionForward(MemorySegment out, MemorySegment lse, MemorySegment qkv,
                                           MemorySegment lengths, int B, int T, int NH, int NKV, int HS) {
        enter("p4j_gqa_attention_forward");
        Pref4jNative.gqaAttentionForward(out, lse, qkv, lengths, B, T, NH, NKV, HS, stream);
    }

    @Override public void attentionBackward(MemorySegment dqkv, MemorySegment dout, MemorySegment qkv,
                                            MemorySegment out, MemorySegment lse, MemorySegment lengths,
                                            int B, int T, int NH, int NKV, int HS) {
        enter("p4j_gqa_attention_backward");
        Pref4jNative.gqaAttentionBackward(dqkv, dout, qkv, out, lse, lengths, B, T, NH, NKV, HS, stream);
    }

    @Override public void kvCacheWrite(MemorySegment kCache, MemorySegment vCache, MemorySegment qkv,
                                       int B, int T, int NH, int NKV, int HS, int maxT) {
        enter("p4j_gqa_kv_cache_write");
        Pref4jNative.gqaKvCacheWrite(kCache, vCache, qkv, B, T, NH, NKV, HS, maxT, stream);
    }

    @Override public void attentionDecode(MemorySegment out, MemorySegment qkv, MemorySegment kCache,
                                          MemorySegment vCache, MemorySegment positions,
                                          int B, int NH, int NKV, int HS, int maxT) {
        enter("p4j_gqa_attention_decode");
        Pref4jNative.gqaAttentionDecode(out, qkv, kCache, vCache, positions, B, NH, NKV, HS, maxT, stream);
    }

    /** The dweight reductions' scratch (P4J_NORM_PARTIALS × columns floats), grown on demand. */
    private MemorySegment normScratch(int cols) {
        long n = (long) Pref4jNative.NORM_PARTIALS * Math.max(cols, 1);
        if (normScratch == null || normScratchN < n) {
            normScratch = grow(normScratch, normScratchN, n, 4, "norm scratch");
            normScratchN = n;
        }
        return normScratch.segment();
    }

    @Override public void rmsNormForward(MemorySegment out, MemorySegment rstd, MemorySegment inp,
                                         MemorySegment weight, int N, int C, float eps) {
        enter("p4j_rms_norm_forward");
        Pref4jNative.rmsNormForward(out, rstd, inp, weight, N, C, eps, stream);
    }

    @Override public void rmsNormBackward(MemorySegment dinp, MemorySegment dweight, MemorySegment dout,
                                          MemorySegment inp, MemorySegment weight, MemorySegment rstd, int N, int C) {
        enter("p4j_rms_norm_backward");
        MemorySegment scratch = normScratch(C);
        lastLaunch = "p4j_rms_norm_backward";
        Pref4jNative.rmsNormBackward(dinp, dweight, scratch, dout, inp, weight, rstd, N, C, stream);
    }

    @Override public void qkNormForward(MemorySegment qkvOut, MemorySegment rstd, MemorySegment qkvIn,
                                        MemorySegment qWeight, MemorySegment kWeight,
                                        int N, int NH, int NKV, int HS, float eps) {
        enter("p4j_qk_norm_forward");
        Pref4jNative.qkNormForward(qkvOut, rstd, qkvIn, qWeight, kWeight, N, NH, NKV, HS, eps, stream);
    }

    @Override public void qkNormBackward(MemorySegment dqkvIn, MemorySegment dqWeight, MemorySegment dkWeight,
                                         MemorySegment dqkvOut, MemorySegment qkvIn, MemorySegment qWeight,
                                         MemorySegment kWeight, MemorySegment rstd, int N, int NH, int NKV, int HS) {
        enter("p4j_qk_norm_backward");
        MemorySegment scratch = normScratch(HS);
        lastLaunch = "p4j_qk_norm_backward";
        Pref4jNative.qkNormBackward(dqkvIn, dqWeight, dkWeight, scratch, dqkvOut, qkvIn, qWeight, kWeight, rstd,
                N, NH, NKV, HS, stream);
    }

    /**
     * The positions a RoPE table holds: its rows of HS/2 values, from the segment's size
     * (Kernels' signature has no maxPos; the kernel turns a position beyond it into NaN
     * instead of reading outside the table). A view sized to the table gives it exactly.
     */
    static int ropeTableRows(MemorySegment table, int HS) {
        long rows = table.byteSize() / (4L * Math.max(HS / 2, 1));
        return (int) Math.min(rows, Integer.MAX_VALUE);
    }

    @Override public void ropeForward(MemorySegment qkv, MemorySegment cos, MemorySegment sin, MemorySegment positions,
                                      int B, int T, int NH, int NKV, int HS) {
        enter("p4j_rope_forward");
        int maxPos = Math.min(ropeTableRows(cos, HS), ropeTableRows(sin, HS));
        Pref4jNative.ropeForward(qkv, cos, sin, p(positions), B, T, NH, NKV, HS, maxPos, stream);
    }

    @Override public void ropeBackward(MemorySegment dqkv, MemorySegment cos, MemorySegment sin, MemorySegment positions,
                                       int B, int T, int NH, int NKV, int HS) {
        enter("p4j_rope_backward");
        int maxPos = Math.min(ropeTableRows(cos, HS), ropeTableRows(sin, HS));
        Pref4jNative.ropeBackward(dqkv, cos, sin, p(positions), B, T, NH, NKV, HS, maxPos, stream);
    }

    @Override public void swigluForward(MemorySegment out, MemorySegment inp, int N, int I) {
        enter("p4j_swiglu_forward");
        Pref4jNative.swigluForward(out, inp, N, I, stream);
    }

    @Override public void swigluBackward(MemorySegment dinp, MemorySegment dout, MemorySegment inp, int N, int I) {
        enter("p4j_swiglu_backward");
        Pref4jNative.swigluBackward(dinp, dout, inp, N, I, stream);
    }
}
