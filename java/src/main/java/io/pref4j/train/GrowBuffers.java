package io.pref4j.train;

import io.pref4j.kernel.Kernels;

import java.lang.foreign.MemorySegment;

/** Device buffers for whole-rollout computations, reallocated only when a rollout is larger than any before. */
final class GrowBuffers {
    private final Kernels k;
    private final MemorySegment[] floats, ints;
    private final long[] floatSize, intSize;

    GrowBuffers(Kernels k, int nFloats, int nInts) {
        this.k = k;
        floats = new MemorySegment[nFloats];
        ints = new MemorySegment[nInts];
        floatSize = new long[nFloats];
        intSize = new long[nInts];
    }

    MemorySegment floats(int slot, long n) {
        if (floatSize[slot] < n) {
            floats[slot] = k.allocFloats(Math.max(n, 2 * floatSize[slot]));
            floatSize[slot] = Math.max(n, 2 * floatSize[slot]);
        }
        return floats[slot];
    }

    MemorySegment ints(int slot, long n) {
        if (intSize[slot] < n) {
            ints[slot] = k.allocInts(Math.max(n, 2 * intSize[slot]));
            intSize[slot] = Math.max(n, 2 * intSize[slot]);
        }
        return ints[slot];
    }
}
