package io.pref4j.kernel.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Single-precision matrix multiply on the CPU: {@code C (=|+=) op(A)·op(B) (+ bias)} with
 * all four transpose combinations, its batched form, and the bias gradient.
 *
 * <h2>Algorithm</h2>
 * A Goto/BLIS-style blocked GEMM. For each {@code NC}-wide column block and {@code KC}-deep
 * slice of K, op(B) is packed into a float[] of {@code NR}-wide column micro-panels
 * ({@code bp[q][k][0..NR)}); for each {@code MC}-high row block op(A) is packed into
 * {@code MR}-high row micro-panels ({@code ap[p][k][0..MR)}). Packing reads the source
 * segments with bulk copies (whatever the transposition) into a staging array, reorders
 * them there (on 8-lane species, the transposing cases run as 4 × 8 and 8 × 8 transposes of
 * two-vector rearranges, and row-major B is split into panels 8 rows at a time so that
 * consecutive stores stay in one panel), pads partial panels with zeros,
 * and leaves the micro-kernel a single, branch-free loop over k: an {@code MR × NR}
 * ({@code 4 × 2·lanes}) block of C held in 8 vector registers, updated by one broadcast of
 * A per row and two vector loads of B per k with FMA. (Larger tiles such as 6 × 16 need 15
 * of AVX2's 16 vector registers; C2 then spills an accumulator to the stack and the
 * kernel runs at half speed, so the tile is kept small enough to stay in registers.) The finished block goes through a
 * small float[] tile and is merged into C (=, or += for later K slices or when
 * accumulating; the bias is added with the first K slice).
 *
 * <p>Parallelism: normally by rows. For each (NC, KC) block the threads pack op(B) together
 * into one shared buffer, then take row chunks of C from a shared counter, each packing its
 * own A chunk into its own scratch (thread-local, allocated once per thread and reused); see
 * {@link #gemmSharedB}. When C has too few row tiles to go round, the columns are split
 * instead and each thread runs the serial blocked GEMM on its part. Either way every element
 * of C is written by exactly one thread, with the serial blocking and K reduction order, so
 * results do not depend on the thread count.
 *
 * <p>The serial block routine {@link #gemm} also takes float[] outputs and is reused by
 * {@link CpuLogprob} for its vocabulary chunks.
 */
final class CpuMatmul {

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** Micro-tile: MR rows × NR columns of C (8 accumulator registers). */
    static final int MR = 4;
    static final int NR = 2 * L;
    /** Cache blocking: A block MC×KC (L2), B panel KC×NC (L3), B micro-panel KC×NR (L1). */
    static final int KC = 256;
    static final int MC = 144;
    static final int NC = 2048;
    static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** MR floats: one k of an A micro-panel, moved as one vector when the species exists. */
    private static final VectorSpecies<Float> S4 = FloatVector.SPECIES_128;
    /**
     * Lane permutations for the vectorised transposes of the packers (8-lane vectors, i.e.
     * AVX2; other widths use the scalar loops). Two-vector rearranges: index i &lt; 8 takes
     * lane i of the first vector, 8 + i lane i of the second.
     */
    private static final boolean VT = L == 8 && MR == 4 && S4.length() == MR;
    private static final VectorShuffle<Float> ZIP_LO = VT ? VectorShuffle.fromValues(S, 0, 8, 1, 9, 2, 10, 3, 11) : null;
    private static final VectorShuffle<Float> ZIP_HI = VT ? VectorShuffle.fromValues(S, 4, 12, 5, 13, 6, 14, 7, 15) : null;
    private static final VectorShuffle<Float> ZIP2_LO = VT ? VectorShuffle.fromValues(S, 0, 1, 8, 9, 2, 3, 10, 11) : null;
    private static final VectorShuffle<Float> ZIP2_HI = VT ? VectorShuffle.fromValues(S, 4, 5, 12, 13, 6, 7, 14, 15) : null;
    private static final VectorShuffle<Float> CAT_LO = VT ? VectorShuffle.fromValues(S, 0, 1, 2, 3, 8, 9, 10, 11) : null;
    private static final VectorShuffle<Float> CAT_HI = VT ? VectorShuffle.fromValues(S, 4, 5, 6, 7, 12, 13, 14, 15) : null;
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT;

    /** Work (flops) below which a matmul runs on the calling thread only. */
    private static final double PARALLEL_FLOPS = 1 << 20;

    /** Per-thread packing buffers, allocated once per thread and reused for every call. */
    static final class Scratch {
        final float[] ap = new float[MC * KC];
        final float[] bp = new float[KC * NC];
        /** Staging for bulk copies out of segments: max(MC, NR) rows of KC, KC × MC, or 8 rows of NC. */
        final float[] stage = new float[Math.max(Math.max(MC, NR) * KC, 8 * NC)];
        final float[] tile = new float[MR * NR];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    static Scratch scratch() {
        return SCRATCH.get();
    }

    private final Parallel par;

    CpuMatmul(Parallel par) {
        this.par = par;
    }

    // ------------------------------------------------------------------ public entry points

    /** out[M,N] (=|+=) op(A)·op(B) (+ bias). See {@code Kernels.matmul}. */
    void matmul(MemorySegment out, MemorySegment a, MemorySegment b, MemorySegment bias,
                int M, int N, int K, boolean transA, boolean transB, boolean accumulate) {
        if (M <= 0 || N <= 0) return;
        int lda = transA ? M : K, ldb = transB ? K : N;
        matmulParallel(out, 0, N, a, 0, lda, transA, b, 0, ldb, transB, bias, M, N, K, accumulate);
    }

    /** batch independent matmuls without bias, at element strides. See {@code Kernels.matmulBatched}. */
    void matmulBatched(MemorySegment out, MemorySegment a, MemorySegment b, int batch,
                       long strideOut, long strideA, long strideB,
                       int M, int N, int K, boolean transA, boolean transB, boolean accumulate) {
        if (batch <= 0 || M <= 0 || N <= 0) return;
        int lda = transA ? M : K, ldb = transB ? K : N;
        double flops = 2.0 * M * N * K;
        if (par.threads() > 1 && batch >= 2 * par.threads() || flops < 4 * PARALLEL_FLOPS) {
            // Many (or small) problems: one thread per group of whole problems.
            int grain = (int) Math.max(1, Math.min(batch, PARALLEL_FLOPS / Math.max(1, flops)));
            par.range(batch, grain, (s, e) -> {
                Scratch sc = scratch();
                for (int i = s; i < e; i++) {
                    gemm(sc, a, i * strideA, lda, transA, b, i * strideB, ldb, transB,
                         out, null, i * strideOut, N, null, M, N, K, accumulate);
                }
            });
        } else {
            for (int i = 0; i < batch; i++) {
                matmulParallel(out, i * strideOut, N, a, i * strideA, lda, transA,
                               b, i * strideB, ldb, transB, null, M, N, K, accumulate);
            }
        }
    }

    /** dbias[N] += Σ_m dout[m, :] (float accumulation, columns split between threads). */
    void biasBackward(MemorySegment dbias, MemorySegment dout, int M, int N) {
        if (M <= 0 || N <= 0) return;
        // Units of NR columns; each thread sums its columns over all rows.
        int units = (N + NR - 1) / NR;
        int grain = Math.max(1, (int) (65536L / Math.max(1, (long) M * NR)));
        par.range(units, grain, (s, e) -> {
            int j0 = s * NR, j1 = Math.min(N, e * NR);
            float[] acc = new float[j1 - j0];
            float[] row = new float[j1 - j0];
            int w = j1 - j0, wv = S.loopBound(w);
            for (int m = 0; m < M; m++) {
                MemorySegment.copy(dout, F32, ((long) m * N + j0) * 4, row, 0, w);
                int j = 0;
                for (; j < wv; j += L) {
                    FloatVector.fromArray(S, acc, j).add(FloatVector.fromArray(S, row, j)).intoArray(acc, j);
                }
                for (; j < w; j++) acc[j] += row[j];
            }
            for (int j = 0; j < w; j++) {
                long idx = j0 + j;
                dbias.setAtIndex(F32, idx, dbias.getAtIndex(F32, idx) + acc[j]);
            }
        });
    }

    // ------------------------------------------------------------------ parallel split

    /** Splits C between threads by row tiles or column tiles and runs {@link #gemm} on each part. */
    void matmulParallel(MemorySegment c, long cOff, int ldc,
                        MemorySegment a, long aOff, int lda, boolean transA,
                        MemorySegment b, long bOff, int ldb, boolean transB,
                        MemorySegment bias, int M, int N, int K, boolean accumulate) {
        double flops = 2.0 * M * N * K;
        int tilesM = (M + MR - 1) / MR, tilesN = (N + NR - 1) / NR;
        if (par.threads() == 1 || flops < PARALLEL_FLOPS || (tilesM < 2 && tilesN < 2)) {
            gemm(scratch(), a, aOff, lda, transA, b, bOff, ldb, transB, c, null, cOff, ldc,
                 bias, M, N, K, accumulate);
            return;
        }
        // Prefer splitting rows (each thread then packs only its own A rows and all of B);
        // split columns when there are too few row tiles to go round.
        boolean byRows = tilesM >= 4 * par.threads() || tilesM >= tilesN;
        if (byRows) {
            gemmSharedB(c, cOff, ldc, a, aOff, lda, transA, b, bOff, ldb, transB, bias, M, N, K, accumulate);
        } else {
            par.range(tilesN, 1, (s, e) -> {
                int j0 = s * NR, j1 = Math.min(N, e * NR);
                long bo = transB ? bOff + (long) j0 * ldb : bOff + j0;
                MemorySegment bs = bias == null ? null : bias.asSlice((long) j0 * 4);
                gemm(scratch(), a, aOff, lda, transA, b, bo, ldb, transB,
                     c, null, cOff + j0, ldc, bs, M, j1 - j0, K, accumulate);
            });
        }
    }

    /**
     * The row-split parallel GEMM. For each (NC column block, KC slice) the threads first
     * pack op(B)'s block together into one shared buffer (the calling thread's
     * {@link Scratch#bp}; each thread packs a contiguous range of micro-panels), then take
     * row chunks of C (multiples of MR rows, at most MC) from a shared counter, each packing
     * its own A chunk and running the macro-kernel on it. B is packed once instead of once
     * per thread, and a thread slowed by other load on its core simply takes fewer chunks.
     * The blocking (NC, KC, tile boundaries) is the serial {@link #gemm}'s, and every
     * element of C is written by the one thread that took its chunk, so the result is
     * bit-identical to the serial one.
     */
    private void gemmSharedB(MemorySegment c, long cOff, int ldc,
                             MemorySegment a, long aOff, int lda, boolean transA,
                             MemorySegment b, long bOff, int ldb, boolean transB,
                             MemorySegment bias, int M, int N, int K, boolean accumulate) {
        int threads = par.threads();
        float[] bp = scratch().bp;
        // Row chunk: about 2 chunks per thread for balance, at most MC (the packed A block).
        int tilesM = (M + MR - 1) / MR;
        int chunk = MR * Math.max(1, Math.min(MC / MR, tilesM / (2 * threads)));
        int chunks = (M + chunk - 1) / chunk;
        for (int jc = 0; jc < N; jc += NC) {
            int nc = Math.min(NC, N - jc), panels = (nc + NR - 1) / NR;
            for (int pc = 0; pc < K; pc += KC) {
                int kc = Math.min(KC, K - pc);
                boolean acc = accumulate || pc != 0;
                MemorySegment bs = pc == 0 ? bias : null;
                final int jcF = jc, pcF = pc;
                par.range(panels, 1, (s, e) -> {
                    int j0 = s * NR, j1 = Math.min(nc, e * NR);
                    packB(scratch(), bp, s * NR * kc, b, bOff, ldb, transB, pcF, jcF + j0, kc, j1 - j0);
                });
                AtomicInteger next = new AtomicInteger();
                par.range(threads, 1, (s, e) -> {
                    Scratch sc = scratch();
                    for (int u = next.getAndIncrement(); u < chunks; u = next.getAndIncrement()) {
                        int ic = u * chunk, mc = Math.min(chunk, M - ic);
                        packA(sc, a, aOff, lda, transA, ic, pcF, mc, kc);
                        macroKernel(sc, bp, 0, kc, mc, nc, c, null, cOff + (long) ic * ldc + jcF, ldc,
                                    acc, bs, jcF);
                    }
                });
            }
        }
    }

    // ------------------------------------------------------------------ serial blocked GEMM

    /**
     * Serial blocked GEMM on the calling thread:
     * {@code C[i, j] (=|+=) Σ_k op(A)[i, k]·op(B)[k, j] (+ bias[j])} for i < M, j < N, where
     * op(A)[i,k] = a[aOff + (transA ? k·lda + i : i·lda + k)],
     * op(B)[k,j] = b[bOff + (transB ? j·ldb + k : k·ldb + j)] and
     * C[i,j] = (cSeg or cArr)[cOff + i·ldc + j]; exactly one of cSeg, cArr is non-null.
     * Offsets and leading dimensions are in elements. a and b may be heap or native segments.
     */
    static void gemm(Scratch sc,
                     MemorySegment a, long aOff, int lda, boolean transA,
                     MemorySegment b, long bOff, int ldb, boolean transB,
                     MemorySegment cSeg, float[] cArr, long cOff, int ldc,
                     MemorySegment bias, int M, int N, int K, boolean accumulate) {
        gemm(sc, a, aOff, lda, transA, b, bOff, ldb, transB, null, cSeg, cArr, cOff, ldc, bias, M, N, K, accumulate);
    }

    /** Length of the float[] that {@link #prepackB} fills for a K × N op(B). */
    static int packedBSize(int K, int N) {
        return K * ((N + NR - 1) / NR) * NR;
    }

    /**
     * Packs the whole K × N op(B) once, in the order {@link #gemm} consumes it (for each NC
     * column block, for each KC slice: the micro-panels of {@link #packB}; the block at
     * (jc, pc) starts at jc·K + pc·roundUp(nc, NR)), so that several GEMMs sharing B can
     * skip packing it with {@link #gemmPackedB}. dst needs {@link #packedBSize} floats.
     */
    static void prepackB(Scratch sc, float[] dst, MemorySegment b, long bOff, int ldb, boolean transB, int K, int N) {
        for (int jc = 0; jc < N; jc += NC) {
            int nc = Math.min(NC, N - jc), ncPad = (nc + NR - 1) / NR * NR;
            for (int pc = 0; pc < K; pc += KC) {
                int kc = Math.min(KC, K - pc);
                packB(sc, dst, jc * K + pc * ncPad, b, bOff, ldb, transB, pc, jc, kc, nc);
            }
        }
    }

    /** {@link #gemm} with op(B) already packed by {@link #prepackB} (same K and N). */
    static void gemmPackedB(Scratch sc, MemorySegment a, long aOff, int lda, boolean transA, float[] bPacked,
                            MemorySegment cSeg, float[] cArr, long cOff, int ldc,
                            MemorySegment bias, int M, int N, int K, boolean accumulate) {
        gemm(sc, a, aOff, lda, transA, null, 0, 0, false, bPacked, cSeg, cArr, cOff, ldc, bias, M, N, K, accumulate);
    }

    private static void gemm(Scratch sc,
                             MemorySegment a, long aOff, int lda, boolean transA,
                             MemorySegment b, long bOff, int ldb, boolean transB, float[] bPacked,
                             MemorySegment cSeg, float[] cArr, long cOff, int ldc,
                             MemorySegment bias, int M, int N, int K, boolean accumulate) {
        if (M <= 0 || N <= 0) return;
        if (K <= 0) {
            // No products: C = bias (or 0), or C += bias.
            for (int i = 0; i < M; i++) {
                for (int j = 0; j < N; j++) {
                    float bv = bias == null ? 0f : bias.getAtIndex(F32, j);
                    long idx = cOff + (long) i * ldc + j;
                    if (cSeg != null) cSeg.setAtIndex(F32, idx, accumulate ? cSeg.getAtIndex(F32, idx) + bv : bv);
                    else cArr[(int) idx] = accumulate ? cArr[(int) idx] + bv : bv;
                }
            }
            return;
        }
        for (int jc = 0; jc < N; jc += NC) {
            int nc = Math.min(NC, N - jc), ncPad = (nc + NR - 1) / NR * NR;
            for (int pc = 0; pc < K; pc += KC) {
                int kc = Math.min(KC, K - pc);
                boolean first = pc == 0;
                boolean acc = accumulate || !first;
                float[] bp;
                int bBlock;
                if (bPacked != null) {
                    bp = bPacked;
                    bBlock = jc * K + pc * ncPad;
                } else {
                    bp = sc.bp;
                    bBlock = 0;
                    packB(sc, bp, 0, b, bOff, ldb, transB, pc, jc, kc, nc);
                }
                for (int ic = 0; ic < M; ic += MC) {
                    int mc = Math.min(MC, M - ic);
                    packA(sc, a, aOff, lda, transA, ic, pc, mc, kc);
                    macroKernel(sc, bp, bBlock, kc, mc, nc, cSeg, cArr, cOff + (long) ic * ldc + jc, ldc,
                                acc, first ? bias : null, jc);
                }
            }
        }
    }

    /**
     * The macro-kernel: C[0..mc, 0..nc) (=|+=) (packed A block in sc.ap)·(packed B block at
     * bp[bBlock..]) (+ bias[j0 + j]), where C[i, j] = (cSeg or cArr)[c0 + i·ldc + j]. The loop
     * runs over NR-column micro-panels of B (kept in L1) and, inside, over MR-row
     * micro-panels of A (streamed from L2).
     */
    private static void macroKernel(Scratch sc, float[] bp, int bBlock, int kc, int mc, int nc,
                                    MemorySegment cSeg, float[] cArr, long c0, int ldc, boolean acc,
                                    MemorySegment bias, int j0) {
        float[] ap = sc.ap, tile = sc.tile;
        for (int jr = 0; jr < nc; jr += NR) {
            int nr = Math.min(NR, nc - jr);
            int bBase = bBlock + (jr / NR) * NR * kc;
            for (int ir = 0; ir < mc; ir += MR) {
                int mr = Math.min(MR, mc - ir);
                int aBase = (ir / MR) * MR * kc;
                long ct = c0 + (long) ir * ldc + jr;
                if (cSeg != null && mr == MR && nr == NR) {
                    kernelToSegment(ap, aBase, bp, bBase, kc, cSeg, ct, ldc, acc, bias, j0 + jr);
                } else {
                    kernel(ap, aBase, bp, bBase, kc, tile);
                    mergeTile(tile, mr, nr, cSeg, cArr, ct, ldc, acc, bias, j0 + jr);
                }
            }
        }
    }

    /**
     * Packs op(A)[ic..ic+mc, pc..pc+kc] into MR-row micro-panels:
     * ap[p·MR·kc + k·MR + r] = op(A)[ic + p·MR + r, pc + k], zero rows past mc.
     */
    static void packA(Scratch sc, MemorySegment a, long aOff, int lda, boolean transA,
                      int ic, int pc, int mc, int kc) {
        float[] ap = sc.ap, st = sc.stage;
        int panels = (mc + MR - 1) / MR;
        if (!transA) {
            // Rows of A are contiguous in k: copy MR rows, interleave.
            for (int p = 0; p < panels; p++) {
                int rows = Math.min(MR, mc - p * MR);
                for (int r = 0; r < rows; r++) {
                    long src = aOff + (long) (ic + p * MR + r) * lda + pc;
                    MemorySegment.copy(a, F32, src * 4, st, r * kc, kc);
                }
                int base = p * MR * kc;
                if (rows == MR) {
                    int k = 0;
                    if (VT) {
                        // 4 rows × 8 k → 8 k × 4 rows: two rounds of two-vector zips.
                        for (; k + 8 <= kc; k += 8) {
                            FloatVector r0 = FloatVector.fromArray(S, st, k);
                            FloatVector r1 = FloatVector.fromArray(S, st, kc + k);
                            FloatVector r2 = FloatVector.fromArray(S, st, 2 * kc + k);
                            FloatVector r3 = FloatVector.fromArray(S, st, 3 * kc + k);
                            FloatVector t0 = r0.rearrange(ZIP_LO, r1), t1 = r0.rearrange(ZIP_HI, r1);
                            FloatVector t2 = r2.rearrange(ZIP_LO, r3), t3 = r2.rearrange(ZIP_HI, r3);
                            int d = base + k * MR;
                            t0.rearrange(ZIP2_LO, t2).intoArray(ap, d);
                            t0.rearrange(ZIP2_HI, t2).intoArray(ap, d + 8);
                            t1.rearrange(ZIP2_LO, t3).intoArray(ap, d + 16);
                            t1.rearrange(ZIP2_HI, t3).intoArray(ap, d + 24);
                        }
                    }
                    for (; k < kc; k++) {
                        int d = base + k * MR;
                        ap[d] = st[k];
                        ap[d + 1] = st[kc + k];
                        ap[d + 2] = st[2 * kc + k];
                        ap[d + 3] = st[3 * kc + k];
                    }
                } else {
                    for (int k = 0; k < kc; k++) {
                        int d = base + k * MR;
                        for (int r = 0; r < MR; r++) ap[d + r] = r < rows ? st[r * kc + k] : 0f;
                    }
                }
            }
        } else {
            // A stored [K, M]: row k of the block is contiguous in i.
            for (int k = 0; k < kc; k++) {
                long src = aOff + (long) (pc + k) * lda + ic;
                MemorySegment.copy(a, F32, src * 4, st, k * mc, mc);
            }
            for (int p = 0; p < panels; p++) {
                int rows = Math.min(MR, mc - p * MR);
                int base = p * MR * kc, col = p * MR;
                if (rows == MR) {
                    if (VT) {
                        for (int k = 0; k < kc; k++) {
                            FloatVector.fromArray(S4, st, k * mc + col).intoArray(ap, base + k * MR);
                        }
                    } else {
                        for (int k = 0; k < kc; k++) {
                            System.arraycopy(st, k * mc + col, ap, base + k * MR, MR);
                        }
                    }
                } else {
                    for (int k = 0; k < kc; k++) {
                        int d = base + k * MR;
                        for (int r = 0; r < MR; r++) ap[d + r] = r < rows ? st[k * mc + col + r] : 0f;
                    }
                }
            }
        }
    }

    /**
     * Packs op(B)[pc..pc+kc, jc..jc+nc] into NR-column micro-panels:
     * bp[dOff + q·NR·kc + k·NR + j] = op(B)[pc + k, jc + q·NR + j], zero columns past nc.
     */
    static void packB(Scratch sc, float[] bp, int dOff, MemorySegment b, long bOff, int ldb, boolean transB,
                      int pc, int jc, int kc, int nc) {
        float[] st = sc.stage;
        int panels = (nc + NR - 1) / NR;
        if (!transB) {
            // Rows of B are contiguous in j: copy KG rows of the block, split them into panels.
            // (A group of rows per panel visit writes KG consecutive lines of the panel instead
            // of one line in each of nc/NR panels, whose NR·kc·4-byte stride maps them all to
            // the same L1 set.)
            final int KG = 8;
            for (int k0 = 0; k0 < kc; k0 += KG) {
                int rows = Math.min(KG, kc - k0);
                for (int r = 0; r < rows; r++) {
                    long src = bOff + (long) (pc + k0 + r) * ldb + jc;
                    MemorySegment.copy(b, F32, src * 4, st, r * nc, nc);
                }
                int q = 0;
                for (; q < panels && (q + 1) * NR <= nc; q++) {
                    int d = dOff + q * NR * kc + k0 * NR, s = q * NR;
                    for (int r = 0; r < rows; r++, d += NR, s += nc) {
                        FloatVector.fromArray(S, st, s).intoArray(bp, d);
                        FloatVector.fromArray(S, st, s + L).intoArray(bp, d + L);
                    }
                }
                for (; q < panels; q++) {
                    int d = dOff + q * NR * kc + k0 * NR, s = q * NR;
                    for (int r = 0; r < rows; r++, d += NR) {
                        for (int j = 0; j < NR; j++) bp[d + j] = s + j < nc ? st[r * nc + s + j] : 0f;
                    }
                }
            }
        } else {
            // B stored [N, K]: column j of op(B) is contiguous in k. Transpose NR rows at a time.
            for (int q = 0; q < panels; q++) {
                int cols = Math.min(NR, nc - q * NR);
                for (int j = 0; j < cols; j++) {
                    long src = bOff + (long) (jc + q * NR + j) * ldb + pc;
                    MemorySegment.copy(b, F32, src * 4, st, j * kc, kc);
                }
                int base = dOff + q * NR * kc;
                if (cols == NR) {
                    int k = 0;
                    if (VT) {
                        for (; k + 8 <= kc; k += 8) {
                            transpose8(st, k, kc, bp, base + k * NR, NR);
                            transpose8(st, 8 * kc + k, kc, bp, base + k * NR + 8, NR);
                        }
                    }
                    for (; k < kc; k++) {
                        int d = base + k * NR;
                        for (int j = 0; j < NR; j++) bp[d + j] = st[j * kc + k];
                    }
                } else {
                    for (int k = 0; k < kc; k++) {
                        int d = base + k * NR;
                        for (int j = 0; j < NR; j++) bp[d + j] = j < cols ? st[j * kc + k] : 0f;
                    }
                }
            }
        }
    }

    /**
     * 8 × 8 transpose (8-lane species only): dst[d + i·ldd + j] = src[s + j·lds + i] for
     * i, j &lt; 8, by three rounds of two-vector rearranges (zip pairs, zip pairs of pairs,
     * join halves).
     */
    private static void transpose8(float[] src, int s, int lds, float[] dst, int d, int ldd) {
        FloatVector r0 = FloatVector.fromArray(S, src, s);
        FloatVector r1 = FloatVector.fromArray(S, src, s + lds);
        FloatVector r2 = FloatVector.fromArray(S, src, s + 2 * lds);
        FloatVector r3 = FloatVector.fromArray(S, src, s + 3 * lds);
        FloatVector r4 = FloatVector.fromArray(S, src, s + 4 * lds);
        FloatVector r5 = FloatVector.fromArray(S, src, s + 5 * lds);
        FloatVector r6 = FloatVector.fromArray(S, src, s + 6 * lds);
        FloatVector r7 = FloatVector.fromArray(S, src, s + 7 * lds);
        // t: (r0,r1) zipped = [r0_0 r1_0 r0_1 r1_1 ...], k 0..3 (lo) and 4..7 (hi)
        FloatVector t0 = r0.rearrange(ZIP_LO, r1), t1 = r0.rearrange(ZIP_HI, r1);
        FloatVector t2 = r2.rearrange(ZIP_LO, r3), t3 = r2.rearrange(ZIP_HI, r3);
        FloatVector t4 = r4.rearrange(ZIP_LO, r5), t5 = r4.rearrange(ZIP_HI, r5);
        FloatVector t6 = r6.rearrange(ZIP_LO, r7), t7 = r6.rearrange(ZIP_HI, r7);
        // u: rows 0..3 (or 4..7) of two consecutive k: [k: r0 r1 r2 r3, k+1: r0 r1 r2 r3]
        FloatVector u0 = t0.rearrange(ZIP2_LO, t2), u1 = t0.rearrange(ZIP2_HI, t2);
        FloatVector u2 = t1.rearrange(ZIP2_LO, t3), u3 = t1.rearrange(ZIP2_HI, t3);
        FloatVector v0 = t4.rearrange(ZIP2_LO, t6), v1 = t4.rearrange(ZIP2_HI, t6);
        FloatVector v2 = t5.rearrange(ZIP2_LO, t7), v3 = t5.rearrange(ZIP2_HI, t7);
        u0.rearrange(CAT_LO, v0).intoArray(dst, d);
        u0.rearrange(CAT_HI, v0).intoArray(dst, d + ldd);
        u1.rearrange(CAT_LO, v1).intoArray(dst, d + 2 * ldd);
        u1.rearrange(CAT_HI, v1).intoArray(dst, d + 3 * ldd);
        u2.rearrange(CAT_LO, v2).intoArray(dst, d + 4 * ldd);
        u2.rearrange(CAT_HI, v2).intoArray(dst, d + 5 * ldd);
        u3.rearrange(CAT_LO, v3).intoArray(dst, d + 6 * ldd);
        u3.rearrange(CAT_HI, v3).intoArray(dst, d + 7 * ldd);
    }

    /**
     * The micro-kernel: tile[r·NR + j] = Σ_k ap[aBase + k·MR + r]·bp[bBase + k·NR + j] for an
     * MR × NR block, accumulated in 8 vector registers with FMA.
     */
    static void kernel(float[] ap, int aBase, float[] bp, int bBase, int kc, float[] tile) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            int bo = bBase + k * NR, ao = aBase + k * MR;
            FloatVector b0 = FloatVector.fromArray(S, bp, bo);
            FloatVector b1 = FloatVector.fromArray(S, bp, bo + L);
            FloatVector x = FloatVector.broadcast(S, ap[ao]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, ap[ao + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, ap[ao + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, ap[ao + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, L);
        c10.intoArray(tile, NR); c11.intoArray(tile, NR + L);
        c20.intoArray(tile, 2 * NR); c21.intoArray(tile, 2 * NR + L);
        c30.intoArray(tile, 3 * NR); c31.intoArray(tile, 3 * NR + L);
    }

    /**
     * The micro-kernel for a full MR × NR block of a segment C: as {@link #kernel}, then
     * C (=|+=) result (+ bias[j0..] when bias is not null), straight from the registers.
     */
    static void kernelToSegment(float[] ap, int aBase, float[] bp, int bBase, int kc,
                                MemorySegment c, long c0, int ldc, boolean acc,
                                MemorySegment bias, int j0) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            int bo = bBase + k * NR, ao = aBase + k * MR;
            FloatVector b0 = FloatVector.fromArray(S, bp, bo);
            FloatVector b1 = FloatVector.fromArray(S, bp, bo + L);
            FloatVector x = FloatVector.broadcast(S, ap[ao]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, ap[ao + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, ap[ao + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, ap[ao + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
        }
        if (bias != null) {
            FloatVector bv0 = FloatVector.fromMemorySegment(S, bias, (long) j0 * 4, NATIVE);
            FloatVector bv1 = FloatVector.fromMemorySegment(S, bias, (long) (j0 + L) * 4, NATIVE);
            c00 = c00.add(bv0); c01 = c01.add(bv1);
            c10 = c10.add(bv0); c11 = c11.add(bv1);
            c20 = c20.add(bv0); c21 = c21.add(bv1);
            c30 = c30.add(bv0); c31 = c31.add(bv1);
        }
        long r = c0 * 4, step = (long) ldc * 4, h = (long) L * 4;
        store(c, r, c00, acc); store(c, r + h, c01, acc); r += step;
        store(c, r, c10, acc); store(c, r + h, c11, acc); r += step;
        store(c, r, c20, acc); store(c, r + h, c21, acc); r += step;
        store(c, r, c30, acc); store(c, r + h, c31, acc);
    }

    private static void store(MemorySegment c, long byteOff, FloatVector v, boolean acc) {
        if (acc) v = v.add(FloatVector.fromMemorySegment(S, c, byteOff, NATIVE));
        v.intoMemorySegment(c, byteOff, NATIVE);
    }

    /** Merges the top-left mr × nr of tile into C (=|+=), adding bias[j0 + j] when given. */
    static void mergeTile(float[] tile, int mr, int nr, MemorySegment cSeg, float[] cArr,
                          long c0, int ldc, boolean acc, MemorySegment bias, int j0) {
        for (int r = 0; r < mr; r++) {
            long row = c0 + (long) r * ldc;
            int t = r * NR;
            if (cArr != null) {
                int base = (int) row;
                if (nr == NR && bias == null) {
                    for (int h = 0; h < NR; h += L) {
                        FloatVector v = FloatVector.fromArray(S, tile, t + h);
                        if (acc) v = v.add(FloatVector.fromArray(S, cArr, base + h));
                        v.intoArray(cArr, base + h);
                    }
                } else {
                    for (int j = 0; j < nr; j++) {
                        float v = tile[t + j];
                        if (bias != null) v += bias.getAtIndex(F32, j0 + j);
                        cArr[base + j] = acc ? cArr[base + j] + v : v;
                    }
                }
            } else {
                for (int j = 0; j < nr; j++) {
                    float v = tile[t + j];
                    if (bias != null) v += bias.getAtIndex(F32, j0 + j);
                    long idx = row + j;
                    cSeg.setAtIndex(F32, idx, acc ? cSeg.getAtIndex(F32, idx) + v : v);
                }
            }
        }
    }
}
