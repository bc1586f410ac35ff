package io.pref4j.kernel.cpu;

import java.lang.foreign.MemorySegment;

/** STUB: to be implemented. */
final class CpuOptim {
    CpuOptim(Parallel par) {}

    void adamw(MemorySegment params, MemorySegment grads, MemorySegment m, MemorySegment v, long n, float lr, float beta1, float beta2, float eps, float weightDecay, int step) { throw new UnsupportedOperationException("not implemented"); }
    double sumSquares(MemorySegment x, long n) { throw new UnsupportedOperationException("not implemented"); }
}
