package io.pref4j.kernel.cpu;

import java.lang.foreign.MemorySegment;

/** STUB: to be implemented. */
final class CpuMatmul {
    CpuMatmul(Parallel par) {}

    void matmul(MemorySegment out, MemorySegment a, MemorySegment b, MemorySegment bias, int M, int N, int K, boolean transA, boolean transB, boolean accumulate) { throw new UnsupportedOperationException("not implemented"); }
    void matmulBatched(MemorySegment out, MemorySegment a, MemorySegment b, int batch, long strideOut, long strideA, long strideB, int M, int N, int K, boolean transA, boolean transB, boolean accumulate) { throw new UnsupportedOperationException("not implemented"); }
    void biasBackward(MemorySegment dbias, MemorySegment dout, int M, int N) { throw new UnsupportedOperationException("not implemented"); }
}
