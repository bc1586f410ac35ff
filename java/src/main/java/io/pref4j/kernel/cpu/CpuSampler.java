package io.pref4j.kernel.cpu;

import java.lang.foreign.MemorySegment;

/** STUB: to be implemented. */
final class CpuSampler {
    CpuSampler(Parallel par) {}

    void sample(MemorySegment tokens, MemorySegment logp, MemorySegment logits, MemorySegment seeds, long counter, int B, int V, float temperature, int topK, float topP) { throw new UnsupportedOperationException("not implemented"); }
}
