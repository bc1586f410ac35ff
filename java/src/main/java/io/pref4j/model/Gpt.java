package io.pref4j.model;

import io.pref4j.UserInputException;
import io.pref4j.kernel.Kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * A GPT-2 on a {@link Kernels} backend: parameters and gradients in one flat buffer each
 * (named views per {@link ParameterLayout}), activations allocated once for
 * (maxBatch, maxT) and reused, a hand-written backward, KV-cache decoding and an optional
 * scalar head (reward model at the last token, or a per-token value head).
 *
 * <p>Sequences are right-padded: row b has {@code lengths[b]} real tokens. A forward
 * computes the per-token log-probability of {@code targets} (−1 = ignored), with the LM
 * head fused into the log-prob gather so no [B·T, V] logits buffer exists, and the head
 * output per token when the model has one. The backward takes the loss's gradient with
 * respect to those per-token outputs and accumulates parameter gradients.
 */
public final class Gpt implements AutoCloseable {

    /** Views of one block's tensors (parameters or gradients). */
    private record Block(MemorySegment ln1w, MemorySegment ln1b, MemorySegment qkvw, MemorySegment qkvb,
                         MemorySegment projw, MemorySegment projb, MemorySegment ln2w, MemorySegment ln2b,
                         MemorySegment fcw, MemorySegment fcb, MemorySegment fcprojw, MemorySegment fcprojb) {}

    /** One block's saved activations, each sized for maxBatch·maxT rows. */
    private record Acts(MemorySegment ln1, MemorySegment ln1Mean, MemorySegment ln1Rstd, MemorySegment qkv,
                        MemorySegment atty, MemorySegment lse, MemorySegment res2, MemorySegment ln2,
                        MemorySegment ln2Mean, MemorySegment ln2Rstd, MemorySegment fch, MemorySegment fchGelu,
                        MemorySegment res3) {}

    private final Kernels k;
    private final GptConfig cfg;
    private final ParameterLayout layout;
    private final boolean hasHead;
    private final int maxB, maxT, maxN;
    private final int C, V, L, NH;

    private final MemorySegment params, grads;
    private final MemorySegment wte, wpe, lnfw, lnfb, headW, headB;
    private final MemorySegment gwte, gwpe, glnfw, glnfb, gheadW, gheadB;
    private final Block[] p, g;

    // activations
    private final MemorySegment tokens, lengths, targets, encoded, proj, lnf, lnfMean, lnfRstd;
    private final MemorySegment tokenLogp, entropy, logLse, headOut;
    private final Acts[] acts;
    // backward scratch
    private final MemorySegment dres, dln, dfch, datty, dqkv, dlogp, dentropy, dhead;
    // decoding (allocated on first use)
    private MemorySegment[] kCache, vCache;
    private MemorySegment positions, lastRows, logits, fullLogits;

    private int lastB, lastT;
    private boolean lastHadTargets;

    /** Allocates everything for batches of up to maxBatch sequences of up to maxT tokens. */
    public Gpt(Kernels kernels, GptConfig cfg, int maxBatch, int maxT, boolean withHead) {
        if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be >= 1");
        if (maxT < 1 || maxT > cfg.maxSeqLen())
            throw new UserInputException("sequence length " + maxT + " must be in [1, " + cfg.maxSeqLen() + "] (the model's n_positions)");
        this.k = kernels;
        this.cfg = cfg;
        this.layout = ParameterLayout.of(cfg, withHead);
        this.hasHead = withHead;
        this.maxB = maxBatch;
        this.maxT = maxT;
        this.maxN = maxBatch * maxT;
        this.C = cfg.channels();
        this.V = cfg.vocabSize();
        this.L = cfg.numLayers();
        this.NH = cfg.numHeads();

        params = k.allocFloats(layout.size());
        grads = k.allocFloats(layout.size());
        wte = view(params, "transformer.wte.weight");
        wpe = view(params, "transformer.wpe.weight");
        lnfw = view(params, "transformer.ln_f.weight");
        lnfb = view(params, "transformer.ln_f.bias");
        gwte = view(grads, "transformer.wte.weight");
        gwpe = view(grads, "transformer.wpe.weight");
        glnfw = view(grads, "transformer.ln_f.weight");
        glnfb = view(grads, "transformer.ln_f.bias");
        headW = withHead ? view(params, ParameterLayout.HEAD_WEIGHT) : null;
        headB = withHead ? view(params, ParameterLayout.HEAD_BIAS) : null;
        gheadW = withHead ? view(grads, ParameterLayout.HEAD_WEIGHT) : null;
        gheadB = withHead ? view(grads, ParameterLayout.HEAD_BIAS) : null;
        p = new Block[L];
        g = new Block[L];
        for (int l = 0; l < L; l++) {
            p[l] = block(params, l);
            g[l] = block(grads, l);
        }

        long nc = (long) maxN * C;
        tokens = k.allocInts(maxN);
        lengths = k.allocInts(maxB);
        targets = k.allocInts(maxN);
        encoded = k.allocFloats(nc);
        proj = k.allocFloats(nc);
        lnf = k.allocFloats(nc);
        lnfMean = k.allocFloats(maxN);
        lnfRstd = k.allocFloats(maxN);
        tokenLogp = k.allocFloats(maxN);
        entropy = k.allocFloats(maxN);
        logLse = k.allocFloats(maxN);
        headOut = withHead ? k.allocFloats(maxN) : null;
        acts = new Acts[L];
        for (int l = 0; l < L; l++) {
            acts[l] = new Acts(k.allocFloats(nc), k.allocFloats(maxN), k.allocFloats(maxN), k.allocFloats(3 * nc),
                    k.allocFloats(nc), k.allocFloats((long) maxB * NH * maxT), k.allocFloats(nc), k.allocFloats(nc),
                    k.allocFloats(maxN), k.allocFloats(maxN), k.allocFloats(4 * nc), k.allocFloats(4 * nc),
                    k.allocFloats(nc));
        }
        dres = k.allocFloats(nc);
        dln = k.allocFloats(nc);
        dfch = k.allocFloats(4 * nc);
        datty = k.allocFloats(nc);
        dqkv = k.allocFloats(3 * nc);
        dlogp = k.allocFloats(maxN);
        dentropy = k.allocFloats(maxN);
        dhead = withHead ? k.allocFloats(maxN) : null;
    }

