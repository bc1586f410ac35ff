package io.pref4j.kernel.cpu;

import io.pref4j.kernel.Kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The pure-Java backend and the reference for every other backend. Buffers are native
 * host memory from a shared arena owned by this context; heavy kernels use the Vector API
 * and the context's worker threads. The operations live in a few classes by family
 * ({@link CpuMatmul}, {@link CpuLogprob}, {@link CpuAttention}, {@link CpuLayers},
 * {@link CpuLlamaLayers}, {@link CpuOptim}, {@link CpuSampler}, {@link CpuLosses}); this
 * class owns memory and threads.
 */
public final class CpuKernels implements Kernels {

    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT;
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT;
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG;

    private final Arena arena = Arena.ofShared();
    private final java.util.concurrent.atomic.AtomicLong allocated = new java.util.concurrent.atomic.AtomicLong();
    private final Parallel par;
    private final CpuMatmul matmul;
    private final CpuLogprob logprob;
    private final CpuAttention attention;
    private final CpuLayers layers;
    private final CpuLlamaLayers llama;
    private final CpuOptim optim;
    private final CpuSampler sampler;

    /** A backend using all available processors. */
    public CpuKernels() {
        this(Runtime.getRuntime().availableProcessors());
    }

    public CpuKernels(int threads) {
        this.par = new Parallel(threads);
        this.matmul = new CpuMatmul(par);
        this.logprob = new CpuLogprob(par, matmul);
        this.attention = new CpuAttention(par);
        this.layers = new CpuLayers(par);
        this.llama = new CpuLlamaLayers(par);
        this.optim = new CpuOptim(par);
        this.sampler = new CpuSampler(par);
    }

    public int threads() {
        return par.threads();
    }

    @Override public String name() {
        return "cpu (" + par.threads() + " thread" + (par.threads() == 1 ? "" : "s") + ")";
    }

    // ---------------------------------------------------------------- memory

    @Override public MemorySegment allocFloats(long n) {
        allocated.addAndGet(n * 4);
        return arena.allocate(F32, n).fill((byte) 0);
    }

    @Override public MemorySegment allocInts(long n) {
        allocated.addAndGet(n * 4);
        return arena.allocate(I32, n).fill((byte) 0);
    }

    @Override public MemorySegment allocLongs(long n) {
        allocated.addAndGet(n * 8);
        return arena.allocate(I64, n).fill((byte) 0);
    }

    /** Bytes of buffers this context has allocated so far (they live until close). */
    public long allocatedBytes() {
        return allocated.get();
    }

    @Override public void fill(MemorySegment x, long n, float value) {
        if (value == 0f) {
            x.asSlice(0, n * 4).fill((byte) 0);
        } else {
            for (long i = 0; i < n; i++) x.setAtIndex(F32, i, value);
        }
    }

    @Override public void copy(MemorySegment dst, MemorySegment src, long bytes) {
        MemorySegment.copy(src, 0, dst, 0, bytes);
    }

    @Override public void write(MemorySegment dst, float[] src) {
        MemorySegment.copy(src, 0, dst, F32, 0, src.length);
    }

    @Override public void writeInts(MemorySegment dst, int[] src) {
        MemorySegment.copy(src, 0, dst, I32, 0, src.length);
    }

    @Override public void writeLongs(MemorySegment dst, long[] src) {
        MemorySegment.copy(src, 0, dst, I64, 0, src.length);
    }

    @Override public void read(MemorySegment src, float[] dst) {
        MemorySegment.copy(src, F32, 0, dst, 0, dst.length);
    }

    @Override public void readInts(MemorySegment src, int[] dst) {
        MemorySegment.copy(src, I32, 0, dst, 0, dst.length);
    }

    @Override public void synchronize() {}

    // ---------------------------------------------------------------- delegation

    @Override public void matmul(MemorySegment out, MemorySegment a, MemorySegment b, MemorySegment bias,
                                 int M, int N, int K, boolean transA, boolean transB, boolean accumulate) {
        matmul.matmul(out, a, b, bias, M, N, K, transA, transB, accumulate);
    }

