package io.pref4j.kernel.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

import static io.pref4j.kernel.cpu.CpuKernels.F32;
import static io.pref4j.kernel.cpu.CpuKernels.I32;

/**
 * Causal multi-head attention, flash-style: no T×T buffer exists. A query row walks its
 * keys in blocks of {@link #KB}, keeping a running max and sum (online softmax), and the
 * forward saves each row's log-sum-exp so that the backward can recompute probabilities
 * exactly. Dot products and axpys over the head size are vectorised; scores of a key
 * block are exponentiated with one vector op.
 *
 * <p>Layout: qkv[B,T,3C], row = [q | k | v], head h in columns h·HS .. (h+1)·HS−1 of each
 * part. Sequences are right-padded to T with lengths[b] real tokens.
 *
 * <p>Threads: the forward's work items are (b, h, block of {@link #QB} query rows), handed
 * out dynamically, most expensive (latest rows) first. The backward's item is a whole
 * (b, h), so one task owns that head's dq, dk and dv columns of every row: no races. Each
 * worker slot has its own scratch, allocated once and grown only when a larger T or HS is
 * seen, so repeated calls do not allocate buffers. Because of that shared scratch, one
 * instance must not be called from two threads at once (the backend is driven by one
 * thread; parallelism is inside each call).
 */
final class CpuAttention {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ByteOrder NO = ByteOrder.nativeOrder();

    /** Keys per online-softmax block. */
    private static final int KB = 128;
    /** Query rows per forward work item. */
    private static final int QB = 16;

    /** Per-worker scratch. */
    private static final class Scratch {
        float[] q = new float[0], acc = new float[0], dO = new float[0], dq = new float[0];
        final float[] sc = new float[KB], dp = new float[KB];
        float[] dk = new float[0], dv = new float[0];
    }

    private final Parallel par;
    private final Scratch[] scratch;
    private final AtomicInteger next = new AtomicInteger();

    CpuAttention(Parallel par) {
        this.par = par;
        this.scratch = new Scratch[par.threads()];
        for (int i = 0; i < scratch.length; i++) scratch[i] = new Scratch();
    }

    /** Makes every worker's scratch big enough for head size HS (and T rows of dk/dv when T > 0). */
    private void ensure(int HS, int T) {
        for (Scratch w : scratch) {
            if (w.q.length < HS) {
                w.q = new float[HS];
                w.acc = new float[HS];
                w.dO = new float[HS];
                w.dq = new float[HS];
            }
            long need = (long) T * HS;
            if (need > Integer.MAX_VALUE) throw new IllegalArgumentException("T*HS too large");
            if (w.dk.length < need) {
                w.dk = new float[(int) need];
                w.dv = new float[(int) need];
            }
        }
    }

    @FunctionalInterface
    private interface Item {
        void run(Scratch w, int item);
    }

    /** Runs items 0..n-1 on all workers, handing them out one at a time in index order. */
    private void dynamic(int n, Item body) {
        if (n <= 0) return;
        next.set(0);
        int workers = Math.min(scratch.length, n);
        par.range(workers, 1, (s, e) -> {
            for (int slot = s; slot < e; slot++) {
                Scratch w = scratch[slot];
                for (int i; (i = next.getAndIncrement()) < n; ) body.run(w, i);
            }
        });
    }

    private static int length(MemorySegment lengths, int b, int T) {
        return Math.clamp(lengths.getAtIndex(I32, b), 0, T);
    }

    // ---------------------------------------------------------------- forward

