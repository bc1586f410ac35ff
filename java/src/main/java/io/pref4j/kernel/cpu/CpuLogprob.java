package io.pref4j.kernel.cpu;

import java.lang.foreign.MemorySegment;

/** STUB: to be implemented. */
final class CpuLogprob {
    CpuLogprob(Parallel par, CpuMatmul matmul) {}

    void forward(MemorySegment logp, MemorySegment entropy, MemorySegment lse, MemorySegment hidden, MemorySegment weight, MemorySegment targets, int N, int C, int V) { throw new UnsupportedOperationException("not implemented"); }
    void backward(MemorySegment dhidden, MemorySegment dweight, MemorySegment dlogp, MemorySegment dentropy, MemorySegment hidden, MemorySegment weight, MemorySegment targets, MemorySegment lse, MemorySegment entropy, int N, int C, int V) { throw new UnsupportedOperationException("not implemented"); }
}
