package io.pref4j.loss;

import io.pref4j.kernel.Kernels;
import io.pref4j.kernel.Kernels.LossOps;

import java.lang.foreign.MemorySegment;

/** A loss's metrics buffer on one backend, allocated on first use and reused. */
final class MetricsBuffer {
    private Kernels owner;
    private MemorySegment buf;
    private final float[] host = new float[LossOps.METRICS];

    MemorySegment on(Kernels k) {
        if (owner != k) {
            buf = k.allocFloats(LossOps.METRICS);
            owner = k;
        }
        return buf;
    }

    /** Reads the buffer back (synchronises); the array is reused by the next call. */
    float[] read(Kernels k) {
        k.read(on(k), host);
        return host;
    }
}
