package io.pref4j.model;

import io.pref4j.kernel.Kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * The Llama family (Hugging Face llama, mistral, qwen2, qwen3) on a {@link Kernels} backend:
 * token embedding, blocks of RMSNorm → grouped-query attention with rotary positions →
 * residual → RMSNorm → SwiGLU MLP → residual, a final RMSNorm, and an LM head that is the
 * embedding (tied) or its own {@code lm_head.weight}. Qwen2 adds q/k/v biases (Llama's and
 * Qwen3's {@code attention_bias} put biases on q/k/v and on o_proj), Qwen3 a per-head RMSNorm
 * of q and k before the rotation.
 *
 * <p>Parameters carry Hugging Face's names and layouts ({@code model.layers.0.self_attn.q_proj.weight}
 * [out, in] …), so import and export are plain copies. Within a block the q, k and v
 * projections are stored back to back, so they act as one fused [(NH+2·NKV)·HS, C] matrix and
 * one matmul produces the fused qkv rows the attention kernels read; gate and up likewise form
 * one [2I, C] matrix whose output rows are [gate | up], the SwiGLU kernel's input. The shared
 * parts (buffers, log-prob head, scalar head, decoding frame) are in {@link CausalLm}; this
 * file is the trunk.
 */
public final class Llama extends CausalLm {

    /** Views of one block's tensors (parameters or gradients); qkvb, qNorm, kNorm, ob may be null. */
    private record Block(MemorySegment inNorm, MemorySegment qkvw, MemorySegment qkvb, MemorySegment qNorm,
                         MemorySegment kNorm, MemorySegment ow, MemorySegment ob, MemorySegment postNorm,
                         MemorySegment guw, MemorySegment downw) {}

    /**
     * One block's saved activations, sized for maxBatch·maxT rows. qkvPre is the projection's
     * output before the q/k norm (Qwen3 only, else null); qkv is what attention reads (normed
     * and rotated in place).
     */
    private record Acts(MemorySegment xn1, MemorySegment rstd1, MemorySegment qkvPre, MemorySegment qkRstd,
                        MemorySegment qkv, MemorySegment att, MemorySegment lse, MemorySegment res2,
                        MemorySegment xn2, MemorySegment rstd2, MemorySegment gu, MemorySegment h,
                        MemorySegment res3) {}

    private final LlamaConfig cfg;
    private final int L, NH, NKV, HS, QKV, I, AW;
    private final float eps;

    private final MemorySegment embed, normw, gembed, gnormw;
    private final Block[] p, g;
    /** RoPE tables [maxT, HS/2]. */
    private final MemorySegment cos, sin;

    // activations
    private final MemorySegment encoded, proj, rstdF;
    private final Acts[] acts;
    // backward scratch
    private final MemorySegment dres, dxn, dgu, dh, datt, dqkv, dqkvPre;
    // decoding (allocated on first use): [B, NKV, maxT, HS] per layer
    private MemorySegment[] kCache, vCache;

    /** The parameter layout of a model of this config (HF names), with or without the scalar head. */
    public static ParameterLayout layout(LlamaConfig c, boolean withHead) {
        int C = c.channels(), V = c.vocabSize(), HS = c.headDim(), I = c.intermediate();
        int qd = c.numHeads() * HS, kvd = c.numKvHeads() * HS;
        ParameterLayout.Builder b = ParameterLayout.builder();
        b.matrix("model.embed_tokens.weight", V, C);
        for (int l = 0; l < c.numLayers(); l++) {
            String q = "model.layers." + l + ".";
            b.vector(q + "input_layernorm.weight", C);
            b.matrixRun(new String[]{q + "self_attn.q_proj.weight", q + "self_attn.k_proj.weight", q + "self_attn.v_proj.weight"},
                    new int[][]{{qd, C}, {kvd, C}, {kvd, C}});
            if (c.attentionBias())
                b.vectorRun(new String[]{q + "self_attn.q_proj.bias", q + "self_attn.k_proj.bias", q + "self_attn.v_proj.bias"},
                        new int[][]{{qd}, {kvd}, {kvd}});
            if (c.qkNorm()) {
                b.vector(q + "self_attn.q_norm.weight", HS);
                b.vector(q + "self_attn.k_norm.weight", HS);
            }
            b.matrix(q + "self_attn.o_proj.weight", C, qd);
            if (c.outputBias()) b.vector(q + "self_attn.o_proj.bias", C);
            b.vector(q + "post_attention_layernorm.weight", C);
            b.matrixRun(new String[]{q + "mlp.gate_proj.weight", q + "mlp.up_proj.weight"}, new int[][]{{I, C}, {I, C}});
            b.matrix(q + "mlp.down_proj.weight", C, I);
        }
        b.vector("model.norm.weight", C);
        if (!c.tieWordEmbeddings()) b.matrix("lm_head.weight", V, C);
        if (withHead) b.head(C);
        return b.build();
    }

