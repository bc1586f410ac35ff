package io.pref4j.kernel.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

import static io.pref4j.kernel.cpu.CpuKernels.F32;
import static io.pref4j.kernel.cpu.CpuKernels.I32;

/**
 * The small layers of the Llama family: RMSNorm, Qwen3's per-head q/k RMSNorm on the fused
 * qkv layout, rotary position embedding (RoPE) and SwiGLU. All are memory-bound row
 * kernels: vectorised with the preferred {@link FloatVector} species along a row, parallel
 * over rows.
 *
 * <p>Determinism: every row is computed by one task, with its lane sums in the fixed order
 * of {@link VectorMath#sum} and the scalar tail after them, so forward results do not
 * depend on the thread count. The backward kernels that reduce over rows into a parameter
 * gradient split the rows into a number of blocks that depends on the shape only, never on
 * the thread count ({@link #blocks}); each block sums into its own partial buffer in row
 * order, and the partials are added to the gradient in block order at the end. So results
 * are bitwise the same on any number of threads. The partial buffer is kept across calls
 * (grown to the largest shape seen), so one instance must not be called from two threads
 * at once.
 */
final class CpuLlamaLayers {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ByteOrder NO = ByteOrder.nativeOrder();

    /** Row blocks of a parameter-gradient reduction, at most (enough for any thread count in use). */
    private static final int MAX_BLOCKS = 64;
    /** Elements per row block, at least: a small problem is one block. */
    private static final int BLOCK_ELEMS = 1 << 14;
    /** Elements per parallel piece of a row loop, at least: smaller loops run inline. */
    private static final int ROW_GRAIN = 1 << 12;

    private final Parallel par;
    /** Backward partial sums, [block][width]. */
    private float[] partials = new float[0];

    CpuLlamaLayers(Parallel par) {
        this.par = par;
    }

    // ---------------------------------------------------------------- helpers

    private static FloatVector load(MemorySegment m, long idx) {
        return FloatVector.fromMemorySegment(S, m, idx * 4, NO);
    }

    private static float get(MemorySegment m, long idx) {
        return m.getAtIndex(F32, idx);
    }

    private static void set(MemorySegment m, long idx, float v) {
        m.setAtIndex(F32, idx, v);
    }

    /** Rows per parallel piece for rows of rowElems elements. */
    private static int grain(long rowElems) {
        return (int) Math.max(1, ROW_GRAIN / Math.max(1, rowElems));
    }

    /**
     * The number of row blocks of a backward's parameter-gradient reduction over N rows of
     * rowElems elements: a function of the shape only, so that the partial sums, and thus
     * the result, are the same whatever the thread count.
     */
    static int blocks(int N, long rowElems) {
        long byWork = (long) N * Math.max(1, rowElems) / BLOCK_ELEMS;
        return (int) Math.clamp(byWork, 1, Math.max(1, Math.min(N, MAX_BLOCKS)));
    }

    /** The partial buffer for nb blocks of width floats each, zero-filled per block by the caller. */
    private float[] partials(int nb, int width) {
        long n = (long) nb * width;
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("gradient partials too large: " + n);
        if (partials.length < n) partials = new float[(int) n];
        return partials;
    }

    /** g[c] += parts[blk·width + off + c] for c in [0, n), blocks added in ascending order. */
    private static void reduceInto(MemorySegment g, float[] parts, int nb, int width, int off, int n) {
        int c = 0, ub = n - n % L;
        for (; c < ub; c += L) {
            FloatVector acc = load(g, c);
            for (int blk = 0; blk < nb; blk++) acc = acc.add(FloatVector.fromArray(S, parts, blk * width + off + c));
            acc.intoMemorySegment(g, (long) c * 4, NO);
        }
        for (; c < n; c++) {
            float acc = get(g, c);
            for (int blk = 0; blk < nb; blk++) acc += parts[blk * width + off + c];
            set(g, c, acc);
        }
    }

    private static void checkHeads(int NH, int NKV, int HS) {
        if (NH < 1 || NKV < 1 || HS < 1)
            throw new IllegalArgumentException("needs NH, NKV, HS >= 1, got NH=" + NH + " NKV=" + NKV + " HS=" + HS);
    }

    // ---------------------------------------------------------------- RMSNorm