    @Override public void matmulBatched(MemorySegment out, MemorySegment a, MemorySegment b, int batch,
                                        long strideOut, long strideA, long strideB,
                                        int M, int N, int K, boolean transA, boolean transB, boolean accumulate) {
        matmul.matmulBatched(out, a, b, batch, strideOut, strideA, strideB, M, N, K, transA, transB, accumulate);
    }

    @Override public void biasBackward(MemorySegment dbias, MemorySegment dout, int M, int N) {
        matmul.biasBackward(dbias, dout, M, N);
    }

    @Override public void add(MemorySegment out, MemorySegment a, MemorySegment b, long n) {
        layers.add(out, a, b, n);
    }

    @Override public void accumulate(MemorySegment y, MemorySegment x, long n) {
        layers.accumulate(y, x, n);
    }

    @Override public void scale(MemorySegment x, long n, float s) {
        layers.scale(x, n, s);
    }

    @Override public void geluForward(MemorySegment out, MemorySegment inp, long n) {
        layers.geluForward(out, inp, n);
    }

    @Override public void geluBackward(MemorySegment dinp, MemorySegment inp, MemorySegment dout, long n) {
        layers.geluBackward(dinp, inp, dout, n);
    }

    @Override public void layerNormForward(MemorySegment out, MemorySegment mean, MemorySegment rstd,
                                           MemorySegment inp, MemorySegment weight, MemorySegment bias, int N, int C) {
        layers.layerNormForward(out, mean, rstd, inp, weight, bias, N, C);
    }

    @Override public void layerNormBackward(MemorySegment dinp, MemorySegment dweight, MemorySegment dbias,
                                            MemorySegment dout, MemorySegment inp, MemorySegment weight,
                                            MemorySegment mean, MemorySegment rstd, int N, int C) {
        layers.layerNormBackward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
    }

    @Override public void embeddingForward(MemorySegment out, MemorySegment tokens, MemorySegment wte,
                                           MemorySegment wpe, int B, int T, int C) {
        layers.embeddingForward(out, tokens, wte, wpe, B, T, C);
    }

    @Override public void embeddingBackward(MemorySegment dwte, MemorySegment dwpe, MemorySegment dout,
                                            MemorySegment tokens, int B, int T, int C) {
        layers.embeddingBackward(dwte, dwpe, dout, tokens, B, T, C);
    }

    @Override public void gatherRows(MemorySegment out, MemorySegment x, MemorySegment rows, int R, int C) {
        layers.gatherRows(out, x, rows, R, C);
    }

    @Override public void scatterAddRows(MemorySegment dx, MemorySegment dout, MemorySegment rows, int R, int C) {
        layers.scatterAddRows(dx, dout, rows, R, C);
    }

    @Override public void rowSum(MemorySegment out, MemorySegment x, int rows, int cols) {
        layers.rowSum(out, x, rows, cols);
    }

    @Override public void rowBroadcast(MemorySegment out, MemorySegment x, int rows, int cols) {
        layers.rowBroadcast(out, x, rows, cols);
    }

    @Override public void attentionForward(MemorySegment out, MemorySegment lse, MemorySegment qkv,
                                           MemorySegment lengths, int B, int T, int C, int NH) {
        attention.forward(out, lse, qkv, lengths, B, T, C, NH);
    }

    @Override public void attentionBackward(MemorySegment dqkv, MemorySegment dout, MemorySegment qkv,
                                            MemorySegment out, MemorySegment lse, MemorySegment lengths,
                                            int B, int T, int C, int NH) {
        attention.backward(dqkv, dout, qkv, out, lse, lengths, B, T, C, NH);
    }

    @Override public void kvCacheWrite(MemorySegment kCache, MemorySegment vCache, MemorySegment qkv,
                                       int B, int T, int C, int NH, int maxT) {
        attention.kvCacheWrite(kCache, vCache, qkv, B, T, C, NH, maxT);
    }

    @Override public void attentionDecode(MemorySegment out, MemorySegment qkv, MemorySegment kCache,
                                          MemorySegment vCache, MemorySegment positions,
                                          int B, int C, int NH, int maxT) {
        attention.decode(out, qkv, kCache, vCache, positions, B, C, NH, maxT);
    }

