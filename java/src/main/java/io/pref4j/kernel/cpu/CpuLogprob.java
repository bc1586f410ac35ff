package io.pref4j.kernel.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Fused LM head + log-softmax gather, forward and backward, without ever forming the
 * [N, V] logits.
 *
 * <p>Rows with a target (targets[n] ≥ 0) are gathered into groups of at most {@link #RG}
 * rows. For each group the vocabulary is walked in chunks of {@link #VC} tokens; a chunk of
 * logits {@code z[r, v] = hidden[r]·weight[v]} for the group is computed with the blocked
 * GEMM of {@link CpuMatmul} into a bounded {@code RG × VC} buffer, then consumed:
 * <ul>
 *   <li>forward: an online softmax per row keeps the running max m, s = Σ exp(z − m) and
 *       t = Σ exp(z − m)·(z − m) (rescaled when m grows) and picks z[target]. At the end
 *       lse = m + log s, logp = z[target] − lse and entropy = −Σ p log p = log s − t/s.</li>
 *   <li>backward: the chunk is recomputed and overwritten in place by
 *       dz = dlogp·(onehot − p) − dentropy·p·(log p + H) with p = exp(z − lse); then
 *       dhidden[group] += dz·weight[chunk] (threads split the group's rows) and
 *       dweight[chunk] += dzᵀ·hidden[group] (threads split the chunk's vocabulary rows), so
 *       every output element has one writer at a time.</li>
 * </ul>
 * Scratch (a few RG × max(C, VC) float arrays) is allocated on first use and reused by
 * later calls; the methods are synchronized because that scratch is shared.
 */
final class CpuLogprob {

    /** Rows per group and vocabulary entries per chunk: the logits buffer is RG × VC floats. */
    static final int RG = 256;
    static final int VC = 1024;

    private static final VectorSpecies<Float> S = CpuMatmul.S;
    private static final int L = S.length();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT;

    private final Parallel par;
    private final CpuMatmul matmul;

    // Shared scratch, grown on demand.
    private int[] rows = new int[0];
    private float[] hid = new float[0];     // [RG, C] gathered hidden rows
    private float[] dh = new float[0];      // [RG, C] dhidden of the group
    private final float[] z = new float[RG * VC]; // logits / dz chunk [RG, VC]
    private final double[] runMax = new double[RG], runSum = new double[RG], runT = new double[RG];
    private final float[] zTarget = new float[RG];
    private final float[] coefA = new float[RG], coefB = new float[RG], rowLse = new float[RG], rowH = new float[RG];
    private final int[] rowTarget = new int[RG];

    CpuLogprob(Parallel par, CpuMatmul matmul) {
        this.par = par;
        this.matmul = matmul;
    }

    private void ensure(int N, int C) {
        if (rows.length < N) rows = new int[N];
        if (hid.length < RG * C) {
            hid = new float[RG * C];
            dh = new float[RG * C];
        }
    }

    private static int target(MemorySegment targets, int n, int V) {
        int t = targets.getAtIndex(I32, n);
        if (t >= V) throw new IllegalArgumentException("target " + t + " at row " + n + " is outside the vocabulary of " + V);
        return t;
    }

    /** Copies the hidden rows rows[g0 .. g0+rg) into hid[0 .. rg·C). */
    private void gather(MemorySegment hidden, int g0, int rg, int C) {
        for (int r = 0; r < rg; r++) {
            MemorySegment.copy(hidden, F32, (long) rows[g0 + r] * C * 4, hid, r * C, C);
        }
    }

    // ------------------------------------------------------------------ forward

    /** See {@code Kernels.logprobForward}. */
    synchronized void forward(MemorySegment logp, MemorySegment entropy, MemorySegment lse,
                              MemorySegment hidden, MemorySegment weight, MemorySegment targets,
                              int N, int C, int V) {
        if (N <= 0) return;
        ensure(N, C);
        int nValid = 0;
        for (int n = 0; n < N; n++) {
            if (target(targets, n, V) >= 0) rows[nValid++] = n;
            logp.setAtIndex(F32, n, 0f);
            lse.setAtIndex(F32, n, 0f);
            if (entropy != null) entropy.setAtIndex(F32, n, 0f);
        }
        MemorySegment hidSeg = MemorySegment.ofArray(hid);
        for (int g0 = 0; g0 < nValid; g0 += RG) {
            final int rg = Math.min(RG, nValid - g0), group = g0;
            gather(hidden, g0, rg, C);
            for (int r = 0; r < rg; r++) {
                runMax[r] = Double.NEGATIVE_INFINITY;
                runSum[r] = 0;
                runT[r] = 0;
                rowTarget[r] = targets.getAtIndex(I32, rows[g0 + r]);
            }
            for (int v0 = 0; v0 < V; v0 += VC) {
                final int vc = Math.min(VC, V - v0), chunk = v0;
                par.range(rg, rowGrain(vc, C), (s, e) -> {
                    // z[s..e, 0..vc) = hid[s..e] · weight[chunk .. chunk+vc]ᵀ
                    CpuMatmul.gemm(CpuMatmul.scratch(), hidSeg, (long) s * C, C, false,
                                   weight, (long) chunk * C, C, true,
                                   null, z, (long) s * VC, VC, null, e - s, vc, C, false);
                    for (int r = s; r < e; r++) onlineUpdate(r, chunk, vc);
                });
            }
            for (int r = 0; r < rg; r++) {
                int n = rows[group + r];
                double logS = Math.log(runSum[r]);
                double l = runMax[r] + logS;
                lse.setAtIndex(F32, n, (float) l);
                logp.setAtIndex(F32, n, (float) (zTarget[r] - l));
                if (entropy != null) entropy.setAtIndex(F32, n, (float) (logS - runT[r] / runSum[r]));
            }
        }
    }

    /** Rows per thread piece so that a piece's GEMM is worth a task (~1 MFLOP). */
    private static int rowGrain(int vc, int C) {
        return (int) Math.max(1, Math.min(RG, (1L << 20) / Math.max(1L, 2L * vc * C)));
    }

    /** Folds z[r, 0..vc) (vocabulary chunk starting at v0) into row r's running softmax stats. */
    private void onlineUpdate(int r, int v0, int vc) {
        int base = r * VC, bound = S.loopBound(vc);
        FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int j = 0;
        for (; j < bound; j += L) vmax = vmax.max(FloatVector.fromArray(S, z, base + j));
        float cmax = vmax.reduceLanes(VectorOperators.MAX);
        for (; j < vc; j++) cmax = Math.max(cmax, z[base + j]);

        double m = runMax[r];
        if (cmax > m) {
            if (m != Double.NEGATIVE_INFINITY) {
                // Re-express the sums relative to the new max: t' = e^{m−m'}(t + s(m−m')).
                double scale = Math.exp(m - cmax);
                runT[r] = (runT[r] + runSum[r] * (m - cmax)) * scale;
                runSum[r] *= scale;
            }
            m = cmax;
            runMax[r] = m;
        }
        float mf = (float) m;
        FloatVector vm = FloatVector.broadcast(S, mf);
        FloatVector vs = FloatVector.zero(S), vt = FloatVector.zero(S);
        j = 0;
        for (; j < bound; j += L) {
            FloatVector d = FloatVector.fromArray(S, z, base + j).sub(vm);
            FloatVector ex = d.lanewise(VectorOperators.EXP);
            vs = vs.add(ex);
            vt = ex.fma(d, vt);
        }
        double s = vs.reduceLanes(VectorOperators.ADD), t = vt.reduceLanes(VectorOperators.ADD);
        for (; j < vc; j++) {
            float d = z[base + j] - mf;
            double ex = Math.exp(d);
            s += ex;
            t += ex * d;
        }
        runSum[r] += s;
        runT[r] += t;
        int tgt = rowTarget[r] - v0;
        if (tgt >= 0 && tgt < vc) zTarget[r] = z[base + tgt];
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
        ensure(N, C);
        // Rows that contribute: a target, and a non-zero upstream gradient.
        int nValid = 0;
        for (int n = 0; n < N; n++) {
            if (target(targets, n, V) < 0) continue;
            float a = dlogp == null ? 0f : dlogp.getAtIndex(F32, n);
            float b = dentropy == null ? 0f : dentropy.getAtIndex(F32, n);
            if (a != 0f || b != 0f) rows[nValid++] = n;
        }
        MemorySegment hidSeg = MemorySegment.ofArray(hid), zSeg = MemorySegment.ofArray(z);
        for (int g0 = 0; g0 < nValid; g0 += RG) {
            final int rg = Math.min(RG, nValid - g0);
            gather(hidden, g0, rg, C);
            java.util.Arrays.fill(dh, 0, rg * C, 0f);
            for (int r = 0; r < rg; r++) {
                int n = rows[g0 + r];
                rowTarget[r] = targets.getAtIndex(I32, n);
                coefA[r] = dlogp == null ? 0f : dlogp.getAtIndex(F32, n);
                coefB[r] = dentropy == null ? 0f : dentropy.getAtIndex(F32, n);
                rowLse[r] = lse.getAtIndex(F32, n);
                rowH[r] = coefB[r] == 0f ? 0f : entropy.getAtIndex(F32, n);
            }
            for (int v0 = 0; v0 < V; v0 += VC) {
                final int vc = Math.min(VC, V - v0), chunk = v0;
                // Phase 1, rows split: recompute z, turn it into dz, dh[rows] += dz · W[chunk].
                par.range(rg, rowGrain(vc, C), (s, e) -> {
                    CpuMatmul.Scratch sc = CpuMatmul.scratch();
                    CpuMatmul.gemm(sc, hidSeg, (long) s * C, C, false,
                                   weight, (long) chunk * C, C, true,
                                   null, z, (long) s * VC, VC, null, e - s, vc, C, false);
                    for (int r = s; r < e; r++) logitGrad(r, chunk, vc);
                    CpuMatmul.gemm(sc, zSeg, (long) s * VC, VC, false,
                                   weight, (long) chunk * C, C, false,
                                   null, dh, (long) s * C, C, null, e - s, C, vc, true);
                });
                // Phase 2, vocabulary rows split: dW[chunk] += dzᵀ · hid.
                matmul.matmulParallel(dweight, (long) chunk * C, C, zSeg, 0, VC, true,
                                      hidSeg, 0, C, false, null, vc, C, rg, true);
            }
            // dhidden[rows] += dh
            for (int r = 0; r < rg; r++) {
                long off = (long) rows[g0 + r] * C;
                int base = r * C;
                for (int c = 0; c < C; c++) {
                    dhidden.setAtIndex(F32, off + c, dhidden.getAtIndex(F32, off + c) + dh[base + c]);
                }
            }
        }
    }

    /**
     * Overwrites z[r, 0..vc) with dz = a·(onehot − p) − b·p·(log p + H), p = exp(z − lse),
     * i.e. dz = −p·(a + b·(z − lse + H)) plus a at the target.
     */
    private void logitGrad(int r, int v0, int vc) {
        int base = r * VC, bound = S.loopBound(vc);
        float a = coefA[r], b = coefB[r], l = rowLse[r], h = rowH[r];
        FloatVector vl = FloatVector.broadcast(S, l), va = FloatVector.broadcast(S, a);
        FloatVector vb = FloatVector.broadcast(S, b), vhl = FloatVector.broadcast(S, h - l);
        int j = 0;
        for (; j < bound; j += L) {
            FloatVector zz = FloatVector.fromArray(S, z, base + j);
            FloatVector p = zz.sub(vl).lanewise(VectorOperators.EXP);
            // a + b·(z + H − lse)
            FloatVector w = zz.add(vhl).fma(vb, va);
            p.mul(w).neg().intoArray(z, base + j);
        }
        for (; j < vc; j++) {
            float zz = z[base + j];
            float p = (float) Math.exp(zz - l);
            z[base + j] = -p * (a + b * (zz + (h - l)));
        }
        int tgt = rowTarget[r] - v0;
        if (tgt >= 0 && tgt < vc) z[base + tgt] += a;
    }
}
