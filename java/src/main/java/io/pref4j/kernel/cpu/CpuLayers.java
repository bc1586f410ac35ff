package io.pref4j.kernel.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static io.pref4j.kernel.cpu.CpuKernels.F32;
import static io.pref4j.kernel.cpu.CpuKernels.I32;

/**
 * Elementwise operations and the small layers of the GPT (GELU, LayerNorm, embeddings,
 * row gather/scatter, row sums). The elementwise kernels are memory-bound: they are
 * vectorised with the preferred {@link FloatVector} species and split over the worker
 * threads in chunks large enough to amortise the hand-off. Backward kernels that reduce
 * over rows into a shared parameter gradient are race-free: either one task owns a column
 * range (embeddings, scatter) or each task sums into its own partial buffer which is
 * reduced at the end (LayerNorm). Scratch buffers are kept across calls, so one instance
 * must not be called from two threads at once.
 */
final class CpuLayers {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ByteOrder NO = ByteOrder.nativeOrder();

    /** Elements per chunk of an elementwise loop. */
    private static final int CHUNK = 1 << 13;
    /** Minimum chunks per parallel piece (= 64K elements): smaller loops run inline. */
    private static final int CHUNK_GRAIN = 8;

    private static final float GELU_S = (float) Math.sqrt(2.0 / Math.PI);
    private static final float GELU_C = 0.044715f;
    private static final float LN_EPS = 1e-5f;

    private final Parallel par;

    /** LayerNorm backward: per-task partial sums, [task][2C] = dweight | dbias. */
    private float[][] lnPartials = new float[0][];

    CpuLayers(Parallel par) {
        this.par = par;
    }

    @FunctionalInterface
    private interface LongBody {
        void run(long start, long end);
    }

    /** Runs body over [0, n) split into chunk-aligned pieces on the worker threads. */
    private void chunks(long n, LongBody body) {
        if (n <= 0) return;
        long nChunks = (n + CHUNK - 1) / CHUNK;
        if (nChunks > Integer.MAX_VALUE) throw new IllegalArgumentException("n too large: " + n);
        par.range((int) nChunks, CHUNK_GRAIN,
                (s, e) -> body.run((long) s * CHUNK, Math.min(n, (long) e * CHUNK)));
    }

    /** Splits [0, C) into up to threads() column ranges aligned to the vector length. */
    private void columns(int C, Parallel.Body body) {
        int pieces = Math.max(1, Math.min(par.threads(), C / (4 * L)));
        par.range(pieces, 1, (s, e) -> {
            for (int p = s; p < e; p++) {
                int c0 = (int) ((long) C * p / pieces) / L * L;
                int c1 = p == pieces - 1 ? C : (int) ((long) C * (p + 1) / pieces) / L * L;
                if (c1 > c0) body.run(c0, c1);
            }
        });
    }

    private static FloatVector load(MemorySegment m, long idx) {
        return FloatVector.fromMemorySegment(S, m, idx * 4, NO);
    }

    private static float get(MemorySegment m, long idx) {
        return m.getAtIndex(F32, idx);
    }

    private static void set(MemorySegment m, long idx, float v) {
        m.setAtIndex(F32, idx, v);
    }

    // ---------------------------------------------------------------- elementwise

    /** out[i] = a[i] + b[i]; out may alias a or b (each element is read before written). */
    void add(MemorySegment out, MemorySegment a, MemorySegment b, long n) {
        chunks(n, (s, e) -> {
            long i = s, ub = e - (e - s) % L;
            for (; i < ub; i += L) load(a, i).add(load(b, i)).intoMemorySegment(out, i * 4, NO);
            for (; i < e; i++) set(out, i, get(a, i) + get(b, i));
        });
    }

    /** y[i] += x[i]. */
    void accumulate(MemorySegment y, MemorySegment x, long n) {
        add(y, y, x, n);
    }

    /** x[i] *= s. */
    void scale(MemorySegment x, long n, float sc) {
        chunks(n, (s, e) -> {
            long i = s, ub = e - (e - s) % L;
            for (; i < ub; i += L) load(x, i).mul(sc).intoMemorySegment(x, i * 4, NO);
            for (; i < e; i++) set(x, i, get(x, i) * sc);
        });
    }

    /*
     * GELU uses 0.5(1 + tanh u) = σ(2u) with σ(z) = 1/(1 + e^(−z)), which keeps full relative
     * accuracy in the negative tail where 1 + tanh u cancels in fp32. z is clamped to ±80
     * so that e^(−z) stays finite; then σ(z)·(1 − σ(z)) = σ·(e^(−z)·σ) without overflow.
     */
    private static final float Z_MAX = 80f;

