package io.pref4j.kernel.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Fused LM head + log-softmax gather, forward and backward, without ever forming the
 * [N, V] logits.
 *
 * <p>Rows with a target (targets[n] ≥ 0; in the backward also a non-zero upstream gradient)
 * are gathered into groups of at most {@link #RG} rows, {@code hid[RG, C]}. The group's
 * hidden block is packed once as the GEMM's B operand (both hidᵀ and hid), and the
 * vocabulary is split into chunks of {@link #VC} tokens, whole chunks being shared out
 * between threads. For a chunk v0..v0+vc a thread computes the transposed logits
 * {@code zT[v, r] = weight[v0 + v]·hid[r]} ({@code VC × RG} floats, per-thread, reused)
 * with {@link CpuMatmul}'s blocked GEMM, then:
 * <ul>
 *   <li>forward: per row, the chunk's max m_c, s_c = Σ exp(z − m_c) and
 *       t_c = Σ exp(z − m_c)·(z − m_c) (vectorised across rows), and z[target] if the target
 *       lies in the chunk. After all chunks, per row and in chunk order (so the result does
 *       not depend on the thread count) the partials merge into
 *       m = max m_c, s = Σ e^{m_c−m} s_c, t = Σ e^{m_c−m}(t_c + s_c (m_c − m)), and
 *       lse = m + log s, logp = z[target] − lse, entropy = −Σ p log p = log s − t/s.</li>
 *   <li>backward: zT is overwritten in place by
 *       dz = dlogp·(onehot − p) − dentropy·p·(log p + H), p = exp(z − lse); then
 *       dweight[chunk] += dz·hid (the thread owns those vocabulary rows) and the thread's
 *       private dh[RG, C] += dzᵀ·weight[chunk]. The threads' dh are added into dhidden
 *       after the group.</li>
 * </ul>
 * Memory is bounded by the group and chunk sizes, never by V: per thread one VC × RG
 * logits block and one RG × C gradient block, allocated once and reused.
 */
final class CpuLogprob {

    /** Rows per group and vocabulary entries per chunk. */
    static final int RG = 512;
    static final int VC = 256;

    private static final VectorSpecies<Float> S = CpuMatmul.S;
    private static final int L = S.length();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT;

    private final Parallel par;

    // Shared, per call: gathered rows and packed operands (grown on demand, reused).
    private int[] rows = new int[0];
    private float[] hid = new float[0];       // [RG, C]
    private float[] hidT = new float[0];      // hidᵀ packed as B (K = C, N = rg)
    private float[] hidP = new float[0];      // hid packed as B (K = rg, N = C)
    private final int[] rowTarget = new int[RG];
    private final float[] zTarget = new float[RG];
    private final float[] coefA = new float[RG], coefB = new float[RG], rowLse = new float[RG], rowHmL = new float[RG];
    // Per-chunk softmax partials [chunk][row], forward only.
    private float[] chunkMax = new float[0];
    private double[] chunkSum = new double[0], chunkT = new double[0];

    /** Per-thread buffers. */
    private static final class Local {
        final float[] zT = new float[VC * RG];
        final MemorySegment zTSeg = MemorySegment.ofArray(zT);
        final float[] cm = new float[RG], cs = new float[RG], ct = new float[RG];
    }

    /**
     * dh blocks of the backward's pieces. Not thread-local: a thread may run two pieces of
     * one parallel loop one after the other, and each piece's dh must survive until the
     * reduction.
     */
    private final List<float[]> dhPool = new ArrayList<>();

    private static final ThreadLocal<Local> LOCAL = ThreadLocal.withInitial(Local::new);

    CpuLogprob(Parallel par, CpuMatmul matmul) {
        this.par = par;
    }

    private void ensure(int N, int C, int chunks) {
        if (rows.length < N) rows = new int[N];
        if (hid.length < RG * C) {
            hid = new float[RG * C];
            hidT = new float[CpuMatmul.packedBSize(C, RG)];
            hidP = new float[CpuMatmul.packedBSize(RG, C)];
        }
        if (chunkMax.length < chunks * RG) {
            chunkMax = new float[chunks * RG];
            chunkSum = new double[chunks * RG];
            chunkT = new double[chunks * RG];
        }
    }

    private static int target(MemorySegment targets, int n, int V) {
        int t = targets.getAtIndex(I32, n);
        if (t >= V) throw new IllegalArgumentException("target " + t + " at row " + n + " is outside the vocabulary of " + V);
        return t;
    }

    /** Copies hidden rows rows[g0 .. g0+rg) into hid and packs hidᵀ (and hid when needed). */
    private void gatherAndPack(MemorySegment hidden, int g0, int rg, int C, boolean alsoHid) {
        for (int r = 0; r < rg; r++) {
            MemorySegment.copy(hidden, F32, (long) rows[g0 + r] * C * 4, hid, r * C, C);
        }
        MemorySegment hs = MemorySegment.ofArray(hid);
        CpuMatmul.Scratch sc = CpuMatmul.scratch();
        CpuMatmul.prepackB(sc, hidT, hs, 0, C, true, C, rg);
        if (alsoHid) CpuMatmul.prepackB(sc, hidP, hs, 0, C, false, rg, C);
    }

    /** zT[0..vc, 0..rg) = weight[v0 .. v0+vc] · hidᵀ (row stride rg). */
    private void logitsChunk(Local lo, MemorySegment weight, int v0, int vc, int rg, int C) {
        CpuMatmul.gemmPackedB(CpuMatmul.scratch(), weight, (long) v0 * C, C, false, hidT,
                              null, lo.zT, 0, rg, null, vc, rg, C, false);
    }

    // ------------------------------------------------------------------ forward

    /** See {@code Kernels.logprobForward}. */
    synchronized void forward(MemorySegment logp, MemorySegment entropy, MemorySegment lse,
                              MemorySegment hidden, MemorySegment weight, MemorySegment targets,
                              int N, int C, int V) {
        if (N <= 0) return;
        final int chunks = (V + VC - 1) / VC;
        ensure(N, C, chunks);
        int nValid = 0;
        for (int n = 0; n < N; n++) {
            if (target(targets, n, V) >= 0) rows[nValid++] = n;
            logp.setAtIndex(F32, n, 0f);
            lse.setAtIndex(F32, n, 0f);
            if (entropy != null) entropy.setAtIndex(F32, n, 0f);
        }
        for (int g0 = 0; g0 < nValid; g0 += RG) {
            final int rg = Math.min(RG, nValid - g0);
            gatherAndPack(hidden, g0, rg, C, false);
            for (int r = 0; r < rg; r++) rowTarget[r] = targets.getAtIndex(I32, rows[g0 + r]);
            par.range(chunks, chunkGrain(rg, C), (c0, c1) -> {
                Local lo = LOCAL.get();
                for (int ch = c0; ch < c1; ch++) {
                    int v0 = ch * VC, vc = Math.min(VC, V - v0);
                    logitsChunk(lo, weight, v0, vc, rg, C);
                    chunkStats(lo, ch, v0, vc, rg);
                }
            });
            for (int r = 0; r < rg; r++) {
                // Merge the chunks' partials in chunk order.
                double m = Double.NEGATIVE_INFINITY;
                for (int ch = 0; ch < chunks; ch++) m = Math.max(m, chunkMax[ch * RG + r]);
                double s = 0, t = 0;
                for (int ch = 0; ch < chunks; ch++) {
                    double mc = chunkMax[ch * RG + r], sc = chunkSum[ch * RG + r];
                    double f = Math.exp(mc - m);
                    s += f * sc;
                    t += f * (chunkT[ch * RG + r] + sc * (mc - m));
                }
                int n = rows[g0 + r];
                double logS = Math.log(s), l = m + logS;
                lse.setAtIndex(F32, n, (float) l);
                logp.setAtIndex(F32, n, (float) (zTarget[r] - l));
                if (entropy != null) entropy.setAtIndex(F32, n, (float) (logS - t / s));
            }
        }
    }

    /** Chunks per thread piece so that a piece is worth a task (~1 MFLOP). */
    private static int chunkGrain(int rg, int C) {
        return (int) Math.max(1, (1L << 20) / Math.max(1L, 2L * VC * rg * C));
    }

    /**
     * For chunk ch (vocabulary v0..v0+vc) and every row r: the chunk's max, Σ exp(z − max) and
     * Σ exp(z − max)·(z − max) into the partial arrays, and z[target] when it lies here.
     * Vectorised across rows: zT holds row r's logit of token v at v·rg + r.
     */
    private void chunkStats(Local lo, int ch, int v0, int vc, int rg) {
        float[] zT = lo.zT, cm = lo.cm, cs = lo.cs, ct = lo.ct;
        int bound = S.loopBound(rg);
        Arrays.fill(cm, 0, rg, Float.NEGATIVE_INFINITY);
        Arrays.fill(cs, 0, rg, 0f);
        Arrays.fill(ct, 0, rg, 0f);
        for (int v = 0; v < vc; v++) {
            int base = v * rg, r = 0;
            for (; r < bound; r += L) {
                FloatVector.fromArray(S, cm, r).max(FloatVector.fromArray(S, zT, base + r)).intoArray(cm, r);
            }
            for (; r < rg; r++) cm[r] = Math.max(cm[r], zT[base + r]);
        }
        for (int v = 0; v < vc; v++) {
            int base = v * rg, r = 0;
            for (; r < bound; r += L) {
                FloatVector d = FloatVector.fromArray(S, zT, base + r).sub(FloatVector.fromArray(S, cm, r));
                FloatVector e = VectorMath.exp(d);
                FloatVector.fromArray(S, cs, r).add(e).intoArray(cs, r);
                e.fma(d, FloatVector.fromArray(S, ct, r)).intoArray(ct, r);
            }
            for (; r < rg; r++) {
                float d = zT[base + r] - cm[r], e = (float) Math.exp(d);
                cs[r] += e;
                ct[r] += e * d;
            }
        }
        int off = ch * RG;
        for (int r = 0; r < rg; r++) {
            chunkMax[off + r] = cm[r];
            chunkSum[off + r] = cs[r];
            chunkT[off + r] = ct[r];
            int t = rowTarget[r] - v0;
            if (t >= 0 && t < vc) zTarget[r] = zT[t * rg + r];
        }
    }

    // ------------------------------------------------------------------ backward

    /** See {@code Kernels.logprobBackward}. */
    synchronized void backward(MemorySegment dhidden, MemorySegment dweight, MemorySegment dlogp,
                               MemorySegment dentropy, MemorySegment hidden, MemorySegment weight,
                               MemorySegment targets, MemorySegment lse, MemorySegment entropy,
                               int N, int C, int V) {
        if (N <= 0) return;
        if (dentropy != null && entropy == null) {
            throw new IllegalArgumentException("logprobBackward: dentropy given without the forward's entropy");
        }
        final int chunks = (V + VC - 1) / VC;
        ensure(N, C, chunks);
        // Rows that contribute: a target, and a non-zero upstream gradient.
        int nValid = 0;
        for (int n = 0; n < N; n++) {
            if (target(targets, n, V) < 0) continue;
            float a = dlogp == null ? 0f : dlogp.getAtIndex(F32, n);
            float b = dentropy == null ? 0f : dentropy.getAtIndex(F32, n);
            if (a != 0f || b != 0f) rows[nValid++] = n;
        }
        for (int g0 = 0; g0 < nValid; g0 += RG) {
            final int rg = Math.min(RG, nValid - g0);
            gatherAndPack(hidden, g0, rg, C, true);
            for (int r = 0; r < rg; r++) {
                int n = rows[g0 + r];
                rowTarget[r] = targets.getAtIndex(I32, n);
                coefA[r] = dlogp == null ? 0f : dlogp.getAtIndex(F32, n);
                coefB[r] = dentropy == null ? 0f : dentropy.getAtIndex(F32, n);
                rowLse[r] = lse.getAtIndex(F32, n);
                float h = coefB[r] == 0f ? 0f : entropy.getAtIndex(F32, n);
                rowHmL[r] = h - rowLse[r];
            }
            // Each piece: its chunks' dweight rows, and its own dh over the whole group.
            List<Object[]> parts = new ArrayList<>();
            par.range(chunks, chunkGrain(rg, C), (c0, c1) -> {
                Local lo = LOCAL.get();
                float[] dh;
                synchronized (dhPool) {
                    dh = dhPool.isEmpty() ? null : dhPool.remove(dhPool.size() - 1);
                }
                if (dh == null || dh.length < rg * C) dh = new float[RG * C];
                Arrays.fill(dh, 0, rg * C, 0f);
                CpuMatmul.Scratch sc = CpuMatmul.scratch();
                for (int ch = c0; ch < c1; ch++) {
                    int v0 = ch * VC, vc = Math.min(VC, V - v0);
                    logitsChunk(lo, weight, v0, vc, rg, C);
                    logitGrad(lo, v0, vc, rg);
                    // dweight[v0 .. v0+vc] += dz[vc, rg] · hid[rg, C]
                    CpuMatmul.gemmPackedB(sc, lo.zTSeg, 0, rg, false, hidP,
                                          dweight, null, (long) v0 * C, C, null, vc, C, rg, true);
                    // dh[rg, C] += dzᵀ · weight[v0 .. v0+vc]
                    CpuMatmul.gemm(sc, lo.zTSeg, 0, rg, true, weight, (long) v0 * C, C, false,
                                   null, dh, 0, C, null, rg, C, vc, true);
                }
                synchronized (parts) {
                    parts.add(new Object[] {c0, dh});
                }
            });
            parts.sort((x, y) -> Integer.compare((Integer) x[0], (Integer) y[0]));
            // dhidden[rows] += Σ_pieces dh (pieces in chunk order, so runs are reproducible)
            float[] rowAcc = new float[C];
            for (int r = 0; r < rg; r++) {
                long off = (long) rows[g0 + r] * C;
                MemorySegment.copy(dhidden, F32, off * 4, rowAcc, 0, C);
                for (Object[] part : parts) {
                    float[] dh = (float[]) part[1];
                    int base = r * C, c = 0;
                    for (; c < S.loopBound(C); c += L) {
                        FloatVector.fromArray(S, rowAcc, c).add(FloatVector.fromArray(S, dh, base + c)).intoArray(rowAcc, c);
                    }
                    for (; c < C; c++) rowAcc[c] += dh[base + c];
                }
                MemorySegment.copy(rowAcc, 0, dhidden, F32, off * 4, C);
            }
            for (Object[] part : parts) dhPool.add((float[]) part[1]);
        }
    }

    /**
     * Overwrites zT[v, r] (v < vc, r < rg) with dz = a·(onehot − p) − b·p·(log p + H),
     * p = exp(z − lse), i.e. dz = −p·(a + b·(z − lse + H)) plus a at the target.
     */
    private void logitGrad(Local lo, int v0, int vc, int rg) {
        float[] zT = lo.zT;
        int bound = S.loopBound(rg);
        for (int v = 0; v < vc; v++) {
            int base = v * rg, r = 0;
            for (; r < bound; r += L) {
                FloatVector z = FloatVector.fromArray(S, zT, base + r);
                FloatVector p = VectorMath.exp(z.sub(FloatVector.fromArray(S, rowLse, r)));
                FloatVector w = z.add(FloatVector.fromArray(S, rowHmL, r))
                        .fma(FloatVector.fromArray(S, coefB, r), FloatVector.fromArray(S, coefA, r));
                p.mul(w).neg().intoArray(zT, base + r);
            }
            for (; r < rg; r++) {
                float z = zT[base + r];
                float p = (float) Math.exp(z - rowLse[r]);
                zT[base + r] = -p * (coefA[r] + coefB[r] * (z + rowHmL[r]));
            }
        }
        for (int r = 0; r < rg; r++) {
            int t = rowTarget[r] - v0;
            if (t >= 0 && t < vc) zT[t * rg + r] += coefA[r];
        }
    }
}
