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
 * Causal multi-head attention, flash-style: no T×T buffer exists. Work is done in tiles of
 * {@link #QB} queries × {@link #KB} keys, each a small matrix product on float[] copies of
 * one head's Q, K, V (gathered once per work item from the strided qkv layout): scores
 * Q·Kᵀ use K transposed, so a register block of 4 queries × 2 vectors of keys is a chain
 * of FMAs over the head size with broadcast q elements and no horizontal sums; P·V, and
 * in the backward dO·Vᵀ, Pᵀ·dO, dSᵀ·Q and dS·K, use the same micro-kernel ({@link #gemm}).
 * The forward keeps a running max and sum per query row (online softmax) across key tiles
 * and saves each row's log-sum-exp so that the backward can recompute probabilities
 * exactly.
 *
 * <p>Layout: grouped-query attention on qkv[B,T,(NH+2·NKV)·HS], row = [q (NH heads) |
 * k (NKV heads) | v (NKV heads)], head j of a part in columns j·HS .. (j+1)·HS−1 of it;
 * query head h uses kv head h / (NH/NKV). The GPT-2 layout qkv[B,T,3C] is the case NKV =
 * NH, HS = C/NH (its methods delegate). Sequences are right-padded to T with lengths[b]
 * real tokens. Inside the float[]
 * copies rows are padded to a multiple of 2 vectors (HSp columns) and sequences to a
 * multiple of the tile size with zeros; scores of keys s &gt; t (and of padding queries)
 * are masked to probability exactly 0 before they are used, so padding never contributes.
 *
 * <p>Threads: the forward's work items are (b, kv head, chunk of blocks of {@link #QB}
 * query rows), handed out dynamically, most expensive (latest rows) first; an item gathers
 * its kv head's K and V once for all the group's query heads. The backward's item is a
 * whole (b, kv head) group, its query heads run in order, so one task owns the group's dq,
 * dk and dv columns of every row: no races, and dk, dv are summed over the query heads in
 * a fixed order. Each
 * worker slot has its own scratch, allocated once and grown only when a larger T or HS is
 * seen, so repeated calls do not allocate buffers. Because of that shared scratch, one
 * instance must not be called from two threads at once (the backend is driven by one
 * thread; parallelism is inside each call). Results do not depend on the thread count.
 */
final class CpuAttention {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Columns of the micro-kernel's register block (2 vectors). */
    private static final int NR = 2 * L;
    /** Rows of the micro-kernel's register block. */
    private static final int MR = 4;
    private static final ByteOrder NO = ByteOrder.nativeOrder();

    /** Query rows and keys per tile (a multiple of NR and MR). */
    private static final int QB = Math.max(64, NR), KB = QB;
    /** Keys per online-softmax block of the single-row decode path. */
    private static final int DKB = 128;
    /** {@link #gemm} shapes: full, or the causal-diagonal variants. */
    static final int FULL = 0, TRI_N = 1, TRI_K_LOWER = 2, TRI_K_UPPER = 3;

    /** Per-worker scratch. */
    private static final class Scratch {
        // decode (one query row)
        float[] q = new float[0], acc = new float[0];
        final float[] sc = new float[DKB];
        // tiles
        final float[] s = new float[QB * KB], dp = new float[QB * KB];
        final float[] mx = new float[QB], sum = new float[QB];
        // one head: [Tp][HSp] row-major, or [HS][Tp] transposed (kt, vt)
        float[] hq = new float[0], hk = new float[0], hv = new float[0], hdo = new float[0];
        float[] hdq = new float[0], hdk = new float[0], hdv = new float[0];
        float[] kt = new float[0], vt = new float[0];
        float[] dD = new float[0], lse = new float[0], row = new float[0];
    }

    private final Parallel par;
    private final Scratch[] scratch;
    private final AtomicInteger next = new AtomicInteger();

    CpuAttention(Parallel par) {
        this.par = par;
        this.scratch = new Scratch[par.threads()];
        for (int i = 0; i < scratch.length; i++) scratch[i] = new Scratch();
    }

    private static int roundUp(int x, int m) {
        return (x + m - 1) / m * m;
    }

    private static float[] grow(float[] a, long n) {
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("attention scratch too large: " + n);
        return a.length >= n ? a : new float[(int) n];
    }

    /** Makes every worker's decode scratch big enough for head size HS. */
    private void ensureRow(int HS) {
        for (Scratch w : scratch) {
            if (w.q.length < HS) {
                w.q = new float[HS];
                w.acc = new float[HS];
            }
        }
    }

    /** Forward scratch: a query tile, and K (row-major and transposed) and V of T keys. */
    private void ensureForward(int HS, int T) {
        int HSp = roundUp(HS, NR), Tp = roundUp(T, KB);
        for (Scratch w : scratch) {
            w.hq = grow(w.hq, (long) QB * HSp);
            w.hdq = grow(w.hdq, (long) QB * HSp);   // the output accumulator
            w.kt = grow(w.kt, (long) HS * Tp);
            w.hk = grow(w.hk, (long) Tp * HSp);
            w.hv = grow(w.hv, (long) Tp * HSp);
        }
    }

    /** Backward scratch: a whole head's Q, K, Kᵀ, Vᵀ, dO, dQ, dK, dV, D and lse. */
    private void ensureBackward(int HS, int T) {
        int HSp = roundUp(HS, NR), Tp = roundUp(T, KB);
        long n = (long) Tp * HSp, nt = (long) HS * Tp;
        for (Scratch w : scratch) {
            w.hq = grow(w.hq, n);
            w.hk = grow(w.hk, n);
            w.hdo = grow(w.hdo, n);
            w.hdq = grow(w.hdq, n);
            w.hdk = grow(w.hdk, n);
            w.hdv = grow(w.hdv, n);
            w.kt = grow(w.kt, nt);
            w.vt = grow(w.vt, nt);
            w.dD = grow(w.dD, Tp);
            w.lse = grow(w.lse, Tp);
            w.row = grow(w.row, HS);
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

    // ---------------------------------------------------------------- gathering

    /** dst[r·ld .. +HS) = scale·M[off + r·stride ..], zeros to ld, for rows r in [0, n); zero rows to nPad. */
    private static void gatherRows(float[] dst, int ld, MemorySegment M, long off, long stride, int n, int nPad,
                                   int HS, float scale) {
        int ub = HS - HS % L;
        for (int r = 0; r < n; r++) {
            int d = r * ld;
            long o = off + r * stride;
            // vector loads: cheaper than a bulk copy call per short row
            int i = 0;
            for (; i < ub; i += L) FloatVector.fromMemorySegment(S, M, (o + i) * 4, NO).mul(scale).intoArray(dst, d + i);
            for (; i < HS; i++) dst[d + i] = M.getAtIndex(F32, o + i) * scale;
            Arrays.fill(dst, d + HS, d + ld, 0f);
        }
        Arrays.fill(dst, n * ld, nPad * ld, 0f);
    }

    /**
     * dst[i·ld + r] = src[r·lds + i] for rows r in [0, nPad), i in [0, HS): a transpose in
     * blocks of 8 rows, so that both sides stay in a few cache lines.
     */
    private static void transpose(float[] dst, int ld, float[] src, int lds, int nPad, int HS) {
        int r = 0;
        for (; r + 8 <= nPad; r += 8) {
            int s0 = r * lds;
            for (int i = 0; i < HS; i++) {
                int d = i * ld + r, si = s0 + i;
                dst[d] = src[si];
                dst[d + 1] = src[si + lds];
                dst[d + 2] = src[si + 2 * lds];
                dst[d + 3] = src[si + 3 * lds];
                dst[d + 4] = src[si + 4 * lds];
                dst[d + 5] = src[si + 5 * lds];
                dst[d + 6] = src[si + 6 * lds];
                dst[d + 7] = src[si + 7 * lds];
            }
        }
        for (; r < nPad; r++)
            for (int i = 0; i < HS; i++) dst[i * ld + r] = src[r * lds + i];
    }

    // ---------------------------------------------------------------- shapes

    /** Checks a grouped-query head layout: NH query heads in NKV groups of size HS. */
    private static void checkHeads(int NH, int NKV, int HS) {
        if (NH < 1 || NKV < 1 || HS < 1)
            throw new IllegalArgumentException("attention needs NH, NKV, HS >= 1, got NH=" + NH + " NKV=" + NKV + " HS=" + HS);
        if (NH % NKV != 0)
            throw new IllegalArgumentException("NH=" + NH + " query heads are not a multiple of NKV=" + NKV + " key/value heads");
    }

    /** The head size of the GPT-2 layout (C channels in NH heads). */
    private static int headSize(int C, int NH) {
        if (NH < 1 || C < NH || C % NH != 0)
            throw new IllegalArgumentException("C=" + C + " channels do not split into NH=" + NH + " heads");
        return C / NH;
    }

    // ---------------------------------------------------------------- forward

    /** The GPT-2 layout qkv[B,T,3C]: {@link #forward(MemorySegment, MemorySegment, MemorySegment, MemorySegment, int, int, int, int, int)} with NKV = NH. */
    void forward(MemorySegment out, MemorySegment lse, MemorySegment qkv, MemorySegment lengths,
                 int B, int T, int C, int NH) {
        forward(out, lse, qkv, lengths, B, T, NH, NH, headSize(C, NH));
    }

    /**
     * Grouped-query attention on qkv[B,T,(NH+2·NKV)·HS] (row = [q (NH·HS) | k (NKV·HS) |
     * v (NKV·HS)], query head h reads kv head h / (NH/NKV)): out[b,t,h] = Σ_{s≤t}
     * softmax_s(q_t·k_s/√HS) v_s for t < lengths[b], and lse[b,h,t] = log Σ_{s≤t}
     * exp(q_t·k_s/√HS); padding rows get out = 0 and lse = 0. A work item is (chunk of
     * query blocks, b, kv head): it gathers that kv head's K and V once and runs the
     * chunk's blocks for each query head of the group.
     */
    void forward(MemorySegment out, MemorySegment lse, MemorySegment qkv, MemorySegment lengths,
                 int B, int T, int NH, int NKV, int HS) {
        checkHeads(NH, NKV, HS);
        if (B <= 0 || T <= 0) return;
        final int G = NH / NKV, QC = NH * HS, RW = (NH + 2 * NKV) * HS, KOFF = QC, VOFF = QC + NKV * HS;
        final int HSp = roundUp(HS, NR), Tp = roundUp(T, KB);
        final float scale = (float) (1.0 / Math.sqrt(HS));
        final int groups = B * NKV, nqb = (T + QB - 1) / QB;
        // query blocks of a group are split into nch interleaved chunks only when there are
        // too few groups to keep the workers busy; a chunk gathers K and V once
        final int nch = Math.clamp((4L * scratch.length + groups - 1) / groups, 1, Math.max(1, nqb));
        ensureForward(HS, T);
        dynamic(groups * nch, (w, item) -> {
            int c = item / groups, grp = item % groups;
            int b = grp / NKV, g = grp % NKV;
            int len = length(lengths, b, T);
            long rowBase = (long) b * T * RW;
            // padding rows of this chunk's blocks
            for (int qb = nqb - 1 - c; qb >= 0; qb -= nch) {
                for (int t = Math.max(qb * QB, len), qEnd = Math.min(qb * QB + QB, T); t < qEnd; t++) {
                    for (int h = g * G; h < g * G + G; h++) {
                        long outOff = ((long) b * T + t) * QC + (long) h * HS;
                        out.asSlice(outOff * 4, (long) HS * 4).fill((byte) 0);
                        lse.setAtIndex(F32, ((long) b * NH + h) * T + t, 0f);
                    }
                }
            }
            // keys needed by the chunk's latest real block
            int top = nqb - 1 - c;
            while (top >= 0 && top * QB >= len) top -= nch;
            if (top < 0) return;
            int nk = Math.min(top * QB + QB, len), nkp = roundUp(nk, NR);
            gatherRows(w.hk, HSp, qkv, rowBase + KOFF + (long) g * HS, RW, nk, nkp, HS, 1f);
            transpose(w.kt, Tp, w.hk, HSp, nkp, HS);
            gatherRows(w.hv, HSp, qkv, rowBase + VOFF + (long) g * HS, RW, nk, nkp, HS, 1f);
            for (int h = g * G; h < g * G + G; h++) {
                long qBase = rowBase + (long) h * HS, outBase = (long) b * T * QC + (long) h * HS;
                long lseBase = ((long) b * NH + h) * T;
                for (int qb = top; qb >= 0; qb -= nch) forwardBlock(w, qb * QB, Math.min(qb * QB + QB, len), qkv, qBase,
                        out, lse, outBase, lseBase, HS, HSp, Tp, QC, RW, scale);
            }
        });
    }

    /**
     * Query rows [q0, q1) of one head against keys [0, q1), with that head's Kᵀ in w.kt and
     * V in w.hv: online softmax over key tiles; q row t is at qBase + t·RW; writes out rows
     * (from outBase + t·QC) and lse (lseBase + t).
     */
    private static void forwardBlock(Scratch w, int q0, int q1, MemorySegment qkv, long qBase, MemorySegment out,
                                     MemorySegment lse, long outBase, long lseBase, int HS, int HSp, int Tp, int QC,
                                     int RW, float scale) {
        int nq = q1 - q0, mr = roundUp(nq, MR), nk = q1, nkp = roundUp(nk, NR);
        float[] q = w.hq, kt = w.kt, v = w.hv, o = w.hdq, s = w.s, mx = w.mx, sum = w.sum;
        gatherRows(q, HSp, qkv, qBase + (long) q0 * RW, RW, nq, mr, HS, scale);
        Arrays.fill(o, 0, mr * HSp, 0f);
        Arrays.fill(mx, Float.NEGATIVE_INFINITY);
        Arrays.fill(sum, 0f);
        for (int k0 = 0; k0 < nk; k0 += KB) {
            int nc = Math.min(KB, nkp - k0);
            gemm(mr, nc, HS, q, 0, HSp, 1, kt, k0, Tp, s, 0, KB, false, k0 == q0 ? TRI_N : FULL);
            for (int r = 0; r < mr; r++) {
                int so = r * KB, nv = r < nq ? Math.min(nc, q0 + r + 1 - k0) : 0;
                if (nv <= 0) {
                    Arrays.fill(s, so, so + nc, 0f);
                    continue;
                }
                float bm = rowMax(s, so, nv), m = mx[r];
                if (bm > m) {
                    // rescale what was accumulated under the old max (nothing, on the first block)
                    if (m != Float.NEGATIVE_INFINITY) {
                        float corr = (float) Math.exp(m - bm);
                        sum[r] *= corr;
                        scaleArray(o, r * HSp, HSp, corr);
                    }
                    mx[r] = m = bm;
                }
                sum[r] += expRow(s, so, nv, nc, m);
            }
            gemm(mr, HSp, nc, s, 0, KB, 1, v, k0 * HSp, HSp, o, 0, HSp, true, k0 == q0 ? TRI_K_LOWER : FULL);
        }
        for (int r = 0; r < nq; r++) {
            int t = q0 + r;
            scaleArray(o, r * HSp, HSp, 1f / sum[r]);
            MemorySegment.copy(o, r * HSp, out, F32, (outBase + (long) t * QC) * 4, HS);
            lse.setAtIndex(F32, lseBase + t, mx[r] + (float) Math.log(sum[r]));
        }
    }

    /** max of a[off .. off+n), n ≥ 1. */
    private static float rowMax(float[] a, int off, int n) {
        FloatVector m = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int j = 0;
        for (; j + L <= n; j += L) m = m.max(FloatVector.fromArray(S, a, off + j));
        float r = m.reduceLanes(VectorOperators.MAX);
        for (; j < n; j++) r = Math.max(r, a[off + j]);
        return r;
    }

    /**
     * a[off+j] = exp(a[off+j] − shift) for j in [0, nv) and 0 for j in [nv, nc) (nc a
     * multiple of L, nv ≤ nc); returns the sum.
     */
    private static float expRow(float[] a, int off, int nv, int nc, float shift) {
        FloatVector sum = FloatVector.zero(S);
        int j = 0;
        for (; j < nv; j += L) {
            FloatVector e = VectorMath.exp(FloatVector.fromArray(S, a, off + j).sub(shift));
            if (j + L > nv) e = e.blend(0f, S.indexInRange(j, nv).not());
            e.intoArray(a, off + j);
            sum = sum.add(e);
        }
        Arrays.fill(a, off + j, off + nc, 0f);
        return VectorMath.sum(sum);
    }

    // ---------------------------------------------------------------- backward

    /** The GPT-2 layout: {@link #backward(MemorySegment, MemorySegment, MemorySegment, MemorySegment, MemorySegment, MemorySegment, int, int, int, int, int)} with NKV = NH. */
    void backward(MemorySegment dqkv, MemorySegment dout, MemorySegment qkv, MemorySegment out,
                  MemorySegment lse, MemorySegment lengths, int B, int T, int C, int NH) {
        backward(dqkv, dout, qkv, out, lse, lengths, B, T, NH, NH, headSize(C, NH));
    }

    /**
     * With P_ts = exp(q_t·k_s/√HS − lse_t), dP_ts = dout_t·v_s, D_t = Σ_i dout_t,i·out_t,i
     * and dS = P∘(dP − D): dq_t = Σ_s dS_ts k_s/√HS, dk_s = Σ_t dS_ts q_t/√HS,
     * dv_s = Σ_t P_ts dout_t, over real t and s ≤ t, and for dk, dv also over the query
     * heads of the kv head's group. dqkv (=); padding rows are 0.
     *
     * <p>A work item is one (b, kv head): it gathers K and V once, then runs the group's
     * query heads in ascending order, each adding into the group's dK and dV accumulators
     * and writing its own dq columns. No two items touch the same dqkv element, and the
     * order of every sum is fixed by the shapes alone, so the result does not depend on
     * the thread count.
     */
    void backward(MemorySegment dqkv, MemorySegment dout, MemorySegment qkv, MemorySegment out,
                  MemorySegment lse, MemorySegment lengths, int B, int T, int NH, int NKV, int HS) {
        checkHeads(NH, NKV, HS);
        if (B <= 0 || T <= 0) return;
        final int G = NH / NKV, QC = NH * HS, RW = (NH + 2 * NKV) * HS, KOFF = QC, VOFF = QC + NKV * HS;
        final int HSp = roundUp(HS, NR), Tp = roundUp(T, KB);
        final float scale = (float) (1.0 / Math.sqrt(HS));
        ensureBackward(HS, T);
        dynamic(B * NKV, (w, grp) -> {
            int b = grp / NKV, g = grp % NKV;
            int len = length(lengths, b, T), lp = roundUp(len, KB);
            long rowBase = (long) b * T * RW, kBase = rowBase + KOFF + (long) g * HS, vBase = rowBase + VOFF + (long) g * HS;
            float[] q = w.hq, k = w.hk, kt = w.kt, vt = w.vt, dO = w.hdo, dq = w.hdq, dk = w.hdk, dv = w.hdv;
            float[] s = w.s, ds = w.dp, dD = w.dD, ls = w.lse, row = w.row;
            gatherRows(k, HSp, qkv, kBase, RW, len, lp, HS, 1f);
            transpose(kt, Tp, k, HSp, lp, HS);
            gatherRows(dv, HSp, qkv, vBase, RW, len, lp, HS, 1f);    // V, until dv is cleared
            transpose(vt, Tp, dv, HSp, lp, HS);
            Arrays.fill(dk, 0, lp * HSp, 0f);
            Arrays.fill(dv, 0, lp * HSp, 0f);
            for (int h = g * G; h < g * G + G; h++) {
                long qBase = rowBase + (long) h * HS, oBase = (long) b * T * QC + (long) h * HS;
                long lBase = ((long) b * NH + h) * T;
                gatherRows(q, HSp, qkv, qBase, RW, len, lp, HS, scale);
                gatherRows(dO, HSp, dout, oBase, QC, len, lp, HS, 1f);
                for (int t = 0; t < len; t++) {
                    MemorySegment.copy(out, F32, (oBase + (long) t * QC) * 4, row, 0, HS);
                    dD[t] = dot(dO, t * HSp, row, HS);
                    ls[t] = lse.getAtIndex(F32, lBase + t);
                }
                Arrays.fill(dD, len, lp, 0f);
                Arrays.fill(ls, len, lp, 0f);
                Arrays.fill(dq, 0, lp * HSp, 0f);
                for (int s0 = 0; s0 < len; s0 += KB) {
                    int nc = roundUp(Math.min(KB, len - s0), NR);
                    for (int t0 = s0; t0 < len; t0 += QB) {
                        int nq = Math.min(QB, len - t0), mr = roundUp(nq, MR);
                        boolean diag = t0 == s0;
                        gemm(mr, nc, HS, q, t0 * HSp, HSp, 1, kt, s0, Tp, s, 0, KB, false, diag ? TRI_N : FULL);
                        gemm(mr, nc, HS, dO, t0 * HSp, HSp, 1, vt, s0, Tp, ds, 0, KB, false, diag ? TRI_N : FULL);
                        for (int r = 0; r < mr; r++) {
                            int t = t0 + r, so = r * KB, nv = r < nq ? Math.min(nc, t + 1 - s0) : 0;
                            probsAndGrads(s, ds, so, Math.max(nv, 0), nc, ls[t], dD[t]);
                        }
                        gemm(nc, HSp, mr, s, 0, 1, KB, dO, t0 * HSp, HSp, dv, s0 * HSp, HSp, true, diag ? TRI_K_UPPER : FULL);  // dV += Pᵀ·dO
                        gemm(nc, HSp, mr, ds, 0, 1, KB, q, t0 * HSp, HSp, dk, s0 * HSp, HSp, true, diag ? TRI_K_UPPER : FULL);  // dK += dSᵀ·Q
                        gemm(mr, HSp, nc, ds, 0, KB, 1, k, s0 * HSp, HSp, dq, t0 * HSp, HSp, true, diag ? TRI_K_LOWER : FULL);  // dQ += dS·K
                    }
                }
                for (int t = 0; t < T; t++) {
                    long qOff = qBase + (long) t * RW;
                    if (t < len) {
                        scaleArray(dq, t * HSp, HS, scale);
                        MemorySegment.copy(dq, t * HSp, dqkv, F32, qOff * 4, HS);           // byte offsets
                    } else {
                        dqkv.asSlice(qOff * 4, (long) HS * 4).fill((byte) 0);
                    }
                }
            }
            // dk already carries the 1/√HS through the pre-scaled q
            for (int t = 0; t < T; t++) {
                long kOff = kBase + (long) t * RW, vOff = vBase + (long) t * RW;
                if (t < len) {
                    MemorySegment.copy(dk, t * HSp, dqkv, F32, kOff * 4, HS);
                    MemorySegment.copy(dv, t * HSp, dqkv, F32, vOff * 4, HS);
                } else {
                    dqkv.asSlice(kOff * 4, (long) HS * 4).fill((byte) 0);
                    dqkv.asSlice(vOff * 4, (long) HS * 4).fill((byte) 0);
                }
            }
        });
    }

    /**
     * Over one tile row: s = P = exp(s − lse) and ds = P∘(ds − D) for j in [0, nv), both 0
     * for j in [nv, nc) (nc a multiple of L).
     */
    private static void probsAndGrads(float[] s, float[] ds, int off, int nv, int nc, float lse, float D) {
        int j = 0;
        for (; j < nv; j += L) {
            FloatVector p = VectorMath.exp(FloatVector.fromArray(S, s, off + j).sub(lse));
            if (j + L > nv) p = p.blend(0f, S.indexInRange(j, nv).not());
            p.intoArray(s, off + j);
            p.mul(FloatVector.fromArray(S, ds, off + j).sub(D)).intoArray(ds, off + j);
        }
        Arrays.fill(s, off + j, off + nc, 0f);
        Arrays.fill(ds, off + j, off + nc, 0f);
    }

    // ---------------------------------------------------------------- micro-kernel

    /**
     * C[m×n] (+)= A[m×k]·B[k×n] with A(r, i) = a[aOff + r·ars + i·aks] (so either A or Aᵀ
     * may be stored row-major), B row-major with leading dimension ldb, C row-major with
     * ldc. m must be a multiple of {@link #MR} and n of {@link #NR}; every register block
     * is a 4 × 2-vector tile of C accumulated by broadcast-A FMAs.
     *
     * <p>On a diagonal tile of the causal mask (query row r, key column r: the keys of row r
     * are 0..r) {@code tri} skips what is known to be masked: {@link #TRI_N} computes for
     * row block r only the column blocks that hold columns ≤ r+MR−1 (the rest of C is left
     * as it was); {@link #TRI_K_LOWER} sums only i ≤ r+MR−1 and {@link #TRI_K_UPPER} only
     * i ≥ r, for products whose skipped A entries are exactly 0 (so the result is the same).
     */
    static void gemm(int m, int n, int k, float[] a, int aOff, int ars, int aks,
                     float[] b, int bOff, int ldb, float[] c, int cOff, int ldc, boolean accumulate, int tri) {
        for (int r = 0; r < m; r += MR) {
            int nEnd = tri == TRI_N ? Math.min(n, r + MR) : n;
            int kBeg = tri == TRI_K_UPPER ? r : 0, kEnd = tri == TRI_K_LOWER ? Math.min(k, r + MR) : k;
            int a0 = aOff + r * ars, a1 = a0 + ars, a2 = a1 + ars, a3 = a2 + ars;
            int c0 = cOff + r * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
            for (int j = 0; j < nEnd; j += NR) {
                FloatVector x00, x01, x10, x11, x20, x21, x30, x31;
                if (accumulate) {
                    x00 = FloatVector.fromArray(S, c, c0 + j);
                    x01 = FloatVector.fromArray(S, c, c0 + j + L);
                    x10 = FloatVector.fromArray(S, c, c1 + j);
                    x11 = FloatVector.fromArray(S, c, c1 + j + L);
                    x20 = FloatVector.fromArray(S, c, c2 + j);
                    x21 = FloatVector.fromArray(S, c, c2 + j + L);
                    x30 = FloatVector.fromArray(S, c, c3 + j);
                    x31 = FloatVector.fromArray(S, c, c3 + j + L);
                } else {
                    x00 = x01 = x10 = x11 = x20 = x21 = x30 = x31 = FloatVector.zero(S);
                }
                int bj = bOff + j;
                for (int i = kBeg; i < kEnd; i++) {
                    int bi = bj + i * ldb, ai = i * aks;
                    FloatVector b0 = FloatVector.fromArray(S, b, bi), b1 = FloatVector.fromArray(S, b, bi + L);
                    FloatVector v = FloatVector.broadcast(S, a[a0 + ai]);
                    x00 = v.fma(b0, x00);
                    x01 = v.fma(b1, x01);
                    v = FloatVector.broadcast(S, a[a1 + ai]);
                    x10 = v.fma(b0, x10);
                    x11 = v.fma(b1, x11);
                    v = FloatVector.broadcast(S, a[a2 + ai]);
                    x20 = v.fma(b0, x20);
                    x21 = v.fma(b1, x21);
                    v = FloatVector.broadcast(S, a[a3 + ai]);
                    x30 = v.fma(b0, x30);
                    x31 = v.fma(b1, x31);
                }
                x00.intoArray(c, c0 + j);
                x01.intoArray(c, c0 + j + L);
                x10.intoArray(c, c1 + j);
                x11.intoArray(c, c1 + j + L);
                x20.intoArray(c, c2 + j);
                x21.intoArray(c, c2 + j + L);
                x30.intoArray(c, c3 + j);
                x31.intoArray(c, c3 + j + L);
            }
        }
    }

    // ---------------------------------------------------------------- KV cache

    /** The GPT-2 layout: caches [B,NH,maxT,HS]. */
    void kvCacheWrite(MemorySegment kCache, MemorySegment vCache, MemorySegment qkv,
                      int B, int T, int C, int NH, int maxT) {
        kvCacheWrite(kCache, vCache, qkv, B, T, NH, NH, headSize(C, NH), maxT);
    }

    /**
     * kCache[b,g,t,:] = k of kv head g at qkv[b,t], vCache likewise, for t in [0, T);
     * qkv[B,T,(NH+2·NKV)·HS], caches [B,NKV,maxT,HS].
     */
    void kvCacheWrite(MemorySegment kCache, MemorySegment vCache, MemorySegment qkv,
                      int B, int T, int NH, int NKV, int HS, int maxT) {
        checkHeads(NH, NKV, HS);
        if (T > maxT) throw new IllegalArgumentException("T=" + T + " exceeds cache length " + maxT);
        final int RW = (NH + 2 * NKV) * HS, KOFF = NH * HS, VSKIP = NKV * HS;
        par.range(B * NKV, 4, (p0, p1) -> {
            for (int grp = p0; grp < p1; grp++) {
                int b = grp / NKV, g = grp % NKV;
                long cBase = (long) grp * maxT * HS;
                for (int t = 0; t < T; t++) {
                    long src = ((long) b * T + t) * RW + KOFF + (long) g * HS;
                    MemorySegment.copy(qkv, src * 4, kCache, (cBase + (long) t * HS) * 4, (long) HS * 4);
                    MemorySegment.copy(qkv, (src + VSKIP) * 4, vCache, (cBase + (long) t * HS) * 4, (long) HS * 4);
                }
            }
        });
    }

    /** The GPT-2 layout: qkv[B,3C], caches [B,NH,maxT,HS], out[B,C]. */
    void decode(MemorySegment out, MemorySegment qkv, MemorySegment kCache, MemorySegment vCache,
                MemorySegment positions, int B, int C, int NH, int maxT) {
        decode(out, qkv, kCache, vCache, positions, B, NH, NH, headSize(C, NH), maxT);
    }

    /**
     * One decode step on qkv[B,(NH+2·NKV)·HS]: stores each row's new k, v of every kv head
     * at cache position positions[b] (caches [B,NKV,maxT,HS]) first, then for each row b
     * and query head h out[b,h] = attention of q over cache positions 0..positions[b] of
     * h's kv head. Walks the cache one row at a time with the same online softmax as the
     * forward, so it reproduces forward rows up to float rounding (summation order differs).
     */
    void decode(MemorySegment out, MemorySegment qkv, MemorySegment kCache, MemorySegment vCache,
                MemorySegment positions, int B, int NH, int NKV, int HS, int maxT) {
        checkHeads(NH, NKV, HS);
        final int G = NH / NKV, QC = NH * HS, RW = (NH + 2 * NKV) * HS, KOFF = QC, VSKIP = NKV * HS;
        final float scale = (float) (1.0 / Math.sqrt(HS));
        for (int b = 0; b < B; b++) {
            int pos = positions.getAtIndex(I32, b);
            if (pos < 0 || pos >= maxT)
                throw new IllegalArgumentException("position " + pos + " of row " + b + " outside cache [0, " + maxT + ")");
        }
        // the new keys and values first: the G query heads of a kv head read them in parallel
        for (int grp = 0; grp < B * NKV; grp++) {
            int b = grp / NKV, g = grp % NKV;
            long src = (long) b * RW + KOFF + (long) g * HS;
            long dst = ((long) grp * maxT + positions.getAtIndex(I32, b)) * HS;
            MemorySegment.copy(qkv, src * 4, kCache, dst * 4, (long) HS * 4);
            MemorySegment.copy(qkv, (src + VSKIP) * 4, vCache, dst * 4, (long) HS * 4);
        }
        ensureRow(HS);
        dynamic(B * NH, (w, pair) -> {
            int b = pair / NH, h = pair % NH;
            int pos = positions.getAtIndex(I32, b);
            long src = (long) b * RW + (long) h * HS;
            long cBase = ((long) b * NKV + h / G) * maxT * HS;
            for (int i = 0; i < HS; i++) w.q[i] = qkv.getAtIndex(F32, src + i) * scale;
            attendRow(w, HS, kCache, cBase, vCache, cBase, HS, pos + 1, out, (long) b * QC + (long) h * HS);
        });
    }

    /**
     * One query row: with the pre-scaled query in w.q, attends over n keys
     * K[kBase + s·stride .. +HS) and values V[vBase + s·stride ..], s in [0, n), using an
     * online softmax over key blocks; writes the HS outputs to out[outOff..].
     */
    private static void attendRow(Scratch w, int HS, MemorySegment K, long kBase, MemorySegment V, long vBase,
                                  long stride, int n, MemorySegment out, long outOff) {
        float[] acc = w.acc, sc = w.sc;
        Arrays.fill(acc, 0, HS, 0f);
        float m = Float.NEGATIVE_INFINITY, l = 0f;
        for (int kb = 0; kb < n; kb += DKB) {
            int cnt = Math.min(DKB, n - kb);
            dots(w.q, K, kBase + kb * stride, stride, cnt, HS, sc);
            float bm = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < cnt; j++) bm = Math.max(bm, sc[j]);
            if (bm > m) {
                if (kb > 0) {
                    float corr = (float) Math.exp(m - bm);
                    l *= corr;
                    scaleArray(acc, 0, HS, corr);
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
    }

    // ---------------------------------------------------------------- vector helpers

    /** Σ_i a[aOff + i]·b[i] over n values. */
    private static float dot(float[] a, int aOff, float[] b, int n) {
        int i = 0, ub = n - n % L;
        FloatVector acc = FloatVector.zero(S);
        for (; i < ub; i += L) acc = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, i), acc);
        float s = VectorMath.sum(acc);
        for (; i < n; i++) s += a[aOff + i] * b[i];
        return s;
    }

    /** Σ_i a[i]·m[off + i] over n values. */
    private static float dot(float[] a, MemorySegment m, long off, int n) {
        int i = 0, ub = n - n % L;
        FloatVector acc = FloatVector.zero(S);
        for (; i < ub; i += L) acc = FloatVector.fromArray(S, a, i).fma(FloatVector.fromMemorySegment(S, m, (off + i) * 4, NO), acc);
        float s = VectorMath.sum(acc);
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
            float s0 = VectorMath.sum(a0), s1 = VectorMath.sum(a1);
            float s2 = VectorMath.sum(a2), s3 = VectorMath.sum(a3);
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
            FloatVector e = VectorMath.exp(FloatVector.fromArray(S, a, j).sub(shift));
            e.intoArray(a, j);
            sum = sum.add(e);
        }
        float s = VectorMath.sum(sum);
        for (; j < n; j++) {
            a[j] = (float) Math.exp(a[j] - shift);
            s += a[j];
        }
        return s;
    }

    /** a[off .. off+n) *= s. */
    private static void scaleArray(float[] a, int off, int n, float s) {
        int i = 0, ub = n - n % L;
        for (; i < ub; i += L) FloatVector.fromArray(S, a, off + i).mul(s).intoArray(a, off + i);
        for (; i < n; i++) a[off + i] *= s;
    }
}
