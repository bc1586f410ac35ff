package io.pref4j.kernel;

import java.lang.foreign.MemorySegment;

/**
 * The kernel API: every numeric operation pref4j's model and trainer need, on flat buffers
 * and plain ints, in the style of llm.c. Model code talks only to this interface; the
 * backend (pure-Java CPU, or CUDA) is chosen once.
 *
 * <h2>Buffers</h2>
 * A buffer is a {@link MemorySegment} obtained from {@link #allocFloats}/{@link #allocInts}/
 * {@link #allocLongs} (or, on the CPU backend, any native segment a caller allocated
 * itself). Float buffers hold fp32 in native byte order, int buffers int32, long buffers
 * int64. Views are {@code asSlice} of a buffer; every method indexes its arguments from
 * element 0 of the segment it is given. On the CPU backend buffers are ordinary host
 * memory; on a GPU backend they are device pointers and must be moved with
 * {@link #write}/{@link #read}.
 *
 * <h2>Conventions</h2>
 * <ul>
 *   <li>Row-major everywhere. {@code B} batch, {@code T} sequence length (padded), {@code C}
 *       channels, {@code NH} heads ({@code HS = C / NH}), {@code V} vocabulary, {@code N}
 *       rows ({@code B*T} unless said).</li>
 *   <li>Sequences are right-padded: {@code lengths[b]} tokens are real, positions
 *       {@code t >= lengths[b]} are padding.</li>
 *   <li>Backward methods <b>accumulate</b> ({@code +=}) into parameter gradients
 *       (dweight, dbias, dwte, ...). Activation gradients are <b>accumulated</b> where the
 *       Javadoc says {@code +=} and <b>overwritten</b> where it says {@code =}.</li>
 *   <li>A {@code null} optional argument means "absent".</li>
 *   <li>Methods may run asynchronously on a GPU backend; {@link #synchronize()} waits.
 *       Methods that return a host value synchronise.</li>
 * </ul>
 */
public interface Kernels extends AutoCloseable {

    /** Short backend name for logs, e.g. "cpu (2 threads)". */
    String name();

    // ---------------------------------------------------------------- memory

    /** A zero-filled buffer of {@code n} fp32 values, owned by this context. */
    MemorySegment allocFloats(long n);

    /** A zero-filled buffer of {@code n} int32 values, owned by this context. */
    MemorySegment allocInts(long n);

    /** A zero-filled buffer of {@code n} int64 values, owned by this context. */
    MemorySegment allocLongs(long n);

    /** x[i] = value for i in [0, n). */
    void fill(MemorySegment x, long n, float value);

    /** Copies {@code bytes} bytes from src to dst (both buffers of this backend). */
    void copy(MemorySegment dst, MemorySegment src, long bytes);

    /** Host to buffer: dst[0 .. src.length) = src. */
    void write(MemorySegment dst, float[] src);

    void writeInts(MemorySegment dst, int[] src);

    void writeLongs(MemorySegment dst, long[] src);

    /** Buffer to host: dst = src[0 .. dst.length). */
    void read(MemorySegment src, float[] dst);

    void readInts(MemorySegment src, int[] dst);

    /** Waits for all queued work. */
    void synchronize();

    // ---------------------------------------------------------------- linear algebra

    /**
     * out[M,N] (=, or += when accumulate) op(A) · op(B) (+ bias[N] on every row when bias
     * is not null). op(A) is A stored [M,K], or A stored [K,M] and transposed when transA.
     * op(B) is B stored [K,N], or B stored [N,K] and transposed when transB.
     */
    void matmul(MemorySegment out, MemorySegment a, MemorySegment b, MemorySegment bias,
                int M, int N, int K, boolean transA, boolean transB, boolean accumulate);

    /**
     * {@code batch} independent {@link #matmul}s without bias: problem i uses
     * a + i*strideA, b + i*strideB, out + i*strideOut (strides in elements).
     */
    void matmulBatched(MemorySegment out, MemorySegment a, MemorySegment b,
                       int batch, long strideOut, long strideA, long strideB,
                       int M, int N, int K, boolean transA, boolean transB, boolean accumulate);

