package io.pref4j.model;

import io.pref4j.UserInputException;
import io.pref4j.kernel.Kernels;

import java.lang.foreign.MemorySegment;

/**
 * What every causal language model family shares, on a {@link Kernels} backend: the flat
 * parameter and gradient buffers (named views per {@link ParameterLayout}), token upload and
 * validation, the fused chunked LM-head log-prob gather and its backward, the optional scalar
 * head (reward model at the last token, or a per-token value head), and the decoding frame
 * (prefill, one-token steps, the [B, V] logits buffer to sample from). A family ({@link Gpt},
 * {@link Llama}) supplies its trunk: the embedding, the blocks and the final norm, their
 * hand-written backward, and the KV-cache steps.
 *
 * <p>Sequences are right-padded: row b has {@code lengths[b]} real tokens. A forward computes
 * the per-token log-probability of {@code targets} (−1 = ignored) with the LM head fused into
 * the gather, so no [B·T, V] logits buffer exists, and the head output per token when the
 * model has one. The backward takes the loss's gradient with respect to those per-token
 * outputs and accumulates parameter gradients. Activations are allocated once for
 * (maxBatch, maxT) and reused: a step allocates nothing.
 */
public abstract class CausalLm implements AutoCloseable {

    protected final Kernels k;
    protected final ParameterLayout layout;
    protected final boolean hasHead;
    protected final int maxB, maxT, maxN;
    /** Width of the final hidden state, and vocabulary size. */
    protected final int C, V;

    protected final MemorySegment params, grads;
    /** The LM head [V, C] (the embedding when tied) and its gradient view. */
    private final MemorySegment lmHead, glmHead;
    private final MemorySegment headW, headB, gheadW, gheadB;

    /** Uploaded inputs: tokens [maxN], lengths [maxB], targets [maxN]. */
    protected final MemorySegment tokens, lengths, targets;
    /** The trunk's output: the final normalised hidden state [maxN, C]. */
    protected final MemorySegment hidden;
    /** Gradient with respect to {@link #hidden} [maxN, C], handed to the trunk's backward. */
    protected final MemorySegment dhidden;
    private final MemorySegment tokenLogp, entropy, logLse, headOut;
    private final MemorySegment dlogp, dentropy, dhead;

    // decoding (allocated on first use)
    /** Decode positions [maxB] (one per row). */
    protected MemorySegment positions;
    private MemorySegment lastRows, logits, fullLogits;

    private int lastB, lastT;
    private boolean lastHadTargets;

    /**
     * Allocates the shared buffers. {@code lmHeadName} is the layout entry used as the LM
     * head weight [V, C] (the token embedding when tied).
     */
    protected CausalLm(Kernels kernels, ModelConfig cfg, ParameterLayout layout, String lmHeadName,
                       int maxBatch, int maxT, boolean withHead) {
        if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be >= 1");
        if (maxT < 1 || maxT > cfg.maxSeqLen())
            throw new UserInputException("sequence length " + maxT + " must be in [1, " + cfg.maxSeqLen()
                    + "] (the model's maximum positions)");
        this.k = kernels;
        this.layout = layout;
        this.hasHead = withHead;
        this.maxB = maxBatch;
        this.maxT = maxT;
        this.maxN = maxBatch * maxT;
        this.C = cfg.channels();
        this.V = cfg.vocabSize();
        params = k.allocFloats(layout.size());
        grads = k.allocFloats(layout.size());
        lmHead = view(params, lmHeadName);
        glmHead = view(grads, lmHeadName);
        headW = withHead ? view(params, ParameterLayout.HEAD_WEIGHT) : null;
        headB = withHead ? view(params, ParameterLayout.HEAD_BIAS) : null;
        gheadW = withHead ? view(grads, ParameterLayout.HEAD_WEIGHT) : null;
        gheadB = withHead ? view(grads, ParameterLayout.HEAD_BIAS) : null;
        tokens = k.allocInts(maxN);
        lengths = k.allocInts(maxB);
        targets = k.allocInts(maxN);
        hidden = k.allocFloats((long) maxN * C);
        dhidden = k.allocFloats((long) maxN * C);
        tokenLogp = k.allocFloats(maxN);
        entropy = k.allocFloats(maxN);
        logLse = k.allocFloats(maxN);
        headOut = withHead ? k.allocFloats(maxN) : null;
        dlogp = k.allocFloats(maxN);
        dentropy = k.allocFloats(maxN);
        dhead = withHead ? k.allocFloats(maxN) : null;
    }

    // ---------------------------------------------------------------- the family's part

    /** The family's configuration. */
    public abstract ModelConfig config();