    /** A model without a head. */
    public Gpt(Kernels kernels, GptConfig cfg, int maxBatch, int maxT) {
        this(kernels, cfg, maxBatch, maxT, false);
    }

    private MemorySegment view(MemorySegment buf, String name) {
        ParameterLayout.Entry e = layout.get(name);
        return buf.asSlice(e.offset() * 4, e.size() * 4);
    }

    private Block block(MemorySegment buf, int l) {
        String q = "transformer.h." + l + ".";
        return new Block(view(buf, q + "ln_1.weight"), view(buf, q + "ln_1.bias"),
                view(buf, q + "attn.c_attn.weight"), view(buf, q + "attn.c_attn.bias"),
                view(buf, q + "attn.c_proj.weight"), view(buf, q + "attn.c_proj.bias"),
                view(buf, q + "ln_2.weight"), view(buf, q + "ln_2.bias"),
                view(buf, q + "mlp.c_fc.weight"), view(buf, q + "mlp.c_fc.bias"),
                view(buf, q + "mlp.c_proj.weight"), view(buf, q + "mlp.c_proj.bias"));
    }

    // ---------------------------------------------------------------- accessors

    public Kernels kernels() { return k; }
    public GptConfig config() { return cfg; }
    public ParameterLayout layout() { return layout; }
    public boolean hasHead() { return hasHead; }
    public int maxBatch() { return maxB; }
    public int maxT() { return maxT; }
    /** The flat parameter buffer ({@link #layout()} gives the views). */
    public MemorySegment params() { return params; }
    /** The flat gradient buffer, same layout as {@link #params()}. */
    public MemorySegment grads() { return grads; }

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

    /**
     * GPT-2 initialisation: weights N(0, 0.02), residual output projections N(0, 0.02/√(2L)),
     * biases 0, LayerNorm weights 1; the head N(0, 0.02). Deterministic in the seed.
     */
    public void initRandom(long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        for (ParameterLayout.Entry e : layout.entries()) {
            float[] v = new float[(int) e.size()];
            String n = e.name();
            if (n.endsWith("ln_1.weight") || n.endsWith("ln_2.weight") || n.endsWith("ln_f.weight")) {
                java.util.Arrays.fill(v, 1f);
            } else if (e.decayed()) {
                double std = n.endsWith("c_proj.weight") ? 0.02 / Math.sqrt(2.0 * L) : 0.02;
                for (int i = 0; i < v.length; i++) v[i] = (float) (rng.nextGaussian() * std);
            }
            writeParam(n, v);
        }
    }