    /** dbias[N] += Σ_rows dout[M,N]. */
    void biasBackward(MemorySegment dbias, MemorySegment dout, int M, int N);

    // ---------------------------------------------------------------- elementwise

    /** out = a + b over n elements (out may alias a or b). */
    void add(MemorySegment out, MemorySegment a, MemorySegment b, long n);

    /** y += x over n elements. */
    void accumulate(MemorySegment y, MemorySegment x, long n);

    /** x *= s over n elements. */
    void scale(MemorySegment x, long n, float s);

    /** out = GELU_tanh(inp): 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³))). */
    void geluForward(MemorySegment out, MemorySegment inp, long n);

    /** dinp (=) GELU_tanh'(inp) · dout. dinp may alias dout. */
    void geluBackward(MemorySegment dinp, MemorySegment inp, MemorySegment dout, long n);

    // ---------------------------------------------------------------- layers

    /**
     * LayerNorm over the last dimension, eps = 1e-5 (PyTorch's default):
     * out[N,C] = (inp − mean)·rstd·weight + bias; saves mean[N] and rstd[N].
     */
    void layerNormForward(MemorySegment out, MemorySegment mean, MemorySegment rstd,
                          MemorySegment inp, MemorySegment weight, MemorySegment bias, int N, int C);

    /** dinp[N,C] +=, dweight[C] +=, dbias[C] += the LayerNorm gradients given dout. */
    void layerNormBackward(MemorySegment dinp, MemorySegment dweight, MemorySegment dbias,
                           MemorySegment dout, MemorySegment inp, MemorySegment weight,
                           MemorySegment mean, MemorySegment rstd, int N, int C);

    /**
     * out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:] for all t < T (padding rows too, so
     * tokens must be valid ids everywhere).
     */
    void embeddingForward(MemorySegment out, MemorySegment tokens, MemorySegment wte,
                          MemorySegment wpe, int B, int T, int C);

    /** dwte[tokens[b,t],:] += dout[b,t,:]; dwpe[t,:] += dout[b,t,:]. */
    void embeddingBackward(MemorySegment dwte, MemorySegment dwpe, MemorySegment dout,
                           MemorySegment tokens, int B, int T, int C);

    /**
     * Causal multi-head self-attention. qkv[B,T,3C]: each row is [q(C) | k(C) | v(C)] and
     * head h uses columns h·HS .. (h+1)·HS−1 of each part. Query t of sequence b attends
     * to keys s ≤ t (all of which are real when t &lt; lengths[b]); scale 1/√HS.
     * out[B,T,C] (=) is the heads' outputs concatenated; lse[B,NH,T] (=) saves each
     * query's log-sum-exp of scaled scores for the backward. Rows t ≥ lengths[b] get out
     * = 0 and lse = 0. No T×T buffer is required.
     */
    void attentionForward(MemorySegment out, MemorySegment lse, MemorySegment qkv,
                          MemorySegment lengths, int B, int T, int C, int NH);

    /**
     * dqkv[B,T,3C] (=) the gradient of {@link #attentionForward} given dout[B,T,C],
     * the forward's qkv, out and lse. Padding rows of dqkv are 0 and padding never
     * receives gradient.
     */
    void attentionBackward(MemorySegment dqkv, MemorySegment dout, MemorySegment qkv,
                           MemorySegment out, MemorySegment lse, MemorySegment lengths,
                           int B, int T, int C, int NH);

    /**
     * KV-cache prefill: copies k and v of qkv[B,T,3C] into kCache/vCache, each laid out
     * [B, NH, maxT, HS], at positions 0..T−1.
     */
    void kvCacheWrite(MemorySegment kCache, MemorySegment vCache, MemorySegment qkv,
                      int B, int T, int C, int NH, int maxT);

    /**
     * One decode step for B rows, one new token each. qkv[B,3C] holds the new tokens' q,k,v;
     * positions[b] is row b's position. Writes k,v into the caches at positions[b], then
     * out[B,C] (=) attention of q over cache positions 0..positions[b] inclusive. Equals
     * the corresponding row of {@link #attentionForward}.
     */
    void attentionDecode(MemorySegment out, MemorySegment qkv, MemorySegment kCache,
                         MemorySegment vCache, MemorySegment positions,
                         int B, int C, int NH, int maxT);