    /** out[i] = 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³))) = x·σ(2u) with x = inp[i]. */
    void geluForward(MemorySegment out, MemorySegment inp, long n) {
        chunks(n, (s, e) -> {
            long i = s, ub = e - (e - s) % L;
            for (; i < ub; i += L) {
                FloatVector x = load(inp, i);
                FloatVector z = x.mul(x).mul(2f * GELU_C * GELU_S).add(2f * GELU_S).mul(x)
                        .max(-Z_MAX).min(Z_MAX);
                FloatVector ez = VectorMath.exp(z.neg());
                x.div(ez.add(1f)).intoMemorySegment(out, i * 4, NO);
            }
            for (; i < e; i++) {
                float x = get(inp, i);
                float z = Math.clamp(2f * GELU_S * (x + GELU_C * x * x * x), -Z_MAX, Z_MAX);
                set(out, i, x / (1f + (float) Math.exp(-z)));
            }
        });
    }

    /**
     * dinp[i] = gelu'(x)·dout[i], x = inp[i], with
     * gelu'(x) = 0.5(1 + tanh u) + 0.5 x (1 − tanh² u) u' = σ(2u) + 2x σ(2u)(1 − σ(2u)) u',
     * u = √(2/π)(x + 0.044715 x³), u' = √(2/π)(1 + 3·0.044715 x²). dinp may alias dout.
     */
    void geluBackward(MemorySegment dinp, MemorySegment inp, MemorySegment dout, long n) {
        chunks(n, (s, e) -> {
            long i = s, ub = e - (e - s) % L;
            for (; i < ub; i += L) {
                FloatVector x = load(inp, i);
                FloatVector x2 = x.mul(x);
                FloatVector z = x2.mul(2f * GELU_C * GELU_S).add(2f * GELU_S).mul(x).max(-Z_MAX).min(Z_MAX);
                FloatVector ez = VectorMath.exp(z.neg());
                FloatVector sg = FloatVector.broadcast(S, 1f).div(ez.add(1f));
                FloatVector du2 = x2.mul(6f * GELU_C * GELU_S).add(2f * GELU_S); // 2u'
                FloatVector g = x.mul(du2).mul(ez.mul(sg)).add(1f).mul(sg);
                g.mul(load(dout, i)).intoMemorySegment(dinp, i * 4, NO);
            }
            for (; i < e; i++) {
                float x = get(inp, i);
                float z = Math.clamp(2f * GELU_S * (x + GELU_C * x * x * x), -Z_MAX, Z_MAX);
                float ez = (float) Math.exp(-z), sg = 1f / (1f + ez);
                float g = sg * (1f + x * (2f * GELU_S * (1f + 3f * GELU_C * x * x)) * (ez * sg));
                set(dinp, i, g * get(dout, i));
            }
        });
    }

    // ---------------------------------------------------------------- LayerNorm

    /**
     * Per row n: mean = Σx/C, var = Σ(x − mean)²/C (biased), rstd = 1/√(var + 1e-5),
     * out = (x − mean)·rstd·weight + bias; saves mean[n], rstd[n]. Parallel over rows.
     */
    void layerNormForward(MemorySegment out, MemorySegment mean, MemorySegment rstd,
                          MemorySegment inp, MemorySegment weight, MemorySegment bias, int N, int C) {
        par.range(N, Math.max(1, 4096 / Math.max(1, C)), (r0, r1) -> {
            int ub = C - C % L;
            for (int r = r0; r < r1; r++) {
                long base = (long) r * C;
                FloatVector acc = FloatVector.zero(S);
                int c = 0;
                for (; c < ub; c += L) acc = acc.add(load(inp, base + c));
                float sum = VectorMath.sum(acc);
                for (; c < C; c++) sum += get(inp, base + c);
                float m = sum / C;
                acc = FloatVector.zero(S);
                c = 0;
                for (; c < ub; c += L) {
                    FloatVector d = load(inp, base + c).sub(m);
                    acc = d.fma(d, acc);
                }
                float ss = VectorMath.sum(acc);
                for (; c < C; c++) {
                    float d = get(inp, base + c) - m;
                    ss += d * d;
                }
                float rs = (float) (1.0 / Math.sqrt(ss / C + LN_EPS));
                c = 0;
                for (; c < ub; c += L) {
                    load(inp, base + c).sub(m).mul(rs).fma(load(weight, c), load(bias, c))
                            .intoMemorySegment(out, (base + c) * 4, NO);
                }
                for (; c < C; c++) set(out, base + c, (get(inp, base + c) - m) * rs * get(weight, c) + get(bias, c));
                set(mean, r, m);
                set(rstd, r, rs);
            }
        });
    }