    /**
     * A new model (on the same backend) with this model's weights and a scalar head, sized
     * for maxBatch × maxT. An existing head is copied; otherwise the head's weights are
     * N(0, headInitStd²) from the seed and its bias 0.
     */
    public Gpt withHead(int maxBatch, int maxT, long seed, double headInitStd) {
        Gpt m = new Gpt(k, cfg, maxBatch, Math.min(maxT, cfg.maxSeqLen()), true);
        for (ParameterLayout.Entry e : layout.entries()) {
            ParameterLayout.Entry d = m.layout.get(e.name());
            k.copy(m.params.asSlice(d.offset() * 4, d.size() * 4), params.asSlice(e.offset() * 4, e.size() * 4), e.size() * 4);
        }
        if (!hasHead) {
            SplittableRandom rng = new SplittableRandom(seed ^ 0x6ead5eedL);
            float[] w = new float[C];
            for (int i = 0; i < w.length; i++) w[i] = (float) (rng.nextGaussian() * headInitStd);
            m.writeParam(ParameterLayout.HEAD_WEIGHT, w);
            m.writeParam(ParameterLayout.HEAD_BIAS, new float[1]);
        }
        return m;
    }

    public void zeroGrad() {
        k.fill(grads, layout.size(), 0f);
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
            for (int i = 0; i < targetIds.length; i++) {
                if (targetIds[i] >= V || targetIds[i] < -1)
                    throw new UserInputException("target id " + targetIds[i] + " is outside the model's vocabulary [0, " + V + ")");
            }
            k.writeInts(targets, targetIds);
        }
        trunk(B, T);
        int N = B * T;
        if (targetIds != null) k.logprobForward(tokenLogp, entropy, logLse, lnf, wte, targets, N, C, V);
        if (hasHead) k.matmul(headOut, lnf, headW, headB, N, 1, C, false, true, false);
        lastB = B;
        lastT = T;
        lastHadTargets = targetIds != null;
    }

    /** Embedding, the blocks and the final LayerNorm for the uploaded tokens. */
    private void trunk(int B, int T) {
        int N = B * T;
        long nc = (long) N * C;
        k.embeddingForward(encoded, tokens, wte, wpe, B, T, C);
        MemorySegment residual = encoded;
        for (int l = 0; l < L; l++) {
            Block w = p[l];
            Acts a = acts[l];
            k.layerNormForward(a.ln1(), a.ln1Mean(), a.ln1Rstd(), residual, w.ln1w(), w.ln1b(), N, C);
            k.matmul(a.qkv(), a.ln1(), w.qkvw(), w.qkvb(), N, 3 * C, C, false, false, false);
            k.attentionForward(a.atty(), a.lse(), a.qkv(), lengths, B, T, C, NH);
            k.matmul(proj, a.atty(), w.projw(), w.projb(), N, C, C, false, false, false);
            k.add(a.res2(), residual, proj, nc);
            k.layerNormForward(a.ln2(), a.ln2Mean(), a.ln2Rstd(), a.res2(), w.ln2w(), w.ln2b(), N, C);
            k.matmul(a.fch(), a.ln2(), w.fcw(), w.fcb(), N, 4 * C, C, false, false, false);
            k.geluForward(a.fchGelu(), a.fch(), 4 * nc);
            k.matmul(proj, a.fchGelu(), w.fcprojw(), w.fcprojb(), N, C, 4 * C, false, false, false);
            k.add(a.res3(), a.res2(), proj, nc);
            residual = a.res3();
        }
        k.layerNormForward(lnf, lnfMean, lnfRstd, residual, lnfw, lnfb, N, C);
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
        k.matmul(fullLogits, lnf, wte, null, N, V, C, false, true, false);
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
        long nc = (long) N * C;
        k.fill(dln, nc, 0f);
        if (dTokenLogp != null || dTokenEntropy != null) {
            if (!lastHadTargets) throw new IllegalStateException("the last forward computed no log-probs");
            MemorySegment dl = dTokenLogp;
            if (dl == null) {
                k.fill(dlogp, N, 0f);
                dl = dlogp;
            }
            k.logprobBackward(dln, gwte, dl, dTokenEntropy, lnf, wte, targets, logLse, entropy, N, C, V);
        }
        if (dHead != null) {
            if (!hasHead) throw new IllegalStateException("the model has no head");
            k.matmul(dln, dHead, headW, null, N, C, 1, false, false, true);
            k.matmul(gheadW, dHead, lnf, null, 1, C, N, true, false, true);
            k.biasBackward(gheadB, dHead, N, 1);
        }
        k.fill(dres, nc, 0f);
        MemorySegment last = acts[L - 1].res3();
        k.layerNormBackward(dres, glnfw, glnfb, dln, last, lnfw, lnfMean, lnfRstd, N, C);
        for (int l = L - 1; l >= 0; l--) {
            Block w = p[l], d = g[l];
            Acts a = acts[l];
            MemorySegment residual = l == 0 ? encoded : acts[l - 1].res3();
            // res3 = res2 + fcproj(gelu(fc(ln2(res2)))): dres flows to both
            k.matmul(dfch, dres, w.fcprojw(), null, N, 4 * C, C, false, true, false);
            k.matmul(d.fcprojw(), a.fchGelu(), dres, null, 4 * C, C, N, true, false, true);
            k.biasBackward(d.fcprojb(), dres, N, C);
            k.geluBackward(dfch, a.fch(), dfch, 4 * nc);
            k.matmul(dln, dfch, w.fcw(), null, N, C, 4 * C, false, true, false);
            k.matmul(d.fcw(), a.ln2(), dfch, null, C, 4 * C, N, true, false, true);
            k.biasBackward(d.fcb(), dfch, N, 4 * C);
            k.layerNormBackward(dres, d.ln2w(), d.ln2b(), dln, a.res2(), w.ln2w(), a.ln2Mean(), a.ln2Rstd(), N, C);
            // res2 = residual + proj(attention(qkv(ln1(residual))))
            k.matmul(datty, dres, w.projw(), null, N, C, C, false, true, false);
            k.matmul(d.projw(), a.atty(), dres, null, C, C, N, true, false, true);
            k.biasBackward(d.projb(), dres, N, C);
            k.attentionBackward(dqkv, datty, a.qkv(), a.atty(), a.lse(), lengths, B, T, C, NH);
            k.matmul(dln, dqkv, w.qkvw(), null, N, C, 3 * C, false, true, false);
            k.matmul(d.qkvw(), a.ln1(), dqkv, null, C, 3 * C, N, true, false, true);
            k.biasBackward(d.qkvb(), dqkv, N, 3 * C);
            k.layerNormBackward(dres, d.ln1w(), d.ln1b(), dln, residual, w.ln1w(), a.ln1Mean(), a.ln1Rstd(), N, C);
        }
        k.embeddingBackward(gwte, gwpe, dres, tokens, B, T, C);
    }

    private static float[] checkLen(float[] x, int n) {
        if (x.length != n) throw new IllegalArgumentException("expected " + n + " per-token gradients, got " + x.length);
        return x;
    }

    // ---------------------------------------------------------------- KV-cache decoding

    private void ensureDecodeBuffers() {
        if (kCache != null) return;
        kCache = new MemorySegment[L];
        vCache = new MemorySegment[L];
        for (int l = 0; l < L; l++) {
            kCache[l] = k.allocFloats((long) maxB * maxT * C);
            vCache[l] = k.allocFloats((long) maxB * maxT * C);
        }
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
        trunk(B, T);
        for (int l = 0; l < L; l++) k.kvCacheWrite(kCache[l], vCache[l], acts[l].qkv(), B, T, C, NH, maxT);
        int[] rows = new int[B];
        for (int b = 0; b < B; b++) rows[b] = b * T + lens[b] - 1;
        k.writeInts(lastRows, rows);
        k.gatherRows(dln, lnf, lastRows, B, C);
        k.matmul(logits, dln, wte, null, B, V, C, false, true, false);
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
        long bc = (long) B * C;
        k.gatherRows(encoded, wte, tokens, B, C);
        k.gatherRows(proj, wpe, positions, B, C);
        k.add(encoded, encoded, proj, bc);
        MemorySegment residual = encoded;
        for (int l = 0; l < L; l++) {
            Block w = p[l];
            Acts a = acts[l];
            k.layerNormForward(a.ln1(), a.ln1Mean(), a.ln1Rstd(), residual, w.ln1w(), w.ln1b(), B, C);
            k.matmul(a.qkv(), a.ln1(), w.qkvw(), w.qkvb(), B, 3 * C, C, false, false, false);
            k.attentionDecode(a.atty(), a.qkv(), kCache[l], vCache[l], positions, B, C, NH, maxT);
            k.matmul(proj, a.atty(), w.projw(), w.projb(), B, C, C, false, false, false);
            k.add(a.res2(), residual, proj, bc);
            k.layerNormForward(a.ln2(), a.ln2Mean(), a.ln2Rstd(), a.res2(), w.ln2w(), w.ln2b(), B, C);
            k.matmul(a.fch(), a.ln2(), w.fcw(), w.fcb(), B, 4 * C, C, false, false, false);
            k.geluForward(a.fchGelu(), a.fch(), 4 * bc);
            k.matmul(proj, a.fchGelu(), w.fcprojw(), w.fcprojb(), B, C, 4 * C, false, false, false);
            k.add(a.res3(), a.res2(), proj, bc);
            residual = a.res3();
        }
        k.layerNormForward(lnf, lnfMean, lnfRstd, residual, lnfw, lnfb, B, C);
        k.matmul(logits, lnf, wte, null, B, V, C, false, true, false);
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