    /**
     * out[b,t,h] = Σ_{s≤t} softmax_s(q_t·k_s/√HS) v_s for t < lengths[b], and
     * lse[b,h,t] = log Σ_{s≤t} exp(q_t·k_s/√HS); padding rows get out = 0 and lse = 0.
     */
    void forward(MemorySegment out, MemorySegment lse, MemorySegment qkv, MemorySegment lengths,
                 int B, int T, int C, int NH) {
        final int HS = C / NH, C3 = 3 * C;
        final float scale = (float) (1.0 / Math.sqrt(HS));
        final int pairs = B * NH, nqb = (T + QB - 1) / QB;
        ensure(HS, 0);
        dynamic(pairs * nqb, (w, item) -> {
            int qb = nqb - 1 - item / pairs, pair = item % pairs;
            int b = pair / NH, h = pair % NH;
            int len = length(lengths, b, T);
            long seqBase = (long) b * T * C3;
            for (int t = qb * QB, tEnd = Math.min(T, t + QB); t < tEnd; t++) {
                long outOff = ((long) b * T + t) * C + (long) h * HS;
                long lseOff = ((long) b * NH + h) * T + t;
                if (t >= len) {
                    out.asSlice(outOff * 4, (long) HS * 4).fill((byte) 0);
                    lse.setAtIndex(F32, lseOff, 0f);
                    continue;
                }
                long qOff = seqBase + (long) t * C3 + (long) h * HS;
                for (int i = 0; i < HS; i++) w.q[i] = qkv.getAtIndex(F32, qOff + i) * scale;
                long kBase = seqBase + C + (long) h * HS;
                float l = attendRow(w, HS, qkv, kBase, qkv, kBase + C, C3, t + 1, out, outOff);
                lse.setAtIndex(F32, lseOff, l);
            }
        });
    }

