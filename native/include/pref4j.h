/*
 * pref4j.h - the C ABI of libpref4j_cuda.so, pref4j's CUDA kernel library.
 *
 * Every function here computes the same function as the method of the same name in
 * java/src/main/java/io/pref4j/kernel/Kernels.java (p4j_<snake_case of the method>); the
 * Javadoc there is the specification and the pure-Java CPU backend (kernel/cpu/) is the
 * reference. This header adds only what the C boundary needs.
 *
 * Conventions (ARCHITECTURE.md, "The native boundary")
 *  - extern "C"; every buffer argument is a device pointer (void*, const void* when only
 *    read). Float buffers are fp32, int buffers int32, "long" buffers int64, row-major,
 *    indexed from element 0 of the pointer given (pass base + offset for views).
 *  - Sizes are int; element counts that may exceed 2^31 are long long.
 *  - The stream (a cudaStream_t, NULL = legacy default stream) is always the LAST argument.
 *  - Launch configuration is chosen here; callers never compute grids.
 *  - Return value: 0 (P4J_OK) on success; > 0 a cudaError_t (from cudaGetLastError after
 *    the launch, or from a runtime call), see p4j_status_string; < 0 a P4J_E_* code for a
 *    bad argument, in which case nothing was launched (or, for the functions documented as
 *    validating device data, the outputs are unspecified).
 *  - Functions are asynchronous on `stream` unless documented "Synchronises".
 *  - Optional pointers (documented "may be NULL") mean "absent" when NULL.
 *  - n <= 0 / N <= 0 / B <= 0 sizes launch nothing and return 0 (negative sizes:
 *    P4J_E_INVALID_ARGUMENT).
 *  - Parameter gradients (dweight, dbias, dwte, dwpe, ...) are accumulated (+=);
 *    activation gradients follow the Javadoc (+= or =), repeated in each comment here.
 *  - Matrix products are not in this library: the Java side calls cuBLAS directly.
 *  - Determinism: every kernel is deterministic (run-to-run bit-identical) EXCEPT those
 *    marked "atomic": embedding_backward (dwte), scatter_add_rows, attention_backward and
 *    gqa_attention_backward (dq part, fp32 atomics as in FlashAttention-2; dk, dv too in the
 *    fp32 fallback for head sizes other than 64/128).
 *  - Thread safety: functions may be called concurrently from several host threads on
 *    different streams. The synchronising functions use a small per-thread, per-device
 *    status word allocated on first use.
 */
#ifndef PREF4J_H
#define PREF4J_H

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ status, version */

#define P4J_OK 0
/** A scalar argument is invalid: negative size, unknown mode code, a required pointer is
 *  NULL, an input a mode needs is missing (e.g. rewards for weighted wdpo). */
#define P4J_E_INVALID_ARGUMENT (-1)
/** A device index is outside its range (pair index, group id, token, target). Only
 *  returned by functions documented as validating device data (they synchronise). */
#define P4J_E_OUT_OF_RANGE (-2)
/** BASELINE_RLOO with a non-empty prompt group of one member. */
#define P4J_E_GROUP_TOO_SMALL (-3)
/** A supported-shape limit: e.g. head size > 256 in attention_decode, C not divisible by
 *  NH. */
#define P4J_E_UNSUPPORTED (-4)

/** A static, human-readable string for any status (P4J_* or cudaError_t). Never NULL. */
const char* p4j_status_string(int status);

/** The library version: major*10000 + minor*100 + patch (this is 1.0.0 -> 10000). */
int p4j_version(void);

/** ABI version: bumped whenever a signature in this header changes. Currently 1. */
#define P4J_ABI_VERSION 1
int p4j_abi_version(void);

/**
 * Validation helper. Synchronises. Returns 0 when every x[i] (int32, i < n) lies in
 * [lo, hi), P4J_E_OUT_OF_RANGE otherwise (e.g. tokens vs [0, V), logprob targets vs
 * [INT_MIN, V) ). Use it where SPEC §8 asks for validation of ids on the device.
 */
int p4j_check_ints(const void* x, long long n, int lo, int hi, void* stream);

/* ------------------------------------------------------------------ runtime (library.cu) */