    /**
     * One row: rs = 1/√(Σx²/C + eps) over x = inp[xi .. xi+C), out[o + c] = x[c]·rs·w[c]
     * (normalised first, then weighted, as HF's LlamaRMSNorm); returns rs.
     */
    private static float rmsRow(MemorySegment out, long o, MemorySegment inp, long xi, MemorySegment weight,
                                int C, float eps) {
        int c = 0, ub = C - C % L;
        FloatVector acc = FloatVector.zero(S);
        for (; c < ub; c += L) {
            FloatVector x = load(inp, xi + c);
            acc = x.fma(x, acc);
        }
        float ss = VectorMath.sum(acc);
        for (; c < C; c++) {
            float x = get(inp, xi + c);
            ss += x * x;
        }
        float rs = (float) (1.0 / Math.sqrt(ss / C + eps));
        c = 0;
        for (; c < ub; c += L) load(inp, xi + c).mul(rs).mul(load(weight, c)).intoMemorySegment(out, (o + c) * 4, NO);
        for (; c < C; c++) set(out, o + c, get(inp, xi + c) * rs * get(weight, c));
        return rs;
    }

    /**
     * One row's RMSNorm backward, with norm = x·rs and dnorm = dout·w:
     * dinp[di + c] (+= when accumulate, else =) rs·(dnorm − norm·Σ(dnorm·norm)/C), and
     * part[p + c] += dout·norm (the weight gradient).
     */
    private static void rmsRowBackward(MemorySegment dinp, long di, boolean accumulate, float[] part, int p,
                                       MemorySegment dout, long go, MemorySegment inp, long xi,
                                       MemorySegment weight, float rs, int C) {
        int c = 0, ub = C - C % L;
        // pass 1: Σ dnorm·norm, and the weight gradient
        FloatVector acc = FloatVector.zero(S);
        for (; c < ub; c += L) {
            FloatVector d = load(dout, go + c);
            FloatVector nrm = load(inp, xi + c).mul(rs);
            acc = d.mul(load(weight, c)).fma(nrm, acc);
            d.fma(nrm, FloatVector.fromArray(S, part, p + c)).intoArray(part, p + c);
        }
        float sDN = VectorMath.sum(acc);
        for (; c < C; c++) {
            float d = get(dout, go + c), nrm = get(inp, xi + c) * rs;
            sDN += d * get(weight, c) * nrm;
            part[p + c] += d * nrm;
        }
        float m = sDN / C;
        // pass 2: dinp = rs·(dnorm − norm·m)
        c = 0;
        for (; c < ub; c += L) {
            FloatVector nrm = load(inp, xi + c).mul(rs);
            FloatVector g = load(dout, go + c).mul(load(weight, c)).sub(nrm.mul(m)).mul(rs);
            if (accumulate) g = load(dinp, di + c).add(g);
            g.intoMemorySegment(dinp, (di + c) * 4, NO);
        }
        for (; c < C; c++) {
            float nrm = get(inp, xi + c) * rs;
            float g = (get(dout, go + c) * get(weight, c) - nrm * m) * rs;
            set(dinp, di + c, accumulate ? get(dinp, di + c) + g : g);
        }
    }