    /** out[b,:] (=) x[rows[b],:] for b in [0,R); x has C columns. */
    void gatherRows(MemorySegment out, MemorySegment x, MemorySegment rows, int R, int C);

    /** dx[rows[b],:] += dout[b,:] for b in [0,R). */
    void scatterAddRows(MemorySegment dx, MemorySegment dout, MemorySegment rows, int R, int C);

    // ---------------------------------------------------------------- log-probs

    /**
     * Fused LM head and log-softmax gather. For each row n with targets[n] ≥ 0, with
     * logits z = weight[V,C] · hidden[n,C]:
     * logp[n] = z[targets[n]] − logsumexp(z), entropy[n] = −Σ softmax(z)·log softmax(z),
     * lse[n] = logsumexp(z). Rows with targets[n] &lt; 0 get 0 in all three. The
     * vocabulary is processed in chunks with a running max and sum: no [N,V] buffer
     * exists, only a bounded chunk. entropy may be null.
     */
    void logprobForward(MemorySegment logp, MemorySegment entropy, MemorySegment lse,
                        MemorySegment hidden, MemorySegment weight, MemorySegment targets,
                        int N, int C, int V);

    /**
     * Backward of {@link #logprobForward}: from dlogp[N] and dentropy[N] (may be null)
     * forms dz chunk by chunk (dz = dlogp·(onehot − p) − dentropy·p·(log p + H)) and
     * accumulates dhidden[N,C] += dz·weight and dweight[V,C] += dzᵀ·hidden. Needs the
     * forward's lse and entropy (entropy may be null when dentropy is null). Rows with
     * targets[n] &lt; 0 contribute nothing.
     */
    void logprobBackward(MemorySegment dhidden, MemorySegment dweight,
                         MemorySegment dlogp, MemorySegment dentropy,
                         MemorySegment hidden, MemorySegment weight, MemorySegment targets,
                         MemorySegment lse, MemorySegment entropy, int N, int C, int V);

    /** out[r] (=) Σ_c x[r, c] for x[rows, cols]. */
    void rowSum(MemorySegment out, MemorySegment x, int rows, int cols);

    /** out[r, c] (=) x[r] for out[rows, cols]. */
    void rowBroadcast(MemorySegment out, MemorySegment x, int rows, int cols);

    // ---------------------------------------------------------------- optimiser

    /**
     * AdamW (decoupled weight decay, PyTorch semantics) over n elements:
     * m = β1 m + (1−β1) g; v = β2 v + (1−β2) g²; m̂ = m/(1−β1^step); v̂ = v/(1−β2^step);
     * p −= lr (m̂/(√v̂ + eps) + weightDecay·p). step counts from 1.
     */
    void adamw(MemorySegment params, MemorySegment grads, MemorySegment m, MemorySegment v,
               long n, float lr, float beta1, float beta2, float eps, float weightDecay, int step);

    /** Σ x[i]² over n elements, accumulated in double. Synchronises. */
    double sumSquares(MemorySegment x, long n);

    // ---------------------------------------------------------------- sampling

    /**
     * Samples one token per row from logits[B,V] (logits may be overwritten as scratch).
     * Row b draws u = {@link CounterRng#uniform(long, long)}(seeds[b], counter).
     * temperature ≤ 0: greedy argmax (lowest index on ties). Otherwise z/temperature; if
     * topK &gt; 0 keep the topK largest (ties broken by lower index); if topP &lt; 1 keep the
     * smallest set of most probable of those (descending probability, ties by lower index)
     * whose probability sum reaches topP; then walk the kept tokens in ascending index
     * order accumulating their (unnormalised) probabilities and take the first whose
     * running sum exceeds u·total. tokens[b] (=) the choice; logp[b] (=) its log-probability
     * under softmax of the unscaled, unfiltered logits (may be null).
     */
    void sample(MemorySegment tokens, MemorySegment logp, MemorySegment logits,
                MemorySegment seeds, long counter, int B, int V,
                float temperature, int topK, float topP);

    @Override
    void close();
}