/*
 * Thin wrappers over the CUDA runtime that this library embeds statically, so that a host
 * needs no libcudart.so of its own: out-parameters are HOST pointers; every function returns
 * 0 or a cudaError_t (or P4J_E_INVALID_ARGUMENT for a NULL out-parameter / negative size).
 * Streams are cudaStream_t as void*; NULL is the legacy default stream. All of them use
 * the primary context of the current device, which cuBLAS shares.
 */
/** *count = number of CUDA devices (0 with a driver but no device; a cudaError_t such as
 *  35, cudaErrorInsufficientDriver, when there is no usable driver). */
int p4j_device_count(int* count);
/** Makes `device` current for the calling host thread. */
int p4j_set_device(int device);
/** The device's name into buf (NUL-terminated, at most len bytes), and its compute
 *  capability as major*10 + minor into *cc (cc may be NULL). */
int p4j_device_info(int device, char* buf, int len, int* cc);
/** Free and total device memory of the current device, in bytes. */
int p4j_mem_get_info(long long* free_bytes, long long* total_bytes);
/** *ptr = cudaMalloc(bytes) (bytes 0 gives NULL and 0). */
int p4j_malloc(void** ptr, long long bytes);
/** cudaFree (NULL is fine). */
int p4j_free(void* ptr);
/** Pinned host memory: cudaMallocHost / cudaFreeHost. */
int p4j_malloc_host(void** ptr, long long bytes);
int p4j_free_host(void* ptr);
/** cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream): any direction (unified
 *  addressing tells host from device). With pageable host memory it returns once the
 *  source is consumed; a device-to-host copy needs p4j_stream_synchronize before reading. */
int p4j_memcpy_async(void* dst, const void* src, long long bytes, void* stream);
/** cudaMemsetAsync(ptr, value, bytes, stream). */
int p4j_memset_async(void* ptr, int value, long long bytes, void* stream);
/** *stream = a new non-blocking stream; destroy with p4j_stream_destroy. */
int p4j_stream_create(void** stream);
int p4j_stream_destroy(void* stream);
int p4j_stream_synchronize(void* stream);
int p4j_device_synchronize(void);
/** cudaGetLastError: returns and clears the last (non-sticky) error of this thread. */
int p4j_get_last_error(void);

/* ------------------------------------------------------------------ elementwise (elementwise.cu) */

/** x[i] = value for i in [0, n). */
int p4j_fill(void* x, long long n, float value, void* stream);

/** out = a + b over n elements (out may alias a or b). */
int p4j_add(void* out, const void* a, const void* b, long long n, void* stream);

/** y += x over n elements. */
int p4j_accumulate(void* y, const void* x, long long n, void* stream);

/** x *= s over n elements. */
int p4j_scale(void* x, long long n, float s, void* stream);

/** out = GELU_tanh(inp) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
int p4j_gelu_forward(void* out, const void* inp, long long n, void* stream);

/** dinp (=) GELU_tanh'(inp) * dout. dinp may alias dout. */
int p4j_gelu_backward(void* dinp, const void* inp, const void* dout, long long n, void* stream);

/* ------------------------------------------------------------------ rows (rows.cu) */

/** dbias[N] += sum over rows of dout[M,N]. Deterministic (one block per column stripe). */
int p4j_bias_backward(void* dbias, const void* dout, int M, int N, void* stream);

/** out[r] (=) sum_c x[r,c] for x[rows, cols]. */
int p4j_row_sum(void* out, const void* x, int rows, int cols, void* stream);

/** out[r,c] (=) x[r] for out[rows, cols]. */
int p4j_row_broadcast(void* out, const void* x, int rows, int cols, void* stream);

/** out[b,:] (=) x[rows[b],:] for b in [0,R); x has C columns; rows int32. A negative row
 *  index gives a zero row. */
int p4j_gather_rows(void* out, const void* x, const void* rows, int R, int C, void* stream);

/** dx[rows[b],:] += dout[b,:] for b in [0,R). Atomic (rows may repeat); negative rows are
 *  skipped. */
int p4j_scatter_add_rows(void* dx, const void* dout, const void* rows, int R, int C, void* stream);

/* ------------------------------------------------------------------ layernorm (layernorm.cu) */

/** LayerNorm over C, eps = 1e-5: out[N,C] = (inp - mean) * rstd * weight + bias;
 *  mean[N], rstd[N] (=) saved for the backward. One warp per row. */
