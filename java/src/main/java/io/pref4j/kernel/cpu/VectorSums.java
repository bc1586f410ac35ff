package io.pref4j.kernel.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;

/**
 * Lane sums in a fixed order. {@code reduceLanes(ADD)} leaves the order of the additions
 * unspecified, and the interpreter and the JIT-compiled code do add in different orders, so
 * the same kernel could round differently early and late in a run — which breaks bit-exact
 * resumption. These sums always add lane i and lane i + half, halving until one lane is
 * left: every step is a lane-wise IEEE add, identical wherever the code runs.
 */
final class VectorSums {
    private VectorSums() {}

    static float sum(FloatVector v) {
        FloatVector s = v;
        for (int half = v.length() >> 1; half >= 1; half >>= 1) s = s.add(s.slice(half));
        return s.lane(0);
    }

    static double sum(DoubleVector v) {
        DoubleVector s = v;
        for (int half = v.length() >> 1; half >= 1; half >>= 1) s = s.add(s.slice(half));
        return s.lane(0);
    }
}
