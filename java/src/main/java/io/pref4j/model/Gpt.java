package io.pref4j.model;

import io.pref4j.kernel.Kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * A GPT-2 (learned positions, pre-LayerNorm blocks, tanh-GELU MLP of width 4C, LM head tied
 * to the token embedding) on a {@link Kernels} backend. Parameters in HF GPT-2 naming and
 * layout ({@link ParameterLayout#of(GptConfig, boolean)}); the shared parts (buffers, the
 * log-prob head, the scalar head, the decoding frame) are in {@link CausalLm}. This file
 * is the GPT-2 trunk: forward, hand-written backward, KV-cache steps.
 */
public final class Gpt extends CausalLm {

    /** Views of one block's tensors (parameters or gradients). */
    private record Block(MemorySegment ln1w, MemorySegment ln1b, MemorySegment qkvw, MemorySegment qkvb,
                         MemorySegment projw, MemorySegment projb, MemorySegment ln2w, MemorySegment ln2b,
                         MemorySegment fcw, MemorySegment fcb, MemorySegment fcprojw, MemorySegment fcprojb) {}

    /** One block's saved activations, each sized for maxBatch·maxT rows. */
    private record Acts(MemorySegment ln1, MemorySegment ln1Mean, MemorySegment ln1Rstd, MemorySegment qkv,
                        MemorySegment atty, MemorySegment lse, MemorySegment res2, MemorySegment ln2,
                        MemorySegment ln2Mean, MemorySegment ln2Rstd, MemorySegment fch, MemorySegment fchGelu,
                        MemorySegment res3) {}

    private final GptConfig cfg;
    private final int L, NH;

    private final MemorySegment wte, wpe, lnfw, lnfb;
    private final MemorySegment gwte, gwpe, glnfw, glnfb;
    private final Block[] p, g;

    // activations
    private final MemorySegment encoded, proj, lnfMean, lnfRstd;
    private final Acts[] acts;
    // backward scratch
    private final MemorySegment dres, dln, dfch, datty, dqkv;
    // decoding (allocated on first use)
    private MemorySegment[] kCache, vCache;

    /** Allocates everything for batches of up to maxBatch sequences of up to maxT tokens. */
    public Gpt(Kernels kernels, GptConfig cfg, int maxBatch, int maxT, boolean withHead) {
        super(kernels, cfg, ParameterLayout.of(cfg, withHead), "transformer.wte.weight", maxBatch, maxT, withHead);
        this.cfg = cfg;
        this.L = cfg.numLayers();
        this.NH = cfg.numHeads();

        wte = view(params, "transformer.wte.weight");
        wpe = view(params, "transformer.wpe.weight");
        lnfw = view(params, "transformer.ln_f.weight");
        lnfb = view(params, "transformer.ln_f.bias");
        gwte = view(grads, "transformer.wte.weight");
        gwpe = view(grads, "transformer.wpe.weight");
        glnfw = view(grads, "transformer.ln_f.weight");
        glnfb = view(grads, "transformer.ln_f.bias");
        p = new Block[L];
        g = new Block[L];
        for (int l = 0; l < L; l++) {
            p[l] = block(params, l);
            g[l] = block(grads, l);
        }

        long nc = (long) maxN * C;
        encoded = k.allocFloats(nc);
        proj = k.allocFloats(nc);
        lnfMean = k.allocFloats(maxN);
        lnfRstd = k.allocFloats(maxN);
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
    }

    /** A model without a head. */
    public Gpt(Kernels kernels, GptConfig cfg, int maxBatch, int maxT) {
        this(kernels, cfg, maxBatch, maxT, false);
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

    @Override public GptConfig config() { return cfg; }

    @Override protected Gpt create(int maxBatch, int maxT, boolean withHead) {
        return new Gpt(k, cfg, maxBatch, maxT, withHead);
    }

    @Override public Gpt withHead(int maxBatch, int maxT, long seed, double headInitStd) {
        return (Gpt) super.withHead(maxBatch, maxT, seed, headInitStd);
    }

    /**
     * GPT-2 initialisation: weights N(0, 0.02), residual output projections N(0, 0.02/√(2L)),
     * biases 0, LayerNorm weights 1; the head N(0, 0.02). Deterministic in the seed.
     */
    @Override public void initRandom(long seed) {
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

    // ---------------------------------------------------------------- forward / backward

    /** Embedding, the blocks and the final LayerNorm for the uploaded tokens. */
    @Override protected void trunkForward(int B, int T) {
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
        k.layerNormForward(hidden, lnfMean, lnfRstd, residual, lnfw, lnfb, N, C);
    }

    /** The trunk's backward from dhidden (the gradient at the final LayerNorm's output). */
    @Override protected void trunkBackward(int B, int T) {
        int N = B * T;
        long nc = (long) N * C;
        k.fill(dres, nc, 0f);
        MemorySegment last = acts[L - 1].res3();
        k.layerNormBackward(dres, glnfw, glnfb, dhidden, last, lnfw, lnfMean, lnfRstd, N, C);
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


    // ---------------------------------------------------------------- KV-cache decoding

    @Override protected void allocateCache() {
        kCache = new MemorySegment[L];
        vCache = new MemorySegment[L];
        for (int l = 0; l < L; l++) {
            kCache[l] = k.allocFloats((long) maxB * maxT * C);
            vCache[l] = k.allocFloats((long) maxB * maxT * C);
        }
    }

    @Override protected void fillCache(int B, int T) {
        for (int l = 0; l < L; l++) k.kvCacheWrite(kCache[l], vCache[l], acts[l].qkv(), B, T, C, NH, maxT);
    }

    @Override protected void decodeTrunk(int B) {
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
        k.layerNormForward(hidden, lnfMean, lnfRstd, residual, lnfw, lnfb, B, C);
    }
}
