package io.pref4j.kernel.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Optimiser kernels over flat parameter buffers: AdamW and the sum of squares used for
 * gradient-norm clipping. Both work in fixed blocks of {@link #BLOCK} elements shared out
 * between threads; each block is vectorised.
 */
final class CpuOptim {

    static final int BLOCK = 1 << 14;

    private static final VectorSpecies<Float> S = CpuMatmul.S;
    private static final int L = S.length();
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private final Parallel par;

    CpuOptim(Parallel par) {
        this.par = par;
    }

    private static int blocks(long n) {
        long b = (n + BLOCK - 1) / BLOCK;
        if (b > Integer.MAX_VALUE) throw new IllegalArgumentException("buffer too large: " + n);
        return (int) b;
    }

    /**
     * AdamW with PyTorch's semantics (torch.optim.AdamW, foreach/for-loop path), per element:
     * p ← p·(1 − lr·wd); m ← m + (1−β1)(g − m); v ← β2·v + (1−β2)·g²;
     * p ← p − (lr / (1−β1^step)) · m / (√v / √(1−β2^step) + eps).
     * This equals the Javadoc's p −= lr·(m̂/(√v̂ + eps) + wd·p) with the decay applied to the
     * old p. Bias corrections are computed in double, the update in fp32.
     */
    void adamw(MemorySegment params, MemorySegment grads, MemorySegment m, MemorySegment v, long n,
               float lr, float beta1, float beta2, float eps, float weightDecay, int step) {
        if (n <= 0) return;
        if (step < 1) throw new IllegalArgumentException("adamw: step counts from 1, got " + step);
        final float decay = (float) (1.0 - (double) lr * weightDecay);
        final float stepSize = (float) (lr / (1.0 - Math.pow(beta1, step)));
        final float bc2Sqrt = (float) Math.sqrt(1.0 - Math.pow(beta2, step));
        final float oneMinusB1 = 1f - beta1, oneMinusB2 = 1f - beta2;
        par.range(blocks(n), 4, (s, e) -> {
            long i0 = (long) s * BLOCK, i1 = Math.min(n, (long) e * BLOCK);
            long i = i0, bound = i0 + S.loopBound(i1 - i0);
            for (; i < bound; i += L) {
                long off = i * 4;
                FloatVector p = FloatVector.fromMemorySegment(S, params, off, NATIVE);
                FloatVector g = FloatVector.fromMemorySegment(S, grads, off, NATIVE);
                FloatVector mm = FloatVector.fromMemorySegment(S, m, off, NATIVE);
                FloatVector vv = FloatVector.fromMemorySegment(S, v, off, NATIVE);
                p = p.mul(decay);
                mm = g.sub(mm).fma(FloatVector.broadcast(S, oneMinusB1), mm);
                vv = vv.mul(beta2).add(g.mul(g).mul(oneMinusB2));
                FloatVector denom = vv.sqrt().div(bc2Sqrt).add(eps);
                p = p.sub(mm.div(denom).mul(stepSize));
                p.intoMemorySegment(params, off, NATIVE);
                mm.intoMemorySegment(m, off, NATIVE);
                vv.intoMemorySegment(v, off, NATIVE);
            }
            for (; i < i1; i++) {
                float p = params.getAtIndex(F32, i) * decay, g = grads.getAtIndex(F32, i);
                float mm = m.getAtIndex(F32, i), vv = v.getAtIndex(F32, i);
                mm = Math.fma(g - mm, oneMinusB1, mm);
                vv = vv * beta2 + g * g * oneMinusB2;
                float denom = (float) Math.sqrt(vv) / bc2Sqrt + eps;
                p -= mm / denom * stepSize;
                params.setAtIndex(F32, i, p);
                m.setAtIndex(F32, i, mm);
                v.setAtIndex(F32, i, vv);
            }
        });
    }

    /**
     * Σ x[i]² accumulated in double: each block converts its floats to double and sums the
     * squares with double FMA; block sums are then added in block order, so the result does
     * not depend on the thread count.
     */
    double sumSquares(MemorySegment x, long n) {
        if (n <= 0) return 0;
        int blocks = blocks(n);
        double[] partial = new double[blocks];
        int parts = S.length() / D.length();
        par.range(blocks, 4, (s, e) -> {
            for (int b = s; b < e; b++) {
                long i0 = (long) b * BLOCK, i1 = Math.min(n, i0 + BLOCK);
                long i = i0, bound = i0 + S.loopBound(i1 - i0);
                DoubleVector acc = DoubleVector.zero(D);
                for (; i < bound; i += L) {
                    FloatVector f = FloatVector.fromMemorySegment(S, x, i * 4, NATIVE);
                    for (int p = 0; p < parts; p++) {
                        DoubleVector d = (DoubleVector) f.convertShape(VectorOperators.F2D, D, p);
                        acc = d.fma(d, acc);
                    }
                }
                double sum = VectorMath.sum(acc);
                for (; i < i1; i++) {
                    double d = x.getAtIndex(F32, i);
                    sum += d * d;
                }
                partial[b] = sum;
            }
        });
        double total = 0;
        for (double p : partial) total += p;
        return total;
    }
}