    /**
     * The trunk's forward over the uploaded {@link #tokens} and {@link #lengths} (B rows of T):
     * embedding, blocks, final norm into {@link #hidden}, saving what the backward needs.
     */
    protected abstract void trunkForward(int B, int T);

    /**
     * The trunk's backward of the last {@link #trunkForward}, from {@link #dhidden}
     * [B·T, C]; accumulates into {@link #grads}. May overwrite dhidden.
     */
    protected abstract void trunkBackward(int B, int T);

    /** After a {@link #trunkForward} of prompts: writes every layer's keys and values into the KV cache. */
    protected abstract void fillCache(int B, int T);

    /**
     * One decode step of B rows: {@link #tokens}[b] at {@link #positions}[b], earlier tokens
     * in the cache; writes the final normalised hidden rows [B, C] into {@link #hidden}.
     */
    protected abstract void decodeTrunk(int B);

    /** A new model of this family on the same backend (zero weights), sized maxBatch × maxT. */
    protected abstract CausalLm create(int maxBatch, int maxT, boolean withHead);

    /** The family's initialisation, deterministic in the seed (a head, if any, N(0, 0.02)). */
    public abstract void initRandom(long seed);

    // ---------------------------------------------------------------- accessors

    public Kernels kernels() { return k; }
    public ParameterLayout layout() { return layout; }
    public boolean hasHead() { return hasHead; }
    public int maxBatch() { return maxB; }
    public int maxT() { return maxT; }
    /** The flat parameter buffer ({@link #layout()} gives the views). */
    public MemorySegment params() { return params; }
    /** The flat gradient buffer, same layout as {@link #params()}. */
    public MemorySegment grads() { return grads; }

    /** A view of one named tensor of {@code buf} (the parameter or the gradient buffer). */
    protected final MemorySegment view(MemorySegment buf, String name) {
        ParameterLayout.Entry e = entry(name);
        return buf.asSlice(e.offset() * 4, e.size() * 4);
    }

    /** A copy of one named parameter tensor. */
    public float[] readParam(String name) {
        return readView(params, name);
    }

    /** A copy of one named gradient tensor. */
    public float[] readGrad(String name) {
        return readView(grads, name);
    }

    private float[] readView(MemorySegment buf, String name) {
        ParameterLayout.Entry e = entry(name);
        float[] out = new float[(int) e.size()];
        k.read(buf.asSlice(e.offset() * 4, e.size() * 4), out);
        return out;
    }

    /** Overwrites one named parameter tensor. */
    public void writeParam(String name, float[] values) {
        ParameterLayout.Entry e = entry(name);
        if (values.length != e.size())
            throw new IllegalArgumentException(name + ": expected " + e.size() + " values, got " + values.length);
        k.write(params.asSlice(e.offset() * 4, e.size() * 4), values);
    }

    private ParameterLayout.Entry entry(String name) {
        ParameterLayout.Entry e = layout.get(name);
        if (e == null) throw new IllegalArgumentException("no parameter named " + name);
        return e;
    }

    public void zeroGrad() {
        k.fill(grads, layout.size(), 0f);
    }

    /** Writes a scalar head's weights N(0, std²) from the seed and its bias 0 (no-op without a head). */
    protected final void initHead(java.util.SplittableRandom rng, double std) {
        if (!hasHead) return;
        float[] w = new float[C];
        for (int i = 0; i < w.length; i++) w[i] = (float) (rng.nextGaussian() * std);
        writeParam(ParameterLayout.HEAD_WEIGHT, w);
        writeParam(ParameterLayout.HEAD_BIAS, new float[1]);
    }

    /**
     * A new model (on the same backend) with this model's weights and a scalar head, sized
     * for maxBatch × maxT. An existing head is copied; otherwise the head's weights are
     * N(0, headInitStd²) from the seed and its bias 0.
     */
    public CausalLm withHead(int maxBatch, int maxT, long seed, double headInitStd) {
        CausalLm m = create(maxBatch, Math.min(maxT, config().maxSeqLen()), true);
        for (ParameterLayout.Entry e : layout.entries()) {
            ParameterLayout.Entry d = m.layout.get(e.name());
            k.copy(m.params.asSlice(d.offset() * 4, d.size() * 4), params.asSlice(e.offset() * 4, e.size() * 4), e.size() * 4);
        }
        if (!hasHead) m.initHead(new java.util.SplittableRandom(seed ^ 0x6ead5eedL), headInitStd);
        return m;
    }

    // ---------------------------------------------------------------- forward / backward

    private void checkShape(int B, int T) {
        if (B < 1 || B > maxB) throw new IllegalArgumentException("batch " + B + " outside [1, " + maxB + "]");
        if (T < 1 || T > maxT) throw new UserInputException("sequence of " + T + " tokens is longer than the model's limit of " + maxT);
    }