int p4j_layer_norm_forward(void* out, void* mean, void* rstd, const void* inp,
                           const void* weight, const void* bias, int N, int C, void* stream);

/** dinp[N,C] +=, dweight[C] +=, dbias[C] += the LayerNorm gradients given dout.
 *  Deterministic: dinp by one warp per row; dweight/dbias by a second kernel, one block
 *  per 32-column stripe summing all N rows in a fixed order (no atomics, no scratch). */
int p4j_layer_norm_backward(void* dinp, void* dweight, void* dbias, const void* dout,
                            const void* inp, const void* weight, const void* mean,
                            const void* rstd, int N, int C, void* stream);

/* ------------------------------------------------------------------ embedding (embedding.cu) */

/** out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:] for all t < T (padding rows too). V is the
 *  number of rows of wte: a token outside [0,V) gives a NaN row instead of reading outside
 *  wte (validate with p4j_check_ints). */
int p4j_embedding_forward(void* out, const void* tokens, const void* wte, const void* wpe,
                          int B, int T, int C, int V, void* stream);

/** dwte[tokens[b,t],:] += dout[b,t,:] (atomic: fp32 atomicAdd, order-dependent rounding);
 *  dwpe[t,:] += dout[b,t,:] (deterministic: one thread per (t,c) sums b in order).
 *  Tokens outside [0,V) are skipped. */
int p4j_embedding_backward(void* dwte, void* dwpe, const void* dout, const void* tokens,
                           int B, int T, int C, int V, void* stream);

/* ------------------------------------------------------------------ attention (attention.cu) */

/*
 * Grouped-query attention (Kernels' "Llama family" section). The fused layout is
 * qkv[B,T,QKV], QKV = (NH + 2*NKV)*HS, each row [q (NH*HS) | k (NKV*HS) | v (NKV*HS)]; query
 * head h uses key/value head h / (NH/NKV) (NKV = NH multi-head, NKV = 1 multi-query).
 * Outputs out[B,T,NH*HS]. The GPT-2 functions further down are the case NKV = NH,
 * HS = C/NH and call these. Shape errors, for all of them: a negative B or T, NH, NKV or
 * HS <= 0, NH % NKV != 0: P4J_E_INVALID_ARGUMENT; HS > 256 or (forward/backward)
 * B*NH > 65535: P4J_E_UNSUPPORTED.
 */

/**
 * Causal grouped-query self-attention (flash-style: online softmax, no T x T buffer).
 * lengths[B] int32 (values > T are treated as T, < 0 as 0). Query t < lengths[b] attends to
 * keys s <= t, scale 1/sqrt(HS). out[B,T,NH*HS] (=), lse[B,NH,T] (=) log-sum-exp of the
 * scaled scores. Rows t >= lengths[b]: out = 0, lse = 0.
 * HS 64 and 128 with 16-byte-aligned out and qkv: bf16 tensor cores (mma.sync m16n8k16, fp32
 * accumulate; q,k,v rounded to bf16 in shared memory, softmax in fp32), one block per
 * (64 queries, b, query head). Other HS (<= 256) or unaligned pointers: an fp32 fallback
 * (one warp per query; slow, for tests and odd shapes).
 */
int p4j_gqa_attention_forward(void* out, void* lse, const void* qkv, const void* lengths,
                              int B, int T, int NH, int NKV, int HS, void* stream);

/**
 * dqkv[B,T,QKV] (=) the gradient of p4j_gqa_attention_forward given dout[B,T,NH*HS] and the
 * forward's qkv, out, lse. Padding rows of dqkv are 0; padding never receives gradient.
 * dqkv is zeroed (cudaMemsetAsync) and then filled. HS 64/128 (16-byte-aligned dqkv, dout,
 * qkv), bf16 tensor cores: one block per (64 keys, b, kv head) loops over the NH/NKV query
 * heads of its group, so each kv head's dk, dv have a single writer (race-free plain
 * stores, summed over the group's heads in head order: deterministic); dq by fp32 atomics
 * (atomic, like FlashAttention-2). Other HS: an fp32 fallback, one warp per query, with
 * dq stored and dk, dv added by fp32 atomics (atomic).
 */
