package io.pref4j.kernel.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * Vector arithmetic with the same result wherever the code runs (interpreter or JIT).
 *
 * <p>Lane sums in a fixed order. {@code reduceLanes(ADD)} leaves the order of the additions
 * unspecified, and the interpreter and the JIT-compiled code do add in different orders, so
 * the same kernel could round differently early and late in a run — which breaks bit-exact
 * resumption. These sums add lane i and lane i xor h for h = half the lanes down to 1 (a
 * fixed butterfly of lane-wise IEEE adds), identical wherever the code runs and as fast as
 * reduceLanes where rearrange is intrinsified.
 */
final class VectorMath {
    private VectorMath() {}

    private static final jdk.incubator.vector.VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final jdk.incubator.vector.VectorSpecies<Double> DS = DoubleVector.SPECIES_PREFERRED;
    /** Swap shuffles i ↦ i xor h for h = length/2, …, 1 (intrinsified, unlike slice). */
    @SuppressWarnings("unchecked")
    private static final jdk.incubator.vector.VectorShuffle<Float>[] FSWAP = swaps(FS);
    @SuppressWarnings("unchecked")
    private static final jdk.incubator.vector.VectorShuffle<Double>[] DSWAP = swaps(DS);

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static <E> jdk.incubator.vector.VectorShuffle<E>[] swaps(jdk.incubator.vector.VectorSpecies<E> sp) {
        int n = Integer.numberOfTrailingZeros(sp.length());
        jdk.incubator.vector.VectorShuffle[] out = new jdk.incubator.vector.VectorShuffle[n];
        for (int k = 0; k < n; k++) {
            int h = sp.length() >> (k + 1);
            out[k] = jdk.incubator.vector.VectorShuffle.fromOp(sp, i -> i ^ h);
        }
        return out;
    }

    /** Σ lanes: lane i plus lane i xor h for h = length/2 … 1, then lane 0. */
    static float sum(FloatVector v) {
        FloatVector s = v;
        if (v.species() == FS) {
            for (var sh : FSWAP) s = s.add(s.rearrange(sh));
        } else {
            for (int half = v.length() >> 1; half >= 1; half >>= 1) s = s.add(s.slice(half));
        }
        return s.lane(0);
    }

    static double sum(DoubleVector v) {
        DoubleVector s = v;
        if (v.species() == DS) {
            for (var sh : DSWAP) s = s.add(s.rearrange(sh));
        } else {
            for (int half = v.length() >> 1; half >= 1; half >>= 1) s = s.add(s.slice(half));
        }
        return s.lane(0);
    }


    private static final float EXP_LO = -87.33654f, EXP_HI = 88.0f;
    private static final float LOG2E = 1.44269504088896341f, ROUND = 12582912f; // 1.5·2²³
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;

    /**
     * exp(x) per lane, Cephes-style: x = n·ln2 + r with |r| ≤ ln2/2, exp(r) by a degree-7
     * polynomial (relative error ≈ 1–2 ulp), times 2ⁿ built in the exponent bits. Lanes
     * below −87.34 (including −∞) give 0; lanes above 88 are clamped to exp(88).
     * (The Vector API's own EXP is not intrinsified on every JDK/CPU and is then ~10× slower;
     * worse, its compiled and interpreted forms round differently, so a kernel would not
     * compute the same function before and after the JIT. This one is plain lane-wise
     * arithmetic: the same bits wherever it runs.)
     */
    static FloatVector exp(FloatVector x) {
        VectorMask<Float> under = x.lt(EXP_LO);
        x = x.max(EXP_LO).min(EXP_HI);
        FloatVector t = x.fma(LOG2E, ROUND);           // round(x·log2e) in the low mantissa bits
        FloatVector n = t.sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(x.species(), -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(x.species(), -LN2_LO), r);
        FloatVector p = r.fma(1.9875691500E-4f, 1.3981999507E-3f);
        p = p.fma(r, FloatVector.broadcast(x.species(), 8.3334519073E-3f));
        p = p.fma(r, FloatVector.broadcast(x.species(), 4.1665795894E-2f));
        p = p.fma(r, FloatVector.broadcast(x.species(), 1.6666665459E-1f));
        p = p.fma(r, FloatVector.broadcast(x.species(), 5.0000001201E-1f));
        p = p.fma(r.mul(r), r).add(1f);
        IntVector bits = t.reinterpretAsInts().sub(Float.floatToRawIntBits(ROUND)).add(127)
                .lanewise(VectorOperators.LSHL, 23);
        return p.mul(bits.reinterpretAsFloats()).blend(0f, under);
    }
}