    /** Allocates everything for batches of up to maxBatch sequences of up to maxT tokens. */
    public Llama(Kernels kernels, LlamaConfig cfg, int maxBatch, int maxT, boolean withHead) {
        super(kernels, cfg, layout(cfg, withHead), cfg.tieWordEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight",
                maxBatch, maxT, withHead);
        this.cfg = cfg;
        this.L = cfg.numLayers();
        this.NH = cfg.numHeads();
        this.NKV = cfg.numKvHeads();
        this.HS = cfg.headDim();
        this.QKV = cfg.qkvWidth();
        this.I = cfg.intermediate();
        this.AW = NH * HS;
        this.eps = (float) cfg.rmsNormEps();

        embed = view(params, "model.embed_tokens.weight");
        normw = view(params, "model.norm.weight");
        gembed = view(grads, "model.embed_tokens.weight");
        gnormw = view(grads, "model.norm.weight");
        p = new Block[L];
        g = new Block[L];
        for (int l = 0; l < L; l++) {
            p[l] = block(params, l);
            g[l] = block(grads, l);
        }

        float[][] tables = ropeTables(cfg, maxT);
        cos = k.allocFloats(tables[0].length);
        sin = k.allocFloats(tables[1].length);
        k.write(cos, tables[0]);
        k.write(sin, tables[1]);

        long n = maxN;
        encoded = k.allocFloats(n * C);
        proj = k.allocFloats(n * C);
        rstdF = k.allocFloats(n);
        acts = new Acts[L];
        for (int l = 0; l < L; l++) {
            acts[l] = new Acts(k.allocFloats(n * C), k.allocFloats(n),
                    cfg.qkNorm() ? k.allocFloats(n * QKV) : null, cfg.qkNorm() ? k.allocFloats(n * (NH + NKV)) : null,
                    k.allocFloats(n * QKV), k.allocFloats(n * AW), k.allocFloats((long) maxB * NH * maxT),
                    k.allocFloats(n * C), k.allocFloats(n * C), k.allocFloats(n),
                    k.allocFloats(n * 2 * I), k.allocFloats(n * I), k.allocFloats(n * C));
        }
        dres = k.allocFloats(n * C);
        dxn = k.allocFloats(n * C);
        dgu = k.allocFloats(n * 2 * I);
        dh = k.allocFloats(n * I);
        datt = k.allocFloats(n * AW);
        dqkv = k.allocFloats(n * QKV);
        dqkvPre = cfg.qkNorm() ? k.allocFloats(n * QKV) : null;
    }

    /** A model without a head. */
    public Llama(Kernels kernels, LlamaConfig cfg, int maxBatch, int maxT) {
        this(kernels, cfg, maxBatch, maxT, false);
    }

    private Block block(MemorySegment buf, int l) {
        String q = "model.layers." + l + ".";
        // q, k and v (and their biases; gate and up) are stored back to back: one fused view each
        MemorySegment qkvw = fused(buf, q + "self_attn.q_proj.weight", (long) QKV * C);
        MemorySegment qkvb = cfg.attentionBias() ? fused(buf, q + "self_attn.q_proj.bias", QKV) : null;
        return new Block(view(buf, q + "input_layernorm.weight"), qkvw, qkvb,
                cfg.qkNorm() ? view(buf, q + "self_attn.q_norm.weight") : null,
                cfg.qkNorm() ? view(buf, q + "self_attn.k_norm.weight") : null,
                view(buf, q + "self_attn.o_proj.weight"),
                cfg.outputBias() ? view(buf, q + "self_attn.o_proj.bias") : null,
                view(buf, q + "post_attention_layernorm.weight"),
                fused(buf, q + "mlp.gate_proj.weight", 2L * I * C), view(buf, q + "mlp.down_proj.weight"));
    }

    /** A view of {@code elems} floats starting at the tensor {@code first} (the head of a run). */
    private MemorySegment fused(MemorySegment buf, String first, long elems) {
        return buf.asSlice(layout.get(first).offset() * 4, elems * 4);
    }