int p4j_gqa_attention_backward(void* dqkv, const void* dout, const void* qkv, const void* out,
                               const void* lse, const void* lengths, int B, int T, int NH,
                               int NKV, int HS, void* stream);

/** KV-cache prefill: copies k and v of qkv[B,T,QKV] into k_cache / v_cache, each
 *  [B, NKV, maxT, HS], at positions 0..T-1 (T <= maxT, else P4J_E_INVALID_ARGUMENT). */
int p4j_gqa_kv_cache_write(void* k_cache, void* v_cache, const void* qkv,
                           int B, int T, int NH, int NKV, int HS, int maxT, void* stream);

/**
 * One grouped-query decode step for B rows, one new token each. qkv[B,QKV] holds the new
 * tokens' q,k,v (already rotated when the model uses RoPE); positions[b] (int32) is row b's
 * position. Writes k,v into the caches ([B, NKV, maxT, HS]) at positions[b], then
 * out[B,NH*HS] (=) attention of q over cache positions 0..positions[b] inclusive (fp32
 * throughout; one block per (b, query head); the new token's k, v are read from qkv, and
 * written to the cache by the first query head of each group only). A position outside
 * [0, maxT) gives a zero output row and writes nothing. maxT <= 0: P4J_E_INVALID_ARGUMENT.
 */
int p4j_gqa_attention_decode(void* out, const void* qkv, void* k_cache, void* v_cache,
                             const void* positions, int B, int NH, int NKV, int HS, int maxT,
                             void* stream);

/**
 * Causal multi-head self-attention, GPT-2's layout: p4j_gqa_attention_forward with NKV = NH,
 * HS = C/NH (qkv[B,T,3C], each row [q(C) | k(C) | v(C)], head h = columns h*HS..(h+1)*HS-1
 * of each part; out[B,T,C] (=), lse[B,NH,T] (=)). C % NH != 0: P4J_E_UNSUPPORTED.
 */
int p4j_attention_forward(void* out, void* lse, const void* qkv, const void* lengths,
                          int B, int T, int C, int NH, void* stream);

/**
 * dqkv[B,T,3C] (=) the gradient of p4j_attention_forward given dout[B,T,C] and the forward's
 * qkv, out, lse: p4j_gqa_attention_backward with NKV = NH, HS = C/NH (dq atomic; dk, dv
 * atomic only in the fp32 fallback).
 */
int p4j_attention_backward(void* dqkv, const void* dout, const void* qkv, const void* out,
                           const void* lse, const void* lengths, int B, int T, int C, int NH,
                           void* stream);

/** KV-cache prefill: copies k and v of qkv[B,T,3C] into k_cache / v_cache, each
 *  [B, NH, maxT, HS], at positions 0..T-1 (T <= maxT and C % NH == 0, else
 *  P4J_E_INVALID_ARGUMENT). p4j_gqa_kv_cache_write with NKV = NH. */
int p4j_kv_cache_write(void* k_cache, void* v_cache, const void* qkv,
                       int B, int T, int C, int NH, int maxT, void* stream);

/**
 * One decode step for B rows, one new token each: p4j_gqa_attention_decode with NKV = NH,
 * HS = C/NH (qkv[B,3C], caches [B, NH, maxT, HS], out[B,C] (=)). HS <= 256.
 */
int p4j_attention_decode(void* out, const void* qkv, void* k_cache, void* v_cache,
                         const void* positions, int B, int C, int NH, int maxT, void* stream);

/* ------------------------------------------------------------------ Llama-family layers (llama.cu) */

/*
 * RMSNorm, Qwen3's per-head q/k RMSNorm, RoPE and SwiGLU, fp32. The per-element formulas are
 * host/device inline functions in cuda/llama.cuh. The backward kernels that accumulate a
 * weight gradient (rms_norm_backward, qk_norm_backward) do it deterministically, without
 * atomics, by a two-pass reduction through a caller-supplied device scratch buffer: pass 1
 * sums fixed chunks of rows per 32-column stripe into scratch[p, c] (p < P4J_NORM_PARTIALS),
 * pass 2 adds the partials in order into dweight.
 */
#define P4J_NORM_PARTIALS 128