    /** out[N,C] = inp·rstd·weight, rstd[N] = 1/√(mean(inp²) + eps). Parallel over rows. */
    void rmsNormForward(MemorySegment out, MemorySegment rstd, MemorySegment inp, MemorySegment weight,
                        int N, int C, float eps) {
        if (C < 1) throw new IllegalArgumentException("RMSNorm needs C >= 1, got " + C);
        par.range(N, grain(C), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                long base = (long) r * C;
                set(rstd, r, rmsRow(out, base, inp, base, weight, C, eps));
            }
        });
    }

    /**
     * dinp[N,C] += rstd·(dnorm − norm·mean(dnorm·norm)) with norm = inp·rstd and dnorm =
     * dout·weight; dweight[C] += Σ_n dout·norm (in row blocks, see the class comment).
     */
    void rmsNormBackward(MemorySegment dinp, MemorySegment dweight, MemorySegment dout, MemorySegment inp,
                         MemorySegment weight, MemorySegment rstd, int N, int C) {
        if (C < 1) throw new IllegalArgumentException("RMSNorm needs C >= 1, got " + C);
        if (N <= 0) return;
        final int nb = blocks(N, C);
        final float[] parts = partials(nb, C);
        par.range(nb, 1, (b0, b1) -> {
            for (int blk = b0; blk < b1; blk++) {
                int p = blk * C;
                Arrays.fill(parts, p, p + C, 0f);
                int r0 = (int) ((long) N * blk / nb), r1 = (int) ((long) N * (blk + 1) / nb);
                for (int r = r0; r < r1; r++) {
                    long base = (long) r * C;
                    rmsRowBackward(dinp, base, true, parts, p, dout, base, inp, base, weight, get(rstd, r), C);
                }
            }
        });
        reduceInto(dweight, parts, nb, C, 0, C);
    }

    // ---------------------------------------------------------------- Qwen3 q/k norm

    /**
     * Per row of qkvIn[N,(NH+2·NKV)·HS]: each query head RMS-normalised over its HS values
     * and scaled by qWeight, each key head likewise with kWeight, v copied; rstd[N, NH+NKV]
     * (query heads first). Parallel over rows.
     */
    void qkNormForward(MemorySegment qkvOut, MemorySegment rstd, MemorySegment qkvIn, MemorySegment qWeight,
                       MemorySegment kWeight, int N, int NH, int NKV, int HS, float eps) {
        checkHeads(NH, NKV, HS);
        final int nh = NH + NKV, RW = (nh + NKV) * HS;
        final long voff = (long) nh * HS, vbytes = (long) NKV * HS * 4;
        par.range(N, grain(RW), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                long base = (long) r * RW;
                for (int j = 0; j < nh; j++) {
                    long o = base + (long) j * HS;
                    set(rstd, (long) r * nh + j, rmsRow(qkvOut, o, qkvIn, o, j < NH ? qWeight : kWeight, HS, eps));
                }
                MemorySegment.copy(qkvIn, (base + voff) * 4, qkvOut, (base + voff) * 4, vbytes);
            }
        });
    }

    /**
     * Backward of {@link #qkNormForward}: dqkvIn (=) per head the RMSNorm input gradient
     * (v passes through), dqWeight[HS] += and dkWeight[HS] += the sums over rows and heads
     * (in row blocks; within a row, heads in ascending order).
     */
    void qkNormBackward(MemorySegment dqkvIn, MemorySegment dqWeight, MemorySegment dkWeight,
                        MemorySegment dqkvOut, MemorySegment qkvIn, MemorySegment qWeight, MemorySegment kWeight,
                        MemorySegment rstd, int N, int NH, int NKV, int HS) {
        checkHeads(NH, NKV, HS);
        if (N <= 0) return;
        final int nh = NH + NKV, RW = (nh + NKV) * HS, W2 = 2 * HS;
        final long voff = (long) nh * HS, vbytes = (long) NKV * HS * 4;
        final int nb = blocks(N, RW);
        final float[] parts = partials(nb, W2);
        par.range(nb, 1, (b0, b1) -> {
            for (int blk = b0; blk < b1; blk++) {
                int p = blk * W2;
                Arrays.fill(parts, p, p + W2, 0f);
                int r0 = (int) ((long) N * blk / nb), r1 = (int) ((long) N * (blk + 1) / nb);
                for (int r = r0; r < r1; r++) {
                    long base = (long) r * RW;
                    for (int j = 0; j < nh; j++) {
                        long o = base + (long) j * HS;
                        boolean q = j < NH;
                        rmsRowBackward(dqkvIn, o, false, parts, q ? p : p + HS, dqkvOut, o, qkvIn, o,
                                q ? qWeight : kWeight, get(rstd, (long) r * nh + j), HS);
                    }
                    MemorySegment.copy(dqkvOut, (base + voff) * 4, dqkvIn, (base + voff) * 4, vbytes);
                }
            }
        });
        reduceInto(dqWeight, parts, nb, W2, 0, HS);
        reduceInto(dkWeight, parts, nb, W2, HS, HS);
    }

    // ---------------------------------------------------------------- RoPE

    /**
     * Rotary embedding in place on the NH query and NKV key heads of qkv[B·T,(NH+2·NKV)·HS]
     * (rotate_half convention): row (b, t) at p = (positions == null ? 0 : positions[b]) + t,
     * for i &lt; half = HS/2, (x1, x2) = (x[i], x[i+half]) becomes (x1·c − x2·s, x2·c + x1·s)
     * with c = cos[p,i], s = sin[p,i]; with inverse, the transposed rotation
     * (x1·c + x2·s, x2·c − x1·s), which is the backward. Parallel over rows.
     */
    void rope(MemorySegment qkv, MemorySegment cos, MemorySegment sin, MemorySegment positions,
              int B, int T, int NH, int NKV, int HS, boolean inverse) {
        checkHeads(NH, NKV, HS);
        if (HS % 2 != 0) throw new IllegalArgumentException("RoPE needs an even head size, got HS=" + HS);
        if (B <= 0 || T <= 0) return;
        final int half = HS / 2, nh = NH + NKV, RW = (nh + NKV) * HS, ub = half - half % L;
        final long tablePositions = Math.min(cos.byteSize(), sin.byteSize()) / 4 / half;
        for (int b = 0; b < B; b++) {
            long p0 = positions == null ? 0 : positions.getAtIndex(I32, b);
            if (p0 < 0 || p0 + T > tablePositions)
                throw new IllegalArgumentException("RoPE: row " + b + " spans positions " + p0 + ".." + (p0 + T - 1)
                        + ", outside the cos/sin tables' [0, " + tablePositions + ")");
        }
        par.range(B * T, grain((long) nh * HS), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int b = r / T, t = r % T;
                long cs = ((positions == null ? 0L : positions.getAtIndex(I32, b)) + t) * half;
                long base = (long) r * RW;
                for (int j = 0; j < nh; j++) {
                    long o1 = base + (long) j * HS, o2 = o1 + half;
                    int i = 0;
                    for (; i < ub; i += L) {
                        FloatVector x1 = load(qkv, o1 + i), x2 = load(qkv, o2 + i);
                        FloatVector c = load(cos, cs + i), s = load(sin, cs + i);
                        FloatVector y1, y2;
                        if (inverse) {
                            y1 = x1.mul(c).add(x2.mul(s));
                            y2 = x2.mul(c).sub(x1.mul(s));
                        } else {
                            y1 = x1.mul(c).sub(x2.mul(s));
                            y2 = x2.mul(c).add(x1.mul(s));
                        }
                        y1.intoMemorySegment(qkv, (o1 + i) * 4, NO);
                        y2.intoMemorySegment(qkv, (o2 + i) * 4, NO);
                    }
                    for (; i < half; i++) {
                        float x1 = get(qkv, o1 + i), x2 = get(qkv, o2 + i);
                        float c = get(cos, cs + i), s = get(sin, cs + i);
                        set(qkv, o1 + i, inverse ? x1 * c + x2 * s : x1 * c - x2 * s);
                        set(qkv, o2 + i, inverse ? x2 * c - x1 * s : x2 * c + x1 * s);
                    }
                }
            }
        });
    }

    // ---------------------------------------------------------------- SwiGLU

    /*
     * silu(g) = g·σ(g) with σ(g) = 1/(1 + e^(−g)); e^(−g) by VectorMath.exp, which clamps its
     * argument to [−87.3, 88], so it never overflows: for g < −88 σ is ~1e-38 instead of
     * smaller, and silu and its derivative are ~0 either way. 1 − σ = e^(−g)·σ avoids the
     * cancellation of 1 − σ for large g. The scalar tails clamp the same way (an infinite
     * e^(−g) would make e^(−g)·σ = ∞·0).
     */
    private static final float EXP_MAX = 88f;

    /** out[n,i] = silu(gate)·up with inp[n] = [gate (I) | up (I)]. Parallel over rows. */
    void swigluForward(MemorySegment out, MemorySegment inp, int N, int I) {
        if (I < 1) throw new IllegalArgumentException("SwiGLU needs I >= 1, got " + I);
        final int ub = I - I % L;
        par.range(N, grain(3L * I), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                long gb = (long) r * 2 * I, ubase = gb + I, ob = (long) r * I;
                int i = 0;
                for (; i < ub; i += L) {
                    FloatVector g = load(inp, gb + i);
                    FloatVector e = VectorMath.exp(g.neg());
                    g.div(e.add(1f)).mul(load(inp, ubase + i)).intoMemorySegment(out, (ob + i) * 4, NO);
                }
                for (; i < I; i++) {
                    float g = get(inp, gb + i);
                    set(out, ob + i, g / (1f + (float) Math.exp(Math.min(-g, EXP_MAX))) * get(inp, ubase + i));
                }
            }
        });
    }

    /**
     * dinp[n] = [d gate | d up] (=) with d gate = dout·up·σ(g)·(1 + g·(1 − σ(g))) and
     * d up = dout·silu(g). Parallel over rows.
     */
    void swigluBackward(MemorySegment dinp, MemorySegment dout, MemorySegment inp, int N, int I) {
        if (I < 1) throw new IllegalArgumentException("SwiGLU needs I >= 1, got " + I);
        final int ub = I - I % L;
        par.range(N, grain(5L * I), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                long gb = (long) r * 2 * I, ubase = gb + I, ob = (long) r * I;
                int i = 0;
                for (; i < ub; i += L) {
                    FloatVector g = load(inp, gb + i), u = load(inp, ubase + i), d = load(dout, ob + i);
                    FloatVector e = VectorMath.exp(g.neg());
                    FloatVector sg = FloatVector.broadcast(S, 1f).div(e.add(1f));
                    FloatVector silu = g.mul(sg);
                    FloatVector dsilu = g.mul(e.mul(sg)).add(1f).mul(sg);
                    d.mul(u).mul(dsilu).intoMemorySegment(dinp, (gb + i) * 4, NO);
                    d.mul(silu).intoMemorySegment(dinp, (ubase + i) * 4, NO);
                }
                for (; i < I; i++) {
                    float g = get(inp, gb + i), u = get(inp, ubase + i), d = get(dout, ob + i);
                    float e = (float) Math.exp(Math.min(-g, EXP_MAX)), sg = 1f / (1f + e);
                    float dsilu = (g * (e * sg) + 1f) * sg;
                    set(dinp, gb + i, d * u * dsilu);
                    set(dinp, ubase + i, d * (g * sg));
                }
            }
        });
    }
}