    /**
     * cos and sin [maxT, HS/2] of position·inv_freq (in double, rounded once), with
     * inv_freq[i] = θ^(−2i/HS) adjusted by the config's rope scaling: "linear" divides by the
     * factor; "llama3" (Llama 3.1) divides low frequencies (wavelength above
     * original/low_freq_factor) by the factor, keeps high ones (below original/high_freq_factor)
     * and interpolates smoothly between.
     */
    static float[][] ropeTables(LlamaConfig c, int maxT) {
        int half = c.headDim() / 2;
        double[] inv = new double[half];
        for (int i = 0; i < half; i++) inv[i] = 1.0 / Math.pow(c.ropeTheta(), (2.0 * i) / c.headDim());
        LlamaConfig.RopeScaling rs = c.ropeScaling();
        if (rs != null) {
            switch (rs.type()) {
                case "linear" -> {
                    for (int i = 0; i < half; i++) inv[i] /= rs.factor();
                }
                case "llama3" -> {
                    double old = rs.originalMaxPositions();
                    double lowWave = old / rs.lowFreqFactor(), highWave = old / rs.highFreqFactor();
                    for (int i = 0; i < half; i++) {
                        double wave = 2 * Math.PI / inv[i];
                        if (wave > lowWave) {
                            inv[i] /= rs.factor();
                        } else if (wave >= highWave) {
                            double smooth = (old / wave - rs.lowFreqFactor()) / (rs.highFreqFactor() - rs.lowFreqFactor());
                            inv[i] = (1 - smooth) * inv[i] / rs.factor() + smooth * inv[i];
                        }
                    }
                }
                default -> throw new IllegalArgumentException("rope scaling type " + rs.type());
            }
        }
        float[] cs = new float[maxT * half], sn = new float[maxT * half];
        for (int t = 0; t < maxT; t++) {
            for (int i = 0; i < half; i++) {
                double a = t * inv[i];
                cs[t * half + i] = (float) Math.cos(a);
                sn[t * half + i] = (float) Math.sin(a);
            }
        }
        return new float[][]{cs, sn};
    }

    @Override public LlamaConfig config() { return cfg; }

    @Override protected Llama create(int maxBatch, int maxT, boolean withHead) {
        return new Llama(k, cfg, maxBatch, maxT, withHead);
    }

    @Override public Llama withHead(int maxBatch, int maxT, long seed, double headInitStd) {
        return (Llama) super.withHead(maxBatch, maxT, seed, headInitStd);
    }

    /**
     * Hugging Face's initialisation (initializer_range 0.02): every matrix N(0, 0.02), biases
     * 0, norm weights 1; the head N(0, 0.02). Deterministic in the seed.
     */
    @Override public void initRandom(long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        for (ParameterLayout.Entry e : layout.entries()) {
            float[] v = new float[(int) e.size()];
            String n = e.name();
            if (n.endsWith("norm.weight")) {
                java.util.Arrays.fill(v, 1f);
            } else if (e.decayed()) {
                for (int i = 0; i < v.length; i++) v[i] = (float) (rng.nextGaussian() * 0.02);
            }
            writeParam(n, v);
        }
    }

    // ---------------------------------------------------------------- forward / backward

    /** Embedding, the blocks and the final RMSNorm for the uploaded tokens. */
    @Override protected void trunkForward(int B, int T) {
        int N = B * T;
        long nc = (long) N * C;
        k.gatherRows(encoded, embed, tokens, N, C);
        MemorySegment residual = encoded;
        for (int l = 0; l < L; l++) {
            Block w = p[l];
            Acts a = acts[l];
            k.rmsNormForward(a.xn1(), a.rstd1(), residual, w.inNorm(), N, C, eps);
            projectQkv(w, a, N);
            k.ropeForward(a.qkv(), cos, sin, null, B, T, NH, NKV, HS);
            k.attentionForward(a.att(), a.lse(), a.qkv(), lengths, B, T, NH, NKV, HS);
            k.matmul(proj, a.att(), w.ow(), w.ob(), N, C, AW, false, true, false);
            k.add(a.res2(), residual, proj, nc);
            mlpForward(w, a, N);
            residual = a.res3();
        }
        k.rmsNormForward(hidden, rstdF, residual, normw, N, C, eps);
    }

    /** qkv (=) xn1 · Wqkvᵀ (+ bias), then Qwen3's per-head q/k norm (into a.qkv, keeping the input in a.qkvPre). */
    private void projectQkv(Block w, Acts a, int N) {
        if (cfg.qkNorm()) {
            k.matmul(a.qkvPre(), a.xn1(), w.qkvw(), w.qkvb(), N, QKV, C, false, true, false);
            k.qkNormForward(a.qkv(), a.qkRstd(), a.qkvPre(), w.qNorm(), w.kNorm(), N, NH, NKV, HS, eps);
        } else {
            k.matmul(a.qkv(), a.xn1(), w.qkvw(), w.qkvb(), N, QKV, C, false, true, false);
        }
    }