    private void uploadTokens(int[] toks, int[] lens, int B, int T) {
        checkShape(B, T);
        if (toks.length != B * T) throw new IllegalArgumentException("tokens must hold B*T = " + (B * T) + " ids, got " + toks.length);
        if (lens.length != B) throw new IllegalArgumentException("lengths must hold B = " + B + " values, got " + lens.length);
        for (int i = 0; i < toks.length; i++) {
            if (toks[i] < 0 || toks[i] >= V)
                throw new UserInputException("token id " + toks[i] + " (sequence " + (i / T) + ", position " + (i % T)
                        + ") is outside the model's vocabulary [0, " + V + ")");
        }
        for (int b = 0; b < B; b++) {
            if (lens[b] < 1 || lens[b] > T)
                throw new IllegalArgumentException("lengths[" + b + "] = " + lens[b] + " outside [1, " + T + "]");
        }
        k.writeInts(tokens, toks);
        k.writeInts(lengths, lens);
    }

    /**
     * Forward pass over tokens[B·T] (right-padded, lengths[B] real tokens per row).
     * targets[B·T] (may be null) are the ids whose log-probabilities to compute at each
     * position (−1 = ignore; a language model predicts token t+1 at position t).
     */
    public void forward(int[] toks, int[] lens, int[] targetIds, int B, int T) {
        uploadTokens(toks, lens, B, T);
        if (targetIds != null) {
            if (targetIds.length != B * T) throw new IllegalArgumentException("targets must hold B*T ids");
            for (int targetId : targetIds) {
                if (targetId >= V || targetId < -1)
                    throw new UserInputException("target id " + targetId + " is outside the model's vocabulary [0, " + V + ")");
            }
            k.writeInts(targets, targetIds);
        }
        trunkForward(B, T);
        int N = B * T;
        if (targetIds != null) k.logprobForward(tokenLogp, entropy, logLse, hidden, lmHead, targets, N, C, V);
        if (hasHead) k.matmul(headOut, hidden, headW, headB, N, 1, C, false, true, false);
        lastB = B;
        lastT = T;
        lastHadTargets = targetIds != null;
    }

    /** The last forward's per-token log-probs of the targets [B·T] (0 where ignored). */
    public MemorySegment tokenLogpBuffer() { return tokenLogp; }

    /** The last forward's per-token entropies [B·T] (0 where the target is ignored). */
    public MemorySegment entropyBuffer() { return entropy; }

    /** The last forward's head outputs per token [B·T] (only with a head). */
    public MemorySegment headBuffer() { return headOut; }

    /** A copy of the last forward's per-token log-probs [B·T]. */
    public float[] tokenLogp() {
        float[] out = new float[lastB * lastT];
        k.read(tokenLogp, out);
        return out;
    }

    /** A copy of the last forward's per-token entropies [B·T]. */
    public float[] tokenEntropy() {
        float[] out = new float[lastB * lastT];
        k.read(entropy, out);
        return out;
    }

    /** A copy of the last forward's head outputs [B·T]. */
    public float[] headValues() {
        if (!hasHead) throw new IllegalStateException("the model has no head");
        float[] out = new float[lastB * lastT];
        k.read(headOut, out);
        return out;
    }

    /**
     * Full logits [B·T, V] of the last forward. This materialises the whole logits tensor:
     * it is for tests and small vocabularies, not for training.
     */
    public float[] fullLogits() {
        int N = lastB * lastT;
        if (fullLogits == null) fullLogits = k.allocFloats((long) maxN * V);
        k.matmul(fullLogits, hidden, lmHead, null, N, V, C, false, true, false);
        float[] out = new float[N * V];
        k.read(fullLogits, out);
        return out;
    }

    /** Backward from the gradient of the loss with respect to the per-token log-probs. */
    public void backward(float[] dTokenLogp) {
        backward(dTokenLogp, null, null);
    }

    /**
     * Backward of the last forward. Each argument is the loss's gradient with respect to a
     * per-token output [B·T] (null = zero): the log-probs, the entropies, the head values.
     * Accumulates into {@link #grads()}.
     */
    public void backward(float[] dTokenLogp, float[] dTokenEntropy, float[] dHead) {
        int N = lastB * lastT;
        if (N == 0) throw new IllegalStateException("backward before forward");
        if (dTokenLogp != null) k.write(dlogp, checkLen(dTokenLogp, N));
        if (dTokenEntropy != null) k.write(dentropy, checkLen(dTokenEntropy, N));
        if (dHead != null) {
            if (!hasHead) throw new IllegalStateException("the model has no head");
            k.write(dhead, checkLen(dHead, N));
        }
        backwardFromBuffers(dTokenLogp != null ? dlogp : null, dTokenEntropy != null ? dentropy : null,
                dHead != null ? dhead : null);
    }