/** RMSNorm over C: rstd[N] (=) 1/sqrt(mean(inp^2) + eps) (fp32), out[N,C] (=)
 *  inp * rstd * weight (HF LlamaRMSNorm). out may not alias inp. One warp per row.
 *  eps < 0 or NaN: P4J_E_INVALID_ARGUMENT. */
int p4j_rms_norm_forward(void* out, void* rstd, const void* inp, const void* weight,
                         int N, int C, float eps, void* stream);

/** dinp[N,C] += rstd*w*dout - rstd^3/C * inp * sum_c(w*dout*inp) (one warp per row);
 *  dweight[C] += sum_n dout*inp*rstd (deterministic two-pass reduction). scratch: a device
 *  buffer of at least P4J_NORM_PARTIALS * C floats (overwritten). */
int p4j_rms_norm_backward(void* dinp, void* dweight, void* scratch, const void* dout,
                          const void* inp, const void* weight, const void* rstd,
                          int N, int C, void* stream);

/**
 * Qwen3's q/k norm on the fused layout qkv[N, (NH+2*NKV)*HS]: each of the NH query heads of
 * a row RMS-normalised over its HS values and scaled by q_weight[HS], each of the NKV key
 * heads likewise with k_weight[HS], v copied unchanged, into qkv_out (=, same layout; may not
 * alias qkv_in). rstd[N, NH+NKV] (=), query heads first. NH % NKV != 0 or a size <= 0 (N < 0):
 * P4J_E_INVALID_ARGUMENT.
 */
int p4j_qk_norm_forward(void* qkv_out, void* rstd, const void* qkv_in, const void* q_weight,
                        const void* k_weight, int N, int NH, int NKV, int HS, float eps,
                        void* stream);

/** Backward of p4j_qk_norm_forward: dqkv_in (=) from dqkv_out (v passes through; may not
 *  alias), dq_weight[HS] +=, dk_weight[HS] += (deterministic two-pass reductions). scratch: a
 *  device buffer of at least P4J_NORM_PARTIALS * HS floats (overwritten). */
int p4j_qk_norm_backward(void* dqkv_in, void* dq_weight, void* dk_weight, void* scratch,
                         const void* dqkv_out, const void* qkv_in, const void* q_weight,
                         const void* k_weight, const void* rstd, int N, int NH, int NKV, int HS,
                         void* stream);

/**
 * RoPE (HF rotate_half), in place on the NH + NKV q and k heads of qkv[B*T,(NH+2*NKV)*HS]
 * (v untouched). Row (b, t) is at position p = (positions ? positions[b] : 0) + t (positions
 * int32[B], may be NULL); half = HS/2; for each head and i < half: x1 = x[i], x2 = x[i+half],
 * x[i] = x1 cos[p,i] - x2 sin[p,i], x[i+half] = x2 cos[p,i] + x1 sin[p,i]. cos, sin: device
 * tables [max_pos, half]. A position outside [0, max_pos) makes that row's q and k NaN.
 * HS odd, NH % NKV != 0, max_pos < 0: P4J_E_INVALID_ARGUMENT.
 */
int p4j_rope_forward(void* qkv, const void* cos, const void* sin, const void* positions,
                     int B, int T, int NH, int NKV, int HS, int max_pos, void* stream);

/** Backward of p4j_rope_forward, in place on dqkv (the inverse rotation):
 *  dx1 = dy1 cos + dy2 sin, dx2 = dy2 cos - dy1 sin; v untouched. Same arguments. */
int p4j_rope_backward(void* dqkv, const void* cos, const void* sin, const void* positions,
                      int B, int T, int NH, int NKV, int HS, int max_pos, void* stream);

/** SwiGLU: inp[N, 2I] = [gate | up] per row; out[N, I] (=) silu(gate) * up,
 *  silu(x) = x * sigmoid(x). */
int p4j_swiglu_forward(void* out, const void* inp, int N, int I, void* stream);

/** dinp[N, 2I] (=) [dout * up * silu'(gate) | dout * silu(gate)] given dout[N, I]. */
int p4j_swiglu_backward(void* dinp, const void* dout, const void* inp, int N, int I, void* stream);

/* ------------------------------------------------------------------ log-probs (logprob.cu) */