    /**
     * One query row: with the pre-scaled query in w.q, attends over n keys
     * K[kBase + s·stride .. +HS) and values V[vBase + s·stride ..], s in [0, n), using an
     * online softmax over key blocks; writes the HS outputs to out[outOff..] and returns
     * the log-sum-exp of the scores.
     */
    private static float attendRow(Scratch w, int HS, MemorySegment K, long kBase, MemorySegment V, long vBase,
                                   long stride, int n, MemorySegment out, long outOff) {
        float[] acc = w.acc, sc = w.sc;
        Arrays.fill(acc, 0, HS, 0f);
        float m = Float.NEGATIVE_INFINITY, l = 0f;
        for (int kb = 0; kb < n; kb += KB) {
            int cnt = Math.min(KB, n - kb);
            dots(w.q, K, kBase + kb * stride, stride, cnt, HS, sc);
            float bm = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < cnt; j++) bm = Math.max(bm, sc[j]);
            if (bm > m) {
                // rescale what was accumulated under the old max (nothing, on the first block)
                if (kb > 0) {
                    float corr = (float) Math.exp(m - bm);
                    l *= corr;
                    scaleArray(acc, HS, corr);
                }
                m = bm;
            }
            l += expShift(sc, cnt, m);
            axpys(acc, sc, V, vBase + kb * stride, stride, cnt, HS);
        }
        float inv = 1f / l;
        int i = 0, ub = HS - HS % L;
        for (; i < ub; i += L) FloatVector.fromArray(S, acc, i).mul(inv).intoMemorySegment(out, (outOff + i) * 4, NO);
        for (; i < HS; i++) out.setAtIndex(F32, outOff + i, acc[i] * inv);
        return m + (float) Math.log(l);
    }

    // ---------------------------------------------------------------- backward

    /**
     * With P_ts = exp(q_t·k_s/√HS − lse_t), dP_ts = dout_t·v_s, D_t = Σ_i dout_t,i·out_t,i
     * and dS = P∘(dP − D): dq_t = Σ_s dS_ts k_s/√HS, dk_s = Σ_t dS_ts q_t/√HS,
     * dv_s = Σ_t P_ts dout_t, over real t and s ≤ t. dqkv (=); padding rows are 0.
     */
    void backward(MemorySegment dqkv, MemorySegment dout, MemorySegment qkv, MemorySegment out,
                  MemorySegment lse, MemorySegment lengths, int B, int T, int C, int NH) {
        final int HS = C / NH, C3 = 3 * C;
        final float scale = (float) (1.0 / Math.sqrt(HS));
        ensure(HS, T);
        dynamic(B * NH, (w, pair) -> {
            int b = pair / NH, h = pair % NH;
            int len = length(lengths, b, T);
            long seqBase = (long) b * T * C3;
            long kBase = seqBase + C + (long) h * HS, vBase = kBase + C;
            float[] qs = w.q, dO = w.dO, dq = w.dq, dk = w.dk, dv = w.dv, sc = w.sc, dp = w.dp;
            Arrays.fill(dk, 0, len * HS, 0f);
            Arrays.fill(dv, 0, len * HS, 0f);
            int ub = HS - HS % L;
            for (int t = 0; t < len; t++) {
                long qOff = seqBase + (long) t * C3 + (long) h * HS;
                long oOff = ((long) b * T + t) * C + (long) h * HS;
                for (int i = 0; i < HS; i++) {
                    qs[i] = qkv.getAtIndex(F32, qOff + i) * scale;
                    dO[i] = dout.getAtIndex(F32, oOff + i);
                }
                float D = dot(dO, out, oOff, HS);
                float lseT = lse.getAtIndex(F32, ((long) b * NH + h) * T + t);
                Arrays.fill(dq, 0, HS, 0f);
                for (int kb = 0; kb <= t; kb += KB) {
                    int cnt = Math.min(KB, t + 1 - kb);
                    dots(qs, qkv, kBase + (long) kb * C3, C3, cnt, HS, sc);
                    dots(dO, qkv, vBase + (long) kb * C3, C3, cnt, HS, dp);
                    expShift(sc, cnt, lseT);                       // sc = P
                    for (int j = 0; j < cnt; j++) dp[j] = sc[j] * (dp[j] - D); // dp = dS
                    axpys(dq, dp, qkv, kBase + (long) kb * C3, C3, cnt, HS);
                    for (int j = 0; j < cnt; j++) {
                        int r = (kb + j) * HS;
                        FloatVector ds = FloatVector.broadcast(S, dp[j]), p = FloatVector.broadcast(S, sc[j]);
                        int i = 0;
                        for (; i < ub; i += L) {
                            FloatVector.fromArray(S, qs, i).fma(ds, FloatVector.fromArray(S, dk, r + i)).intoArray(dk, r + i);
                            FloatVector.fromArray(S, dO, i).fma(p, FloatVector.fromArray(S, dv, r + i)).intoArray(dv, r + i);
                        }
                        for (; i < HS; i++) {
                            dk[r + i] += dp[j] * qs[i];
                            dv[r + i] += sc[j] * dO[i];
                        }
                    }
                }
                for (int i = 0; i < HS; i++) dqkv.setAtIndex(F32, qOff + i, dq[i] * scale);
            }
            // dk already carries the 1/√HS through the pre-scaled q
            for (int t = 0; t < T; t++) {
                long qOff = seqBase + (long) t * C3 + (long) h * HS;
                if (t < len) {
                    MemorySegment.copy(dk, t * HS, dqkv, F32, (qOff + C) * 4, HS);      // byte offsets
                    MemorySegment.copy(dv, t * HS, dqkv, F32, (qOff + 2L * C) * 4, HS);
                } else {
                    dqkv.asSlice(qOff * 4, (long) HS * 4).fill((byte) 0);
                    dqkv.asSlice((qOff + C) * 4, (long) HS * 4).fill((byte) 0);
                    dqkv.asSlice((qOff + 2L * C) * 4, (long) HS * 4).fill((byte) 0);
                }
            }
        });
    }

    // ---------------------------------------------------------------- KV cache

    /** kCache[b,h,t,:] = k[b,t,h·HS..], vCache likewise, for t in [0, T); caches [B,NH,maxT,HS]. */
    void kvCacheWrite(MemorySegment kCache, MemorySegment vCache, MemorySegment qkv,
                      int B, int T, int C, int NH, int maxT) {
        if (T > maxT) throw new IllegalArgumentException("T=" + T + " exceeds cache length " + maxT);
        final int HS = C / NH, C3 = 3 * C;
        par.range(B * NH, 4, (p0, p1) -> {
            for (int pair = p0; pair < p1; pair++) {
                int b = pair / NH, h = pair % NH;
                long cBase = (long) pair * maxT * HS;
                for (int t = 0; t < T; t++) {
                    long src = ((long) b * T + t) * C3 + C + (long) h * HS;
                    MemorySegment.copy(qkv, src * 4, kCache, (cBase + (long) t * HS) * 4, (long) HS * 4);
                    MemorySegment.copy(qkv, (src + C) * 4, vCache, (cBase + (long) t * HS) * 4, (long) HS * 4);
                }
            }
        });
    }

    /**
     * One decode step: for each row b and head h, stores the new k, v at cache position
     * positions[b], then out[b,h] = attention of q over cache positions 0..positions[b].
     * Uses the same row routine as the forward, so it reproduces forward rows.
     */
    void decode(MemorySegment out, MemorySegment qkv, MemorySegment kCache, MemorySegment vCache,
                MemorySegment positions, int B, int C, int NH, int maxT) {
        final int HS = C / NH, C3 = 3 * C;
        final float scale = (float) (1.0 / Math.sqrt(HS));
        for (int b = 0; b < B; b++) {
            int pos = positions.getAtIndex(I32, b);
            if (pos < 0 || pos >= maxT)
                throw new IllegalArgumentException("position " + pos + " of row " + b + " outside cache [0, " + maxT + ")");
        }
        ensure(HS, 0);
        dynamic(B * NH, (w, pair) -> {
            int b = pair / NH, h = pair % NH;
            int pos = positions.getAtIndex(I32, b);
            long src = (long) b * C3 + (long) h * HS;
            long cBase = (long) pair * maxT * HS;
            MemorySegment.copy(qkv, (src + C) * 4, kCache, (cBase + (long) pos * HS) * 4, (long) HS * 4);
            MemorySegment.copy(qkv, (src + 2L * C) * 4, vCache, (cBase + (long) pos * HS) * 4, (long) HS * 4);
            for (int i = 0; i < HS; i++) w.q[i] = qkv.getAtIndex(F32, src + i) * scale;
            attendRow(w, HS, kCache, cBase, vCache, cBase, HS, pos + 1, out, (long) b * C + (long) h * HS);
        });
    }

    // ---------------------------------------------------------------- vector helpers

    /** Σ_i a[i]·m[off + i] over n values. */
    private static float dot(float[] a, MemorySegment m, long off, int n) {
        int i = 0, ub = n - n % L;
        FloatVector acc = FloatVector.zero(S);
        for (; i < ub; i += L) acc = FloatVector.fromArray(S, a, i).fma(FloatVector.fromMemorySegment(S, m, (off + i) * 4, NO), acc);
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += a[i] * m.getAtIndex(F32, off + i);
        return s;
    }

    /** dst[j] = q · M[base + j·stride .. +HS) for j in [0, cnt), four rows at a time. */
    private static void dots(float[] q, MemorySegment M, long base, long stride, int cnt, int HS, float[] dst) {
        int ub = HS - HS % L, j = 0;
        for (; j + 4 <= cnt; j += 4) {
            long o0 = base + j * stride, o1 = o0 + stride, o2 = o1 + stride, o3 = o2 + stride;
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            for (int i = 0; i < ub; i += L) {
                FloatVector qv = FloatVector.fromArray(S, q, i);
                a0 = qv.fma(FloatVector.fromMemorySegment(S, M, (o0 + i) * 4, NO), a0);
                a1 = qv.fma(FloatVector.fromMemorySegment(S, M, (o1 + i) * 4, NO), a1);
                a2 = qv.fma(FloatVector.fromMemorySegment(S, M, (o2 + i) * 4, NO), a2);
                a3 = qv.fma(FloatVector.fromMemorySegment(S, M, (o3 + i) * 4, NO), a3);
            }
            float s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
            float s2 = a2.reduceLanes(VectorOperators.ADD), s3 = a3.reduceLanes(VectorOperators.ADD);
            for (int i = ub; i < HS; i++) {
                s0 += q[i] * M.getAtIndex(F32, o0 + i);
                s1 += q[i] * M.getAtIndex(F32, o1 + i);
                s2 += q[i] * M.getAtIndex(F32, o2 + i);
                s3 += q[i] * M.getAtIndex(F32, o3 + i);
            }
            dst[j] = s0;
            dst[j + 1] = s1;
            dst[j + 2] = s2;
            dst[j + 3] = s3;
        }
        for (; j < cnt; j++) dst[j] = dot(q, M, base + j * stride, HS);
    }

    /** acc[0..HS) += Σ_j p[j]·M[base + j·stride .. +HS) for j in [0, cnt), four rows at a time. */
    private static void axpys(float[] acc, float[] p, MemorySegment M, long base, long stride, int cnt, int HS) {
        int ub = HS - HS % L, j = 0;
        for (; j + 4 <= cnt; j += 4) {
            long o0 = base + j * stride, o1 = o0 + stride, o2 = o1 + stride, o3 = o2 + stride;
            float p0 = p[j], p1 = p[j + 1], p2 = p[j + 2], p3 = p[j + 3];
            FloatVector v0 = FloatVector.broadcast(S, p0), v1 = FloatVector.broadcast(S, p1);
            FloatVector v2 = FloatVector.broadcast(S, p2), v3 = FloatVector.broadcast(S, p3);
            int i = 0;
            for (; i < ub; i += L) {
                FloatVector a = FloatVector.fromArray(S, acc, i);
                a = FloatVector.fromMemorySegment(S, M, (o0 + i) * 4, NO).fma(v0, a);
                a = FloatVector.fromMemorySegment(S, M, (o1 + i) * 4, NO).fma(v1, a);
                a = FloatVector.fromMemorySegment(S, M, (o2 + i) * 4, NO).fma(v2, a);
                a = FloatVector.fromMemorySegment(S, M, (o3 + i) * 4, NO).fma(v3, a);
                a.intoArray(acc, i);
            }
            for (; i < HS; i++) {
                acc[i] += p0 * M.getAtIndex(F32, o0 + i) + p1 * M.getAtIndex(F32, o1 + i)
                        + p2 * M.getAtIndex(F32, o2 + i) + p3 * M.getAtIndex(F32, o3 + i);
            }
        }
        for (; j < cnt; j++) {
            long o = base + j * stride;
            float pj = p[j];
            FloatVector pv = FloatVector.broadcast(S, pj);
            int i = 0;
            for (; i < ub; i += L) {
                FloatVector.fromMemorySegment(S, M, (o + i) * 4, NO).fma(pv, FloatVector.fromArray(S, acc, i)).intoArray(acc, i);
            }
            for (; i < HS; i++) acc[i] += pj * M.getAtIndex(F32, o + i);
        }
    }

    /** a[j] = exp(a[j] − shift) for j in [0, n); returns Σ a[j]. */
    private static float expShift(float[] a, int n, float shift) {
        int j = 0, ub = n - n % L;
        FloatVector sum = FloatVector.zero(S);
        for (; j < ub; j += L) {
            FloatVector e = FloatVector.fromArray(S, a, j).sub(shift).lanewise(VectorOperators.EXP);
            e.intoArray(a, j);
            sum = sum.add(e);
        }
        float s = sum.reduceLanes(VectorOperators.ADD);
        for (; j < n; j++) {
            a[j] = (float) Math.exp(a[j] - shift);
            s += a[j];
        }
        return s;
    }

    /** a[0..n) *= s. */
    private static void scaleArray(float[] a, int n, float s) {
        int i = 0, ub = n - n % L;
        for (; i < ub; i += L) FloatVector.fromArray(S, a, i).mul(s).intoArray(a, i);
        for (; i < n; i++) a[i] *= s;
    }
}