    /**
     * {@link #backward(float[], float[], float[])} with the per-token gradients already in
     * buffers of this backend ([B·T] each, null = zero), so they never leave the device.
     */
    public void backwardFromBuffers(MemorySegment dTokenLogp, MemorySegment dTokenEntropy, MemorySegment dHead) {
        int B = lastB, T = lastT, N = B * T;
        if (N == 0) throw new IllegalStateException("backward before forward");
        k.fill(dhidden, (long) N * C, 0f);
        if (dTokenLogp != null || dTokenEntropy != null) {
            if (!lastHadTargets) throw new IllegalStateException("the last forward computed no log-probs");
            MemorySegment dl = dTokenLogp;
            if (dl == null) {
                k.fill(dlogp, N, 0f);
                dl = dlogp;
            }
            k.logprobBackward(dhidden, glmHead, dl, dTokenEntropy, hidden, lmHead, targets, logLse, entropy, N, C, V);
        }
        if (dHead != null) {
            if (!hasHead) throw new IllegalStateException("the model has no head");
            k.matmul(dhidden, dHead, headW, null, N, C, 1, false, false, true);
            k.matmul(gheadW, dHead, hidden, null, 1, C, N, true, false, true);
            k.biasBackward(gheadB, dHead, N, 1);
        }
        trunkBackward(B, T);
    }

    private static float[] checkLen(float[] x, int n) {
        if (x.length != n) throw new IllegalArgumentException("expected " + n + " per-token gradients, got " + x.length);
        return x;
    }

    // ---------------------------------------------------------------- KV-cache decoding

    /** Allocates the family's KV cache (called once, on first decode use). */
    protected abstract void allocateCache();

    private void ensureDecodeBuffers() {
        if (logits != null) return;
        allocateCache();
        positions = k.allocInts(maxB);
        lastRows = k.allocInts(maxB);
        logits = k.allocFloats((long) maxB * V);
    }

    /**
     * Runs the prompts tokens[B·T] (right-padded, lengths[B]) through the model, fills the
     * KV cache, and leaves the logits for each row's next token (after its last real
     * token) in {@link #logitsBuffer()} [B, V]. Invalidates the activations of the last
     * training forward.
     */
    public void prefill(int[] toks, int[] lens, int B, int T) {
        ensureDecodeBuffers();
        uploadTokens(toks, lens, B, T);
        trunkForward(B, T);
        fillCache(B, T);
        int[] rows = new int[B];
        for (int b = 0; b < B; b++) rows[b] = b * T + lens[b] - 1;
        k.writeInts(lastRows, rows);
        k.gatherRows(dhidden, hidden, lastRows, B, C);
        k.matmul(logits, dhidden, lmHead, null, B, V, C, false, true, false);
        lastB = 0;
    }

    /**
     * One decoding step: row b's token newTokens[b] sits at position pos[b] (its previous
     * tokens are in the cache). Leaves the logits of the following token in
     * {@link #logitsBuffer()} [B, V].
     */
    public void decode(int[] newTokens, int[] pos, int B) {
        ensureDecodeBuffers();
        if (B < 1 || B > maxB) throw new IllegalArgumentException("batch " + B + " outside [1, " + maxB + "]");
        for (int b = 0; b < B; b++) {
            if (newTokens[b] < 0 || newTokens[b] >= V)
                throw new UserInputException("token id " + newTokens[b] + " is outside the model's vocabulary [0, " + V + ")");
            if (pos[b] < 0 || pos[b] >= maxT)
                throw new IllegalArgumentException("position " + pos[b] + " outside [0, " + maxT + ")");
        }
        k.writeInts(tokens, newTokens.length == B ? newTokens : java.util.Arrays.copyOf(newTokens, B));
        k.writeInts(positions, pos.length == B ? pos : java.util.Arrays.copyOf(pos, B));
        decodeTrunk(B);
        k.matmul(logits, hidden, lmHead, null, B, V, C, false, true, false);
        lastB = 0;
    }

    /** The logits [B, V] left by {@link #prefill} or {@link #decode} (a buffer to sample from). */
    public MemorySegment logitsBuffer() {
        ensureDecodeBuffers();
        return logits;
    }

    /** A copy of the first B rows of {@link #logitsBuffer()}. */
    public float[] readLogits(int B) {
        float[] out = new float[B * V];
        k.read(logitsBuffer(), out);
        return out;
    }

    @Override
    public void close() {
        // buffers belong to the Kernels context and are freed with it
    }
}