    @Override public void logprobForward(MemorySegment logp, MemorySegment entropy, MemorySegment lse,
                                         MemorySegment hidden, MemorySegment weight, MemorySegment targets,
                                         int N, int C, int V) {
        logprob.forward(logp, entropy, lse, hidden, weight, targets, N, C, V);
    }

    @Override public void logprobBackward(MemorySegment dhidden, MemorySegment dweight, MemorySegment dlogp,
                                          MemorySegment dentropy, MemorySegment hidden, MemorySegment weight,
                                          MemorySegment targets, MemorySegment lse, MemorySegment entropy,
                                          int N, int C, int V) {
        logprob.backward(dhidden, dweight, dlogp, dentropy, hidden, weight, targets, lse, entropy, N, C, V);
    }

    @Override public void adamw(MemorySegment params, MemorySegment grads, MemorySegment m, MemorySegment v,
                                long n, float lr, float beta1, float beta2, float eps, float weightDecay, int step) {
        optim.adamw(params, grads, m, v, n, lr, beta1, beta2, eps, weightDecay, step);
    }

    @Override public double sumSquares(MemorySegment x, long n) {
        return optim.sumSquares(x, n);
    }

    @Override public void sample(MemorySegment tokens, MemorySegment logp, MemorySegment logits,
                                 MemorySegment seeds, long counter, int B, int V,
                                 float temperature, int topK, float topP) {
        sampler.sample(tokens, logp, logits, seeds, counter, B, V, temperature, topK, topP);
    }

    @Override public void close() {
        par.close();
        arena.close();
    }

    // ================================================================ losses (fused)
    // Appended section: delegation to CpuLosses (see the "losses" section of Kernels).

    private final CpuLosses losses = new CpuLosses();