/**
 * Chunked log-softmax gather: the kernels that the Java side sequences around its cuBLAS
 * GEMMs to implement Kernels.logprobForward / logprobBackward without an [N,V] buffer.
 *
 * stats: an opaque device buffer of P4J_LOGPROB_STATS_FLOATS * N floats (8-byte aligned)
 * holding, per row, the running max, sum of exp, sum of exp*(z - max) and the target logit
 * (in double).
 * A chunk is the logits of vocabulary entries v0 .. v0+Vc-1 for the N rows, laid out
 * row-major [N, Vc] (row n's logit of token v0+j at chunk[n*Vc + j]); with row-major
 * hidden[N,C] and weight[V,C] it is hidden . weight[v0:v0+Vc]^T, i.e. in cuBLAS's
 * column-major terms C(Vc x N, ldc = Vc) = W_chunk(op T) * H (e.g. cublasGemmEx(OP_T, OP_N,
 * Vc, N, C, weight + v0*C, lda=C, hidden, ldb=C, chunk, ldc=Vc)).
 *
 * Forward (logp[N], entropy[N] (may be NULL), lse[N] all =):
 *   p4j_logprob_init(stats, N)
 *   for v0 in 0, Vc, 2Vc, ... < V:   (any chunk sizes, in any order, each token once)
 *       GEMM: chunk = logits of v0 .. v0+vc-1
 *       p4j_logprob_chunk_forward(stats, chunk, targets, N, v0, vc, V)
 *   p4j_logprob_finalize(logp, entropy, lse, stats, targets, N, V)
 * Backward (dhidden += dz . weight, dweight += dz^T . hidden):
 *   for each chunk v0 .. v0+vc-1:
 *       GEMM: chunk = logits (recomputed as in the forward)
 *       p4j_logprob_chunk_backward(chunk, dlogp, dentropy, lse, entropy, targets, N, v0, vc)
 *           -> chunk now holds dz[N, vc]
 *       GEMM: dhidden[N,C] += chunk[N,vc] . weight[v0:v0+vc, :]
 *       GEMM: dweight[v0:v0+vc, :] += chunk^T . hidden[N,C]
 * Rows may also be processed in groups (offset stats by n0*P4J_LOGPROB_STATS_FLOATS, and
 * targets/logp/... by n0). Rows with targets[n] < 0 get logp = entropy = lse = 0 and dz = 0.
 * A target >= V gives NaN in logp/entropy/lse (check with p4j_check_ints first if needed).
 */
#define P4J_LOGPROB_STATS_FLOATS 8

/** stats[N] = empty (max -inf, sums 0). */
int p4j_logprob_init(void* stats, int N, void* stream);

/** Folds chunk[N, Vc] (tokens v0 .. v0+Vc-1 of a V-token vocabulary) into stats.
 *  targets[N] int32. One warp per row. */
int p4j_logprob_chunk_forward(void* stats, const void* chunk, const void* targets,
                              int N, int v0, int Vc, int V, void* stream);

/** logp[n] = z[target] - lse, lse[n] = logsumexp(z), entropy[n] = -sum p log p (entropy may
 *  be NULL); 0 for rows with targets[n] < 0. */
int p4j_logprob_finalize(void* logp, void* entropy, void* lse, const void* stats,
                         const void* targets, int N, int V, void* stream);

/** In place over chunk[N, Vc] (the logits of tokens v0 .. v0+Vc-1):
 *  dz = dlogp*(onehot - p) - dentropy*p*(log p + H), p = exp(z - lse[n]), H = entropy[n].
 *  dlogp[N] required; dentropy may be NULL (then entropy may be NULL); dz = 0 on rows with
 *  targets[n] < 0. */
int p4j_logprob_chunk_backward(void* chunk, const void* dlogp, const void* dentropy,
                               const void* lse, const void* entropy, const void* targets,
                               int N, int v0, int Vc, void* stream);

/* ------------------------------------------------------------------ optimiser (optim.cu) */

/** AdamW (PyTorch semantics), step counts from 1 (step < 1: P4J_E_INVALID_ARGUMENT):
 *  m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; mh = m/(1-b1^step); vh = v/(1-b2^step);
 *  p -= lr (mh/(sqrt(vh) + eps) + weight_decay p). */
int p4j_adamw(void* params, const void* grads, void* m, void* v, long long n, float lr,
              float beta1, float beta2, float eps, float weight_decay, int step, void* stream);