    /**
     * LayerNorm backward, with norm = (x − mean)·rstd and dnorm = dout·weight:
     * dinp += rstd·(dnorm − mean(dnorm) − norm·mean(dnorm·norm)), dweight += Σ_n dout·norm,
     * dbias += Σ_n dout. Rows are split into tasks; each task sums dweight/dbias into its own
     * partial buffer, and the partials are added to dweight/dbias at the end (race-free).
     */
    void layerNormBackward(MemorySegment dinp, MemorySegment dweight, MemorySegment dbias,
                           MemorySegment dout, MemorySegment inp, MemorySegment weight,
                           MemorySegment mean, MemorySegment rstd, int N, int C) {
        if (N <= 0) return;
        int tasks = Math.max(1, Math.min(par.threads(), N / Math.max(1, 8192 / Math.max(1, C))));
        if (lnPartials.length < tasks || lnPartials[0].length < 2 * C) {
            // grown once to the largest C seen; reused by every later call
            float[][] p = new float[par.threads()][2 * C];
            lnPartials = p;
        }
        final float[][] parts = lnPartials;
        final int ub = C - C % L;
        par.range(tasks, 1, (t0, t1) -> {
            for (int task = t0; task < t1; task++) {
                float[] part = parts[task];
                java.util.Arrays.fill(part, 0, 2 * C, 0f);
                int r0 = (int) ((long) N * task / tasks), r1 = (int) ((long) N * (task + 1) / tasks);
                for (int r = r0; r < r1; r++) {
                    long base = (long) r * C;
                    float m = get(mean, r), rs = get(rstd, r);
                    // pass 1: the two row means, and the parameter gradients
                    FloatVector aD = FloatVector.zero(S), aDN = FloatVector.zero(S);
                    int c = 0;
                    for (; c < ub; c += L) {
                        FloatVector go = load(dout, base + c);
                        FloatVector nrm = load(inp, base + c).sub(m).mul(rs);
                        FloatVector dn = go.mul(load(weight, c));
                        aD = aD.add(dn);
                        aDN = dn.fma(nrm, aDN);
                        FloatVector.fromArray(S, part, C + c).add(go).intoArray(part, C + c);
                        go.fma(nrm, FloatVector.fromArray(S, part, c)).intoArray(part, c);
                    }
                    float sD = VectorMath.sum(aD), sDN = VectorMath.sum(aDN);
                    for (; c < C; c++) {
                        float go = get(dout, base + c);
                        float nrm = (get(inp, base + c) - m) * rs;
                        float dn = go * get(weight, c);
                        sD += dn;
                        sDN += dn * nrm;
                        part[c] += go * nrm;
                        part[C + c] += go;
                    }
                    float mD = sD / C, mDN = sDN / C;
                    // pass 2: dinp += rstd·(dnorm − mD − norm·mDN)
                    c = 0;
                    for (; c < ub; c += L) {
                        FloatVector nrm = load(inp, base + c).sub(m).mul(rs);
                        FloatVector dn = load(dout, base + c).mul(load(weight, c));
                        FloatVector g = dn.sub(mD).sub(nrm.mul(mDN)).mul(rs);
                        load(dinp, base + c).add(g).intoMemorySegment(dinp, (base + c) * 4, NO);
                    }
                    for (; c < C; c++) {
                        float nrm = (get(inp, base + c) - m) * rs;
                        float dn = get(dout, base + c) * get(weight, c);
                        set(dinp, base + c, get(dinp, base + c) + (dn - mD - nrm * mDN) * rs);
                    }
                }
            }
        });
        // reduce the partials into dweight, dbias (in task order: deterministic)
        for (int task = 0; task < tasks; task++) {
            float[] part = parts[task];
            int c = 0;
            for (; c < ub; c += L) {
                load(dweight, c).add(FloatVector.fromArray(S, part, c)).intoMemorySegment(dweight, (long) c * 4, NO);
                load(dbias, c).add(FloatVector.fromArray(S, part, C + c)).intoMemorySegment(dbias, (long) c * 4, NO);
            }
            for (; c < C; c++) {
                set(dweight, c, get(dweight, c) + part[c]);
                set(dbias, c, get(dbias, c) + part[C + c]);
            }
        }
    }

