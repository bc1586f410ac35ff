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

    // ---------------------------------------------------------------- Llama family
    // Grouped-query attention and the Llama-family layers. The fused q/k/v layout is
    // qkv[B,T,QKV] with QKV = (NH + 2·NKV)·HS and each row = [q (NH·HS) | k (NKV·HS) |
    // v (NKV·HS)]; query head h uses key/value head h / (NH / NKV) (NH must be a multiple of
    // NKV; NKV = NH is multi-head attention, NKV = 1 multi-query). The GPT-2 methods above
    // are the special case NKV = NH, HS = C / NH.

    /**
     * {@link #attentionForward(MemorySegment, MemorySegment, MemorySegment, MemorySegment, int, int, int, int)}
     * with NKV key/value heads of size HS: out[B,T,NH·HS] (=), lse[B,NH,T] (=).
     */
    void attentionForward(MemorySegment out, MemorySegment lse, MemorySegment qkv,
                          MemorySegment lengths, int B, int T, int NH, int NKV, int HS);

    /** dqkv[B,T,(NH+2·NKV)·HS] (=) the gradient of the grouped-query forward given dout[B,T,NH·HS]. */
    void attentionBackward(MemorySegment dqkv, MemorySegment dout, MemorySegment qkv,
                           MemorySegment out, MemorySegment lse, MemorySegment lengths,
                           int B, int T, int NH, int NKV, int HS);

    /**
     * KV-cache prefill for the grouped-query layout: copies k and v of qkv[B,T,(NH+2·NKV)·HS]
     * into kCache/vCache, each laid out [B, NKV, maxT, HS], at positions 0..T−1.
     */
    void kvCacheWrite(MemorySegment kCache, MemorySegment vCache, MemorySegment qkv,
                      int B, int T, int NH, int NKV, int HS, int maxT);

    /**
     * One grouped-query decode step: qkv[B,(NH+2·NKV)·HS] holds the new tokens' q, k, v
     * (already rotated when the model uses RoPE); writes k, v into the caches ([B, NKV, maxT,
     * HS]) at positions[b], then out[B,NH·HS] (=) attention over cache positions
     * 0..positions[b] inclusive. Equals the corresponding row of the grouped-query forward.
     */
    void attentionDecode(MemorySegment out, MemorySegment qkv, MemorySegment kCache,
                         MemorySegment vCache, MemorySegment positions,
                         int B, int NH, int NKV, int HS, int maxT);

    /**
     * RMSNorm over the last dimension: out[N,C] (=) inp·rstd·weight with rstd[N] (=)
     * 1/√(mean(inp²) + eps), saved for the backward (HF LlamaRMSNorm: the statistics in
     * fp32, weight applied after normalising). out may not alias inp.
     */
    void rmsNormForward(MemorySegment out, MemorySegment rstd, MemorySegment inp,
                        MemorySegment weight, int N, int C, float eps);

    /** dinp[N,C] +=, dweight[C] += the RMSNorm gradients given dout and the forward's rstd. */
    void rmsNormBackward(MemorySegment dinp, MemorySegment dweight, MemorySegment dout,
                         MemorySegment inp, MemorySegment weight, MemorySegment rstd, int N, int C);

    /**
     * Qwen3's per-head q/k RMSNorm on the fused layout: for each row of qkvIn[N,(NH+2·NKV)·HS]
     * each of the NH query heads is RMS-normalised over its HS values and scaled by
     * qWeight[HS], each of the NKV key heads likewise with kWeight[HS], and v is copied
     * unchanged, into qkvOut (=, same layout; may not alias qkvIn). rstd[N, NH+NKV] (=) the
     * saved statistics (query heads first).
     */
    void qkNormForward(MemorySegment qkvOut, MemorySegment rstd, MemorySegment qkvIn,
                       MemorySegment qWeight, MemorySegment kWeight,
                       int N, int NH, int NKV, int HS, float eps);

    /**
     * Backward of {@link #qkNormForward}: dqkvIn (=) from dqkvOut (the v part passes
     * through), dqWeight[HS] +=, dkWeight[HS] +=. dqkvIn may not alias dqkvOut.
     */
    void qkNormBackward(MemorySegment dqkvIn, MemorySegment dqWeight, MemorySegment dkWeight,
                        MemorySegment dqkvOut, MemorySegment qkvIn, MemorySegment qWeight,
                        MemorySegment kWeight, MemorySegment rstd, int N, int NH, int NKV, int HS);

    /**
     * Rotary position embedding (Hugging Face rotate_half convention), in place on the q and
     * k heads of qkv[B·T,(NH+2·NKV)·HS] (v is untouched). Row (b, t) is at position p =
     * (positions == null ? 0 : positions[b]) + t; with half = HS/2, for each head and
     * i &lt; half: x1 = x[i], x2 = x[i + half]; x[i] = x1·cos[p,i] − x2·sin[p,i];
     * x[i + half] = x2·cos[p,i] + x1·sin[p,i]. cos and sin are tables [maxPos, half] the
     * model computes once (they carry the inverse frequencies and any rope scaling). HS must
     * be even, and every row's position, padding rows included (they are rotated too), must
     * lie in [0, maxPos): positions[b] + T ≤ maxPos.
     */
    void ropeForward(MemorySegment qkv, MemorySegment cos, MemorySegment sin, MemorySegment positions,
                     int B, int T, int NH, int NKV, int HS);

    /**
     * Backward of {@link #ropeForward}, in place on dqkv (the inverse rotation):
     * dx1 = dy1·cos + dy2·sin, dx2 = dy2·cos − dy1·sin; the v part is untouched.
     */
    void ropeBackward(MemorySegment dqkv, MemorySegment cos, MemorySegment sin, MemorySegment positions,
                      int B, int T, int NH, int NKV, int HS);

    /**
     * SwiGLU: inp[N, 2I] holds [gate | up] per row; out[N, I] (=) silu(gate)·up with
     * silu(x) = x·σ(x).
     */
    void swigluForward(MemorySegment out, MemorySegment inp, int N, int I);

    /** dinp[N, 2I] (=) the SwiGLU gradient given dout[N, I] (d gate | d up). */
    void swigluBackward(MemorySegment dinp, MemorySegment dout, MemorySegment inp, int N, int I);

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

    // ================================================================ losses (fused)
    // Appended section: the preference and RL losses of SPEC §2 as fused kernels, from
    // per-sequence (or, for PPO, per-token) inputs to the loss, the metrics and the
    // gradients. Each is one pass over small buffers (a single CUDA kernel later). Codes and
    // metric slots are in LossOps. Each method writes exactly the metric slots its Javadoc
    // lists into metrics[LossOps.METRICS] and leaves the others as they were. Gradient
    // outputs are overwritten (=) over their whole length. Ints (lengths, groups, indices,
    // masks) are int32 buffers. Reductions run in double.

    /** Operation codes and metric slots of the fused loss kernels. */
    final class LossOps {
        private LossOps() {}

        // pairwise types: DPO..WDPO for pairwiseLoss, SIMPO and ORPO for lengthNormPairwiseLoss
        public static final int DPO = 0, IPO = 1, HINGE = 2, WDPO = 3, SIMPO = 4, ORPO = 5;
        // wdpo weight modes
        public static final int WEIGHT_NONE = 0, WEIGHT_EXP = 1, WEIGHT_SIGMOID = 2, WEIGHT_LINEAR = 3;
        // best-of-N negative term
        public static final int NEG_NONE = 0, NEG_AVERAGE_OVER_WORSE = 1, NEG_WORST = 2;
        // REINFORCE baselines
        public static final int BASELINE_NONE = 0, BASELINE_MOVING_AVERAGE = 1, BASELINE_BATCH_MEAN = 2,
                BASELINE_PER_PROMPT_MEAN = 3, BASELINE_RLOO = 4;
        // GRPO reward scaling (scale_rewards)
        public static final int SCALE_NONE = 0, SCALE_GROUP = 1, SCALE_BATCH = 2;
        // GRPO aggregation (loss_type)
        public static final int AGG_GRPO = 0, AGG_BNPO = 1, AGG_DR_GRPO = 2, AGG_DAPO = 3;
        // GRPO importance-sampling level (token: PPO-style per-token ratios; sequence: GSPO)
        public static final int IS_TOKEN = 0, IS_SEQUENCE = 1;

        // metric slots
        /** The loss value (the one whose gradients are written). */
        public static final int LOSS = 0;
        /** Pairwise: mean over pairs of h = [logp(w) − ref(w)] − [logp(l) − ref(l)]. */
        public static final int MEAN_H = 1;
        /** Pairwise: mean over pairs of β·(logp(w) − ref(w)). */
        public static final int CHOSEN_REWARD = 2;
        /** Pairwise: mean over pairs of β·(logp(l) − ref(l)). */
        public static final int REJECTED_REWARD = 3;
        /** Pairwise: CHOSEN_REWARD − REJECTED_REWARD (= β·MEAN_H). */
        public static final int MARGIN = 4;
        /** Pairwise: fraction of pairs with h &gt; 0. */
        public static final int ACCURACY = 5;
        /** Mean per-pair or per-sequence weight (the family's Javadoc defines it). */
        public static final int MEAN_WEIGHT = 6;
        /** Mean task reward r (per-sample losses with rewards; PPO: mean scalar score). */
        public static final int MEAN_REWARD = 7;
        /** KL(π‖π_ref) estimate: mean over sequences of Σ_t (logp − ref). */
        public static final int KL = 8;
        /** Mean entropy (filled by the caller, never by a kernel). */
        public static final int ENTROPY = 9;
        /** PPO: the clipped surrogate (token mean). */
        public static final int POLICY_LOSS = 10;
        /** PPO: 0.5·token mean of max((v − ret)², (clip(v) − ret)²), before vf_coef. */
        public static final int VALUE_LOSS = 11;
        /** PPO: fraction of response tokens where the clipped surrogate term is active. */
        public static final int CLIP_FRAC = 12;
        /** PPO: 0.5·token mean of (logp − old_logp)². */
        public static final int APPROX_KL = 13;
        /** PPO: token mean of the returns. */
        public static final int MEAN_RETURN = 14;
        /** Pairs, sequences or tokens that entered the loss's mean. */
        public static final int COUNT = 15;
        /** GRPO: fraction of the ratios clipped below (ρ &lt; 1 − ε with A &lt; 0). */
        public static final int CLIP_LOW_FRAC = 16;
        /** GRPO: fraction of the ratios clipped above (ρ &gt; 1 + ε_high with A &gt; 0). */
        public static final int CLIP_HIGH_FRAC = 17;
        /** GRPO advantages: mean over the rows of the reward standard deviation used (or reported). */
        public static final int REWARD_STD = 18;
        /** GRPO advantages: fraction of the non-empty prompt groups whose rewards are all equal. */
        public static final int ZERO_STD_FRAC = 19;
        /** ORPO: mean over pairs of the SFT term −logp(y_w)/|y_w|. */
        public static final int NLL = 20;
        /** Length of a metrics buffer. */
        public static final int METRICS = 21;
    }

    /**
     * Fused pairwise preference loss over P pairs of S sequences. Pair i compares sequence
     * chosenIdx[i] (y_w) with rejectedIdx[i] (y_l); a sequence may be in several pairs and
     * its gradient accumulates over them. With h_i = [logp(y_w) − ref(y_w)] − [logp(y_l) −
     * ref(y_l)] (log-probs are sums over response tokens, so h is a difference of sequence
     * log-ratios) the per-pair loss ℓ_i is, by type:
     * <ul>
     *   <li>{@code DPO}: −(1−ε)·log σ(βh) − ε·log σ(−βh) (ε = labelSmoothing);</li>
     *   <li>{@code IPO}: (h − 1/(2τ))², τ = ipoTau (h is the summed log-ratio, not a per-token
     *       average; 1/(2τ) is the margin);</li>
     *   <li>{@code HINGE} (SLiC): max(0, 1 − βh) (gradient 0 where 1 − βh ≤ 0);</li>
     *   <li>{@code WDPO} (OPTune): w_i·(the DPO term), with Δr_i = r_w − r_l as given (not
     *       clamped) and w by weightMode: {@code WEIGHT_EXP} w_i = P·softmax_i(β₂Δr) over
     *       the P pairs (mean weight 1), {@code WEIGHT_SIGMOID} σ(β₂Δr),
     *       {@code WEIGHT_LINEAR} β₂Δr, {@code WEIGHT_NONE} 1 (= DPO).</li>
     * </ul>
     * loss = (1/P)·Σ_i ℓ_i. dlogp[S] (=) ∂loss/∂logp (0 for sequences in no pair). rewards
     * [S] is read only by WDPO with a weight mode other than NONE (may be null otherwise);
     * weights are constants (no gradient reaches the rewards). refLogp is required.
     * Metrics: LOSS, MEAN_H, CHOSEN_REWARD, REJECTED_REWARD, MARGIN, ACCURACY, MEAN_WEIGHT
     * (mean w_i; 1 unless WDPO), COUNT (= P). P = 0 gives loss 0 and zero gradients.
     */
    void pairwiseLoss(MemorySegment metrics, MemorySegment dlogp,
                      MemorySegment logp, MemorySegment refLogp, MemorySegment rewards,
                      MemorySegment chosenIdx, MemorySegment rejectedIdx, int S, int P,
                      int type, int weightMode, float beta, float labelSmoothing, float ipoTau, float beta2);

    /**
     * Fused SFT / NLL (Pref-FT = this on the chosen responses): per sequence ℓ_i =
     * −logp_i/len_i (token mean; lengths[i] = response tokens). Zero-length sequences are
     * skipped (no loss, no gradient, not counted); loss = mean of ℓ over the n others (0 if
     * n = 0). dlogp[S] (=). refLogp and rewards may be null. Metrics: LOSS, MEAN_WEIGHT (1),
     * COUNT (n), MEAN_REWARD (mean r over S, only with rewards), KL (mean logp − ref over S,
     * only with refLogp).
     */
    void sftLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment refLogp,
                 MemorySegment lengths, MemorySegment rewards, int S);

    /**
     * Fused reward-weighted regression: ℓ_i = −w_i·logp_i/len_i. Weight mode (filter =
     * false): w_i = min(exp(r_i/τ), wMax), loss = Σ ℓ_i / n over the n sequences with
     * len &gt; 0. Filter mode: w_i = 1 for the topK highest rewards of each prompt group
     * (groups[i] in [0, G); ties go to the lower index) and 0 otherwise, loss = Σ ℓ_i / Σ w_i
     * over len &gt; 0 (SFT on the kept responses). Zero-length sequences are skipped as in
     * {@link #sftLoss}. dlogp[S] (=); groups may be null in weight mode; refLogp may be
     * null. Metrics: LOSS, MEAN_WEIGHT (mean w over len &gt; 0), COUNT (n), MEAN_REWARD,
     * KL (only with refLogp).
     */
    void rwrLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment refLogp,
                 MemorySegment lengths, MemorySegment rewards, MemorySegment groups, int S, int G,
                 boolean filter, int topK, float tau, float wMax);

    /**
     * Fused best-of-N: per non-empty prompt group g (groups[i] in [0, G)), y* = argmax_j r_j
     * (ties: lower index) and ℓ_g = −logp(y*) + β_neg·N_g where the negative term N_g is, by
     * negativeMode: {@code NEG_NONE} 0; {@code NEG_AVERAGE_OVER_WORSE} the mean of logp over
     * the group's members with r &lt; r(y*) (0 if none); {@code NEG_WORST} logp of the
     * lowest-reward member (ties: lower index) if its r &lt; r(y*), else 0. Log-probs are
     * sums (no length normalisation). loss = mean of ℓ_g over the non-empty groups.
     * dlogp[S] (=). Metrics: LOSS, MEAN_WEIGHT (mean over S of the coefficient c_i with
     * loss = −Σ c_i·logp_i / groups: 1 for y*, −β_neg/|worse| for worse), COUNT (groups),
     * MEAN_REWARD, KL (only with refLogp).
     */
    void bestOfNLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment refLogp,
                     MemorySegment rewards, MemorySegment groups, int S, int G, int negativeMode, float betaNeg);

    /**
     * Fused REINFORCE: r'_i = r_i − klCoef·(logp_i − ref_i) (the KL penalty folded into the
     * reward and treated as a constant: no gradient flows through it; refLogp may be null
     * when klCoef = 0), A_i = clamp(r'_i − b_i, −clipAdv, clipAdv), loss = −(1/S)·Σ A_i·logp_i,
     * dlogp[S] (=) −A_i/S. Baseline b by code: {@code BASELINE_NONE} 0;
     * {@code BASELINE_BATCH_MEAN} mean of r' over S; {@code BASELINE_PER_PROMPT_MEAN} mean of
     * r' over i's group; {@code BASELINE_RLOO} mean of r' over i's group without i (every
     * non-empty group needs ≥ 2 members: IllegalArgumentException otherwise);
     * {@code BASELINE_MOVING_AVERAGE} state[0] (state[2] = {value, initialised}, read and
     * written): the first call (state[1] = 0) uses the batch mean m of r' and sets state =
     * {m, 1}; later calls use b = state[0] and then set state[0] = decay·state[0] +
     * (1 − decay)·m. groups/G are used by the per-prompt baselines only (may be null
     * otherwise); state only by the moving average. Metrics: LOSS, MEAN_WEIGHT (mean A),
     * COUNT (S), MEAN_REWARD (mean r, without the KL term), KL (only with refLogp).
     */
    void reinforceLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment state,
                       MemorySegment logp, MemorySegment refLogp, MemorySegment rewards, MemorySegment groups,
                       int S, int G, int baseline, float decay, float klCoef, float clipAdv);

    /**
     * PPO rollout step (once per rollout, before the epochs): per-token rewards, GAE and
     * returns. All per-token buffers are [B, T]; mask[b,t] ≠ 0 marks response tokens (the
     * positions whose log-prob and value belong to a response action; they are processed in
     * order and need not start at 0). For response token t of row b:
     * r_t = −klCoef·(oldLogp_t − ref_t), plus scores[b] at the row's last response token;
     * δ_t = r_t + γ·V_next − V_t (V = oldValues; V_next = 0 after the last response token);
     * A_t = δ_t + γλ·A_next (backwards per row); returns_t = A_t + V_t. When whiten,
     * advantages are then whitened over all response tokens of the batch: (A − mean)/√(var +
     * 1e-8) with the unbiased variance (TRL's masked_whiten); returns are not. Non-response
     * positions of advantages and returns (=) 0; a row without response tokens contributes
     * nothing. Metrics: MEAN_REWARD (mean score over rows with response tokens), KL (mean
     * over those rows of Σ_t (oldLogp − ref)), MEAN_RETURN, COUNT (response tokens).
     */
    void ppoAdvantages(MemorySegment metrics, MemorySegment advantages, MemorySegment returns,
                       MemorySegment oldLogp, MemorySegment refLogp, MemorySegment oldValues,
                       MemorySegment scores, MemorySegment mask, int B, int T,
                       float klCoef, float gamma, float lambda, boolean whiten);

    /**
     * PPO loss for one minibatch: ratio = exp(logp − oldLogp); policy loss = token mean over
     * the N response tokens of max(−A·ratio, −A·clip(ratio, 1 − ε, 1 + ε)); value loss =
     * 0.5·token mean of max((v − ret)², (clip(v, v_old − ε_v, v_old + ε_v) − ret)²);
     * loss = policy + vfCoef·value. dlogp[B,T] and dvalue[B,T] (=) the gradients (0 off the
     * mask). Metrics: LOSS, POLICY_LOSS, VALUE_LOSS, CLIP_FRAC (fraction where the clipped
     * surrogate term is strictly larger), APPROX_KL (0.5·mean (logp − old)²), COUNT (N).
     */
    void ppoLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment dvalue,
                 MemorySegment logp, MemorySegment oldLogp, MemorySegment values, MemorySegment oldValues,
                 MemorySegment advantages, MemorySegment returns, MemorySegment mask, int B, int T,
                 float clipEps, float valueClip, float vfCoef);
    /**
     * GRPO group-relative advantages (once per generation batch, before the μ iterations), as
     * TRL: for row i of group g = groups[i] in [0, G), A_i = r_i − mean_g(r), then divided by
     * (σ + 1e-4) unless scaleRewards = {@code SCALE_NONE}: σ is the group's standard deviation
     * ({@code SCALE_GROUP}) or the whole batch's ({@code SCALE_BATCH}), both unbiased (n − 1).
     * Every non-empty group needs ≥ 2 members (IllegalArgumentException otherwise); empty
     * groups are allowed and ignored. advantages[B] (=). Metrics: MEAN_REWARD (mean r over the
     * B rows), REWARD_STD (mean over the rows of the σ their advantage used; for
     * {@code SCALE_NONE} the group σ, as TRL reports it), ZERO_STD_FRAC (fraction of the
     * non-empty groups whose rewards are all equal; TRL's frac_reward_zero_std is per row and,
     * with batch scaling, of the batch σ), COUNT (non-empty groups). B = 0 writes zeros.
     */
    void grpoAdvantages(MemorySegment metrics, MemorySegment advantages, MemorySegment rewards,
                        MemorySegment groups, int B, int G, int scaleRewards);

    /**
     * GRPO loss (and its variants DAPO, Dr. GRPO, GSPO) for one minibatch, as TRL's
     * GRPOTrainer. Per-token buffers are [B, T]; mask[b,t] ≠ 0 marks the n_b response tokens of
     * row b; advantages[B] are per row (from {@link #grpoAdvantages}). With d_t = logp − oldLogp
     * the importance ratio is ρ_t = exp(d_t) ({@code IS_TOKEN}) or, GSPO ({@code IS_SEQUENCE}),
     * s_b = exp((1/n_b)·Σ_t d_t) for every token of the row, its gradient flowing through the
     * mean (a row without tokens has s = 1). Per response token:
     * ℓ_t = −min(ρA, clip(ρ, 1 − ε, 1 + ε_high)·A) + β·k3_t, k3_t = exp(ref − logp) − (ref −
     * logp) − 1 (Schulman's k3 estimate of KL(π‖π_ref); the β term only when β ≠ 0, refLogp
     * may then be null). Aggregation by lossType: {@code AGG_GRPO} (1/B)·Σ_b (1/max(n_b, 1))·
     * Σ_t ℓ_t (mean over all B rows of the row's token mean); {@code AGG_BNPO} Σ ℓ / N over the
     * N response tokens of the batch; {@code AGG_DR_GRPO} Σ ℓ / (B·maxCompletionLength) (≥ 1;
     * read only here); {@code AGG_DAPO} Σ ℓ / N — the same as BNPO in one process (TRL divides
     * by the token count of the whole, possibly multi-process and accumulated, batch: a caller
     * that accumulates gradients over minibatches rescales). N = 0 gives loss 0.
     * The min/clip gradient follows PyTorch (clamp passes it inside the closed interval; a tie of
     * the min splits it). dlogp[B,T] (=) ∂loss/∂logp (0 off the mask). Metrics: LOSS, KL (token
     * mean of k3 over the N tokens; only with refLogp), CLIP_LOW_FRAC (ρ &lt; 1 − ε and A &lt; 0),
     * CLIP_HIGH_FRAC (ρ &gt; 1 + ε_high and A &gt; 0), CLIP_FRAC (either): fractions of the N
     * tokens, or with {@code IS_SEQUENCE} of the B rows (as TRL), COUNT (N).
     */
    void grpoLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment oldLogp,
                  MemorySegment refLogp, MemorySegment advantages, MemorySegment mask, int B, int T,
                  int lossType, int importanceLevel, float epsilon, float epsilonHigh, float beta,
                  int maxCompletionLength);

    /**
     * KTO (Ethayarajh et al.; TRL's KTOTrainer, loss_type sigmoid) over S unpaired sequences:
     * with x_i = logp_i − ref_i and the reference point z = zRef (the caller's detached KL
     * estimate max(0, mean(logp − ref)) over mismatched prompt–completion pairs; used as given),
     * ℓ_i = desirableWeight·(1 − σ(β(x_i − z))) when labels[i] = 1 and undesirableWeight·(1 −
     * σ(β(z − x_i))) when labels[i] = 0 (other labels: IllegalArgumentException); loss = (1/S)·
     * Σ ℓ_i (TRL: the mean of the concatenated weighted losses). No gradient reaches z.
     * dlogp[S] (=). Metrics: LOSS, CHOSEN_REWARD (mean β·x over the desirable, 0 if none),
     * REJECTED_REWARD (over the undesirable), KL (z), MEAN_WEIGHT (mean weight), COUNT (S).
     */
    void ktoLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment refLogp,
                 MemorySegment labels, int S, float beta, float zRef, float desirableWeight, float undesirableWeight);

    /**
     * The reference-free, length-normalised pairwise losses over P pairs of S sequences (pairs
     * as {@link #pairwiseLoss}; a sequence in several pairs accumulates its gradient). With
     * lp = logp/len (the token-mean log-prob; lengths[i] ≥ 1 for every sequence in a pair,
     * IllegalArgumentException otherwise), by type:
     * <ul>
     *   <li>{@code SIMPO} (Meng et al.; TRL CPOTrainer loss_type simpo): m = β·(lp_w − lp_l) − γ,
     *       ℓ = −(1−ε)·log σ(m) − ε·log σ(−m) (γ = simpoGamma, ε = labelSmoothing);
     *       implicit rewards β·lp;</li>
     *   <li>{@code ORPO} (Hong et al.): with log odds o(y) = lp − log(1 − exp(lp)) (lp &lt; 0),
     *       m = o(y_w) − o(y_l), ℓ = −lp_w − λ·log σ(m) (λ = orpoLambda; the SFT term is the
     *       chosen response's token mean, as the paper; TRL's ORPOTrainer averages the NLL over
     *       all chosen tokens of the batch instead); implicit rewards λ·lp (as TRL).</li>
     * </ul>
     * loss = (1/P)·Σ ℓ. dlogp[S] (=) (0 for sequences in no pair). Metrics: LOSS, MEAN_H (mean
     * m, the quantity inside the sigmoid), CHOSEN_REWARD, REJECTED_REWARD (means over pairs of
     * the implicit rewards), MARGIN (their difference), ACCURACY (fraction of pairs with lp_w
     * &gt; lp_l, i.e. chosen reward &gt; rejected, TRL's rewards/accuracies), MEAN_WEIGHT (1),
     * COUNT (P), and NLL (ORPO only: mean −lp_w). P = 0 gives loss 0 and zero gradients.
     */
    void lengthNormPairwiseLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp,
                                MemorySegment lengths, MemorySegment chosenIdx, MemorySegment rejectedIdx,
                                int S, int P, int type, float beta, float labelSmoothing,
                                float simpoGamma, float orpoLambda);
}