/** Doubles that p4j_sum_squares's out buffer must hold. */
#define P4J_SUM_SQUARES_OUT_DOUBLES 1024

/** out[0] (a double) = sum x[i]^2 over n elements, accumulated in double, deterministic.
 *  out: device buffer of P4J_SUM_SQUARES_OUT_DOUBLES doubles (8-byte aligned); out[1..] is
 *  scratch. Asynchronous: copy out[0] (8 bytes) back to read it. */
int p4j_sum_squares(void* out, const void* x, long long n, void* stream);

/* ------------------------------------------------------------------ sampling (sample.cu) */

/**
 * One token per row from logits[B,V] (only read), exactly Kernels.sample / CpuSampler:
 * u = CounterRng.uniform(seeds[b], counter) (seeds int64[B]; bit-exact SplitMix64 as in
 * CounterRng.java). temperature <= 0: argmax, lowest index on ties. Else s = z/temperature,
 * w = exp(s - max s); topK > 0 (and < V) keeps the topK largest s (ties to the lower index);
 * topP < 1 keeps the shortest prefix, in descending s (ties to lower index), of the kept
 * tokens whose mass reaches topP * kept mass (at least one); then the kept tokens are walked
 * in ascending index order and the first whose running sum of w exceeds u * total is taken.
 * tokens[b] (int32, =), logp[b] (=, may be NULL) its log-probability under the softmax of
 * the raw logits. One block per row, radix selection (no sort of the vocabulary). Sums
 * are in double but in a different order from the CPU's, so the same seed gives the same
 * token except where a running sum lies within rounding of the threshold.
 */
int p4j_sample(void* tokens, void* logp, const void* logits, const void* seeds,
               long long counter, int B, int V, float temperature, int topK, float topP,
               void* stream);

/* ------------------------------------------------------------------ fused losses (losses.cu) */

/*
 * Each loss is one single-block kernel from per-sequence (PPO: per-token) inputs to the loss,
 * metrics and gradients, with reductions in double. metrics is a float[P4J_METRICS] buffer
 * with the slots of Kernels.LossOps (LOSS 0, MEAN_H 1, CHOSEN_REWARD 2, REJECTED_REWARD 3,
 * MARGIN 4, ACCURACY 5, MEAN_WEIGHT 6, MEAN_REWARD 7, KL 8, ENTROPY 9, POLICY_LOSS 10,
 * VALUE_LOSS 11, CLIP_FRAC 12, APPROX_KL 13, MEAN_RETURN 14, COUNT 15, CLIP_LOW_FRAC 16,
 * CLIP_HIGH_FRAC 17, REWARD_STD 18, ZERO_STD_FRAC 19, NLL 20); each writes exactly the slots
 * the Javadoc lists (the functions before grpo write only slots < 16, so a float[16] buffer
 * still suffices for them). Gradients are overwritten (=). Ints are int32. Codes are LossOps's:
 *   pairwise type DPO 0, IPO 1, HINGE 2, WDPO 3 (pairwise_loss), SIMPO 4, ORPO 5
 *   (length_norm_pairwise_loss); weight mode NONE 0, EXP 1, SIGMOID 2, LINEAR 3;
 *   best-of-N NEG_NONE 0, NEG_AVERAGE_OVER_WORSE 1, NEG_WORST 2;
 *   baselines NONE 0, MOVING_AVERAGE 1, BATCH_MEAN 2, PER_PROMPT_MEAN 3, RLOO 4;
 *   GRPO scale_rewards NONE 0, GROUP 1, BATCH 2; loss_type GRPO 0, BNPO 1, DR_GRPO 2, DAPO 3;
 *   importance level TOKEN 0, SEQUENCE 1.
 * The loss functions validate their device indices and SYNCHRONISE the stream to return
 * P4J_E_OUT_OF_RANGE (pair index outside [0,S), group outside [0,G), a KTO label other than
 * 0/1, an empty response in a SimPO/ORPO pair) or P4J_E_GROUP_TOO_SMALL (rloo, grpo
 * advantages); outputs are then unspecified. S, P, G, B*T up to 2^31.
 */
#define P4J_METRICS 21