    /** res3 = res2 + down(silu(gate(xn2)) · up(xn2)), xn2 = rmsnorm(res2). */
    private void mlpForward(Block w, Acts a, int N) {
        k.rmsNormForward(a.xn2(), a.rstd2(), a.res2(), w.postNorm(), N, C, eps);
        k.matmul(a.gu(), a.xn2(), w.guw(), null, N, 2 * I, C, false, true, false);
        k.swigluForward(a.h(), a.gu(), N, I);
        k.matmul(proj, a.h(), w.downw(), null, N, C, I, false, true, false);
        k.add(a.res3(), a.res2(), proj, (long) N * C);
    }

    /** The trunk's backward from dhidden (the gradient at the final RMSNorm's output). */
    @Override protected void trunkBackward(int B, int T) {
        int N = B * T;
        k.fill(dres, (long) N * C, 0f);
        k.rmsNormBackward(dres, gnormw, dhidden, acts[L - 1].res3(), normw, rstdF, N, C);
        for (int l = L - 1; l >= 0; l--) {
            Block w = p[l], d = g[l];
            Acts a = acts[l];
            MemorySegment residual = l == 0 ? encoded : acts[l - 1].res3();
            // res3 = res2 + down(swiglu(gu(rms(res2)))): dres flows to both
            k.matmul(dh, dres, w.downw(), null, N, I, C, false, false, false);
            k.matmul(d.downw(), dres, a.h(), null, C, I, N, true, false, true);
            k.swigluBackward(dgu, dh, a.gu(), N, I);
            k.matmul(dxn, dgu, w.guw(), null, N, C, 2 * I, false, false, false);
            k.matmul(d.guw(), dgu, a.xn2(), null, 2 * I, C, N, true, false, true);
            k.rmsNormBackward(dres, d.postNorm(), dxn, a.res2(), w.postNorm(), a.rstd2(), N, C);
            // res2 = residual + o(attention(rope(qkv(rms(residual)))))
            k.matmul(datt, dres, w.ow(), null, N, AW, C, false, false, false);
            k.matmul(d.ow(), dres, a.att(), null, C, AW, N, true, false, true);
            if (cfg.outputBias()) k.biasBackward(d.ob(), dres, N, C);
            k.attentionBackward(dqkv, datt, a.qkv(), a.att(), a.lse(), lengths, B, T, NH, NKV, HS);
            k.ropeBackward(dqkv, cos, sin, null, B, T, NH, NKV, HS);
            MemorySegment dproj = dqkv;
            if (cfg.qkNorm()) {
                k.qkNormBackward(dqkvPre, d.qNorm(), d.kNorm(), dqkv, a.qkvPre(), w.qNorm(), w.kNorm(), a.qkRstd(), N, NH, NKV, HS);
                dproj = dqkvPre;
            }
            k.matmul(dxn, dproj, w.qkvw(), null, N, C, QKV, false, false, false);
            k.matmul(d.qkvw(), dproj, a.xn1(), null, QKV, C, N, true, false, true);
            if (cfg.attentionBias()) k.biasBackward(d.qkvb(), dproj, N, QKV);
            k.rmsNormBackward(dres, d.inNorm(), dxn, residual, w.inNorm(), a.rstd1(), N, C);
        }
        k.scatterAddRows(gembed, dres, tokens, N, C);
    }

    // ---------------------------------------------------------------- KV-cache decoding

    @Override protected void allocateCache() {
        kCache = new MemorySegment[L];
        vCache = new MemorySegment[L];
        for (int l = 0; l < L; l++) {
            kCache[l] = k.allocFloats((long) maxB * NKV * maxT * HS);
            vCache[l] = k.allocFloats((long) maxB * NKV * maxT * HS);
        }
    }

    @Override protected void fillCache(int B, int T) {
        for (int l = 0; l < L; l++) k.kvCacheWrite(kCache[l], vCache[l], acts[l].qkv(), B, T, NH, NKV, HS, maxT);
    }

    @Override protected void decodeTrunk(int B) {
        k.gatherRows(encoded, embed, tokens, B, C);
        MemorySegment residual = encoded;
        for (int l = 0; l < L; l++) {
            Block w = p[l];
            Acts a = acts[l];
            k.rmsNormForward(a.xn1(), a.rstd1(), residual, w.inNorm(), B, C, eps);
            projectQkv(w, a, B);
            k.ropeForward(a.qkv(), cos, sin, positions, B, 1, NH, NKV, HS);
            k.attentionDecode(a.att(), a.qkv(), kCache[l], vCache[l], positions, B, NH, NKV, HS, maxT);
            k.matmul(proj, a.att(), w.ow(), w.ob(), B, C, AW, false, true, false);
            k.add(a.res2(), residual, proj, (long) B * C);
            mlpForward(w, a, B);
            residual = a.res3();
        }
        k.rmsNormForward(hidden, rstdF, residual, normw, B, C, eps);
    }
}