    @Override public void pairwiseLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp,
                                       MemorySegment refLogp, MemorySegment rewards, MemorySegment chosenIdx,
                                       MemorySegment rejectedIdx, int S, int P, int type, int weightMode,
                                       float beta, float labelSmoothing, float ipoTau, float beta2) {
        losses.pairwise(metrics, dlogp, logp, refLogp, rewards, chosenIdx, rejectedIdx, S, P, type, weightMode,
                beta, labelSmoothing, ipoTau, beta2);
    }

    @Override public void sftLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp,
                                  MemorySegment refLogp, MemorySegment lengths, MemorySegment rewards, int S) {
        losses.sft(metrics, dlogp, logp, refLogp, lengths, rewards, S);
    }

    @Override public void rwrLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp,
                                  MemorySegment refLogp, MemorySegment lengths, MemorySegment rewards,
                                  MemorySegment groups, int S, int G, boolean filter, int topK, float tau, float wMax) {
        losses.rwr(metrics, dlogp, logp, refLogp, lengths, rewards, groups, S, G, filter, topK, tau, wMax);
    }

    @Override public void bestOfNLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp,
                                      MemorySegment refLogp, MemorySegment rewards, MemorySegment groups,
                                      int S, int G, int negativeMode, float betaNeg) {
        losses.bestOfN(metrics, dlogp, logp, refLogp, rewards, groups, S, G, negativeMode, betaNeg);
    }

    @Override public void reinforceLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment state,
                                        MemorySegment logp, MemorySegment refLogp, MemorySegment rewards,
                                        MemorySegment groups, int S, int G, int baseline, float decay,
                                        float klCoef, float clipAdv) {
        losses.reinforce(metrics, dlogp, state, logp, refLogp, rewards, groups, S, G, baseline, decay, klCoef, clipAdv);
    }

    @Override public void ppoAdvantages(MemorySegment metrics, MemorySegment advantages, MemorySegment returns,
                                        MemorySegment oldLogp, MemorySegment refLogp, MemorySegment oldValues,
                                        MemorySegment scores, MemorySegment mask, int B, int T,
                                        float klCoef, float gamma, float lambda, boolean whiten) {
        losses.ppoAdvantages(metrics, advantages, returns, oldLogp, refLogp, oldValues, scores, mask, B, T,
                klCoef, gamma, lambda, whiten);
    }

    @Override public void ppoLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment dvalue,
                                  MemorySegment logp, MemorySegment oldLogp, MemorySegment values,
                                  MemorySegment oldValues, MemorySegment advantages, MemorySegment returns,
                                  MemorySegment mask, int B, int T, float clipEps, float valueClip, float vfCoef) {
        losses.ppoLoss(metrics, dlogp, dvalue, logp, oldLogp, values, oldValues, advantages, returns, mask, B, T,
                clipEps, valueClip, vfCoef);
    }

    // ---------------------------------------------------------------- Llama family
    // Grouped-query attention in CpuAttention (the GPT-2 methods above are its NKV = NH case);
    // RMSNorm, q/k norm, RoPE and SwiGLU in CpuLlamaLayers.

    @Override public void attentionForward(MemorySegment out, MemorySegment lse, MemorySegment qkv,
                                           MemorySegment lengths, int B, int T, int NH, int NKV, int HS) {
        attention.forward(out, lse, qkv, lengths, B, T, NH, NKV, HS);
    }

    @Override public void attentionBackward(MemorySegment dqkv, MemorySegment dout, MemorySegment qkv,
                                            MemorySegment out, MemorySegment lse, MemorySegment lengths,
                                            int B, int T, int NH, int NKV, int HS) {
        attention.backward(dqkv, dout, qkv, out, lse, lengths, B, T, NH, NKV, HS);
    }

    @Override public void kvCacheWrite(MemorySegment kCache, MemorySegment vCache, MemorySegment qkv,
                                       int B, int T, int NH, int NKV, int HS, int maxT) {
        attention.kvCacheWrite(kCache, vCache, qkv, B, T, NH, NKV, HS, maxT);
    }

    @Override public void attentionDecode(MemorySegment out, MemorySegment qkv, MemorySegment kCache,
                                          MemorySegment vCache, MemorySegment positions,
                                          int B, int NH, int NKV, int HS, int maxT) {
        attention.decode(out, qkv, kCache, vCache, positions, B, NH, NKV, HS, maxT);
    }

    @Override public void rmsNormForward(MemorySegment out, MemorySegment rstd, MemorySegment inp,
                                         MemorySegment weight, int N, int C, float eps) {
        llama.rmsNormForward(out, rstd, inp, weight, N, C, eps);
    }

    @Override public void rmsNormBackward(MemorySegment dinp, MemorySegment dweight, MemorySegment dout,
                                          MemorySegment inp, MemorySegment weight, MemorySegment rstd, int N, int C) {
        llama.rmsNormBackward(dinp, dweight, dout, inp, weight, rstd, N, C);
    }

    @Override public void qkNormForward(MemorySegment qkvOut, MemorySegment rstd, MemorySegment qkvIn,
                                        MemorySegment qWeight, MemorySegment kWeight,
                                        int N, int NH, int NKV, int HS, float eps) {
        llama.qkNormForward(qkvOut, rstd, qkvIn, qWeight, kWeight, N, NH, NKV, HS, eps);
    }

    @Override public void qkNormBackward(MemorySegment dqkvIn, MemorySegment dqWeight, MemorySegment dkWeight,
                                         MemorySegment dqkvOut, MemorySegment qkvIn, MemorySegment qWeight,
                                         MemorySegment kWeight, MemorySegment rstd, int N, int NH, int NKV, int HS) {
        llama.qkNormBackward(dqkvIn, dqWeight, dkWeight, dqkvOut, qkvIn, qWeight, kWeight, rstd, N, NH, NKV, HS);
    }

    @Override public void ropeForward(MemorySegment qkv, MemorySegment cos, MemorySegment sin, MemorySegment positions,
                                      int B, int T, int NH, int NKV, int HS) {
        llama.rope(qkv, cos, sin, positions, B, T, NH, NKV, HS, false);
    }

    @Override public void ropeBackward(MemorySegment dqkv, MemorySegment cos, MemorySegment sin, MemorySegment positions,
                                       int B, int T, int NH, int NKV, int HS) {
        llama.rope(dqkv, cos, sin, positions, B, T, NH, NKV, HS, true);
    }

    @Override public void swigluForward(MemorySegment out, MemorySegment inp, int N, int I) {
        llama.swigluForward(out, inp, N, I);
    }

    @Override public void swigluBackward(MemorySegment dinp, MemorySegment dout, MemorySegment inp, int N, int I) {
        llama.swigluBackward(dinp, dout, inp, N, I);
    }
}