/** Kernels.pairwiseLoss. rewards may be NULL unless type == WDPO and weight_mode != NONE. */
int p4j_pairwise_loss(void* metrics, void* dlogp, const void* logp, const void* ref_logp,
                      const void* rewards, const void* chosen_idx, const void* rejected_idx,
                      int S, int P, int type, int weight_mode, float beta,
                      float label_smoothing, float ipo_tau, float beta2, void* stream);

/** Kernels.sftLoss. ref_logp and rewards may be NULL. */
int p4j_sft_loss(void* metrics, void* dlogp, const void* logp, const void* ref_logp,
                 const void* lengths, const void* rewards, int S, void* stream);

/** Kernels.rwrLoss (filter: 0/1). rewards required; groups required when filter;
 *  ref_logp may be NULL. */
int p4j_rwr_loss(void* metrics, void* dlogp, const void* logp, const void* ref_logp,
                 const void* lengths, const void* rewards, const void* groups, int S, int G,
                 int filter, int topK, float tau, float w_max, void* stream);

/** Kernels.bestOfNLoss. ref_logp may be NULL. */
int p4j_best_of_n_loss(void* metrics, void* dlogp, const void* logp, const void* ref_logp,
                       const void* rewards, const void* groups, int S, int G,
                       int negative_mode, float beta_neg, void* stream);

/** Kernels.reinforceLoss. state float[2] (read and written) only for MOVING_AVERAGE;
 *  groups only for PER_PROMPT_MEAN / RLOO; ref_logp may be NULL when kl_coef == 0. */
int p4j_reinforce_loss(void* metrics, void* dlogp, void* state, const void* logp,
                       const void* ref_logp, const void* rewards, const void* groups,
                       int S, int G, int baseline, float decay, float kl_coef, float clip_adv,
                       void* stream);

/** Kernels.ppoAdvantages (whiten: 0/1). All per-token buffers [B,T]; mask int32. */
int p4j_ppo_advantages(void* metrics, void* advantages, void* returns, const void* old_logp,
                       const void* ref_logp, const void* old_values, const void* scores,
                       const void* mask, int B, int T, float kl_coef, float gamma,
                       float lambda, int whiten, void* stream);

/** Kernels.ppoLoss. dlogp, dvalue [B,T] (=). */
int p4j_ppo_loss(void* metrics, void* dlogp, void* dvalue, const void* logp,
                 const void* old_logp, const void* values, const void* old_values,
                 const void* advantages, const void* returns, const void* mask, int B, int T,
                 float clip_eps, float value_clip, float vf_coef, void* stream);

/** Kernels.grpoAdvantages. advantages, rewards, groups [B]; every non-empty group needs >= 2
 *  members (P4J_E_GROUP_TOO_SMALL). Synchronises. */
int p4j_grpo_advantages(void* metrics, void* advantages, const void* rewards, const void* groups,
                        int B, int G, int scale_rewards, void* stream);

/** Kernels.grpoLoss. dlogp [B,T] (=); ref_logp may be NULL when beta == 0;
 *  max_completion_length read only by DR_GRPO (>= 1 then). Asynchronous. */
int p4j_grpo_loss(void* metrics, void* dlogp, const void* logp, const void* old_logp,
                  const void* ref_logp, const void* advantages, const void* mask, int B, int T,
                  int loss_type, int importance_level, float epsilon, float epsilon_high,
                  float beta, int max_completion_length, void* stream);

/** Kernels.ktoLoss. labels int32 [S], 0 or 1 (else P4J_E_OUT_OF_RANGE). Synchronises. */
int p4j_kto_loss(void* metrics, void* dlogp, const void* logp, const void* ref_logp,
                 const void* labels, int S, float beta, float z_ref, float desirable_weight,
                 float undesirable_weight, void* stream);

/** Kernels.lengthNormPairwiseLoss (type SIMPO or ORPO). lengths int32 [S]. Synchronises. */
int p4j_length_norm_pairwise_loss(void* metrics, void* dlogp, const void* logp,
                                  const void* lengths, const void* chosen_idx,
                                  const void* rejected_idx, int S, int P, int type, float beta,
                                  float label_smoothing, float simpo_gamma, float orpo_lambda,
                                  void* stream);

#ifdef __cplusplus
}
#endif

#endif /* PREF4J_H */