    // ---------------------------------------------------------------- embeddings

    /** out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]. Parallel over rows. */
    void embeddingForward(MemorySegment out, MemorySegment tokens, MemorySegment wte,
                          MemorySegment wpe, int B, int T, int C) {
        par.range(B * T, Math.max(1, 4096 / Math.max(1, C)), (r0, r1) -> {
            int ub = C - C % L;
            for (int r = r0; r < r1; r++) {
                long o = (long) r * C;
                long w = (long) tokens.getAtIndex(I32, r) * C;
                long p = (long) (r % T) * C;
                int c = 0;
                for (; c < ub; c += L) load(wte, w + c).add(load(wpe, p + c)).intoMemorySegment(out, (o + c) * 4, NO);
                for (; c < C; c++) set(out, o + c, get(wte, w + c) + get(wpe, p + c));
            }
        });
    }

    /**
     * dwte[tokens[b,t],:] += dout[b,t,:]; dwpe[t,:] += dout[b,t,:]. Tokens may repeat, so
     * tasks own column ranges and walk all rows: no two tasks touch the same element.
     */
    void embeddingBackward(MemorySegment dwte, MemorySegment dwpe, MemorySegment dout,
                           MemorySegment tokens, int B, int T, int C) {
        columns(C, (c0, c1) -> {
            int ub = c0 + (c1 - c0) / L * L;
            for (int r = 0; r < B * T; r++) {
                long o = (long) r * C;
                long w = (long) tokens.getAtIndex(I32, r) * C;
                long p = (long) (r % T) * C;
                int c = c0;
                for (; c < ub; c += L) {
                    FloatVector g = load(dout, o + c);
                    load(dwte, w + c).add(g).intoMemorySegment(dwte, (w + c) * 4, NO);
                    load(dwpe, p + c).add(g).intoMemorySegment(dwpe, (p + c) * 4, NO);
                }
                for (; c < c1; c++) {
                    float g = get(dout, o + c);
                    set(dwte, w + c, get(dwte, w + c) + g);
                    set(dwpe, p + c, get(dwpe, p + c) + g);
                }
            }
        });
    }

    // ---------------------------------------------------------------- rows

    /** out[b,:] = x[rows[b],:] for b in [0, R). */
    void gatherRows(MemorySegment out, MemorySegment x, MemorySegment rows, int R, int C) {
        for (int b = 0; b < R; b++) {
            long src = (long) rows.getAtIndex(I32, b) * C;
            MemorySegment.copy(x, src * 4, out, (long) b * C * 4, (long) C * 4);
        }
    }

    /** dx[rows[b],:] += dout[b,:] for b in [0, R); rows may repeat (column-split tasks). */
    void scatterAddRows(MemorySegment dx, MemorySegment dout, MemorySegment rows, int R, int C) {
        columns(C, (c0, c1) -> {
            int ub = c0 + (c1 - c0) / L * L;
            for (int b = 0; b < R; b++) {
                long o = (long) b * C;
                long d = (long) rows.getAtIndex(I32, b) * C;
                int c = c0;
                for (; c < ub; c += L) load(dx, d + c).add(load(dout, o + c)).intoMemorySegment(dx, (d + c) * 4, NO);
                for (; c < c1; c++) set(dx, d + c, get(dx, d + c) + get(dout, o + c));
            }
        });
    }

    /** out[r] = Σ_c x[r, c]. Parallel over rows. */
    void rowSum(MemorySegment out, MemorySegment x, int rows, int cols) {
        par.range(rows, Math.max(1, 16384 / Math.max(1, cols)), (r0, r1) -> {
            int ub = cols - cols % L;
            for (int r = r0; r < r1; r++) {
                long base = (long) r * cols;
                FloatVector acc = FloatVector.zero(S);
                int c = 0;
                for (; c < ub; c += L) acc = acc.add(load(x, base + c));
                float s = VectorMath.sum(acc);
                for (; c < cols; c++) s += get(x, base + c);
                set(out, r, s);
            }
        });
    }

    /** out[r, c] = x[r]. */
    void rowBroadcast(MemorySegment out, MemorySegment x, int rows, int cols) {
        int ub = cols - cols % L;
        for (int r = 0; r < rows; r++) {
            long base = (long) r * cols;
            float v = get(x, r);
            FloatVector bv = FloatVector.broadcast(S, v);
            int c = 0;
            for (; c < ub; c += L) bv.intoMemorySegment(out, (base + c) * 4, NO);
            for (; c < cols; c++) set(out, base + c, v);
        }
    }
}
