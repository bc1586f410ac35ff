package io.pref4j.kernel.cpu;

import java.lang.foreign.MemorySegment;

/** STUB: to be implemented. */
final class CpuAttention {
    CpuAttention(Parallel par) {}

    void forward(MemorySegment out, MemorySegment lse, MemorySegment qkv, MemorySegment lengths, int B, int T, int C, int NH) { throw new UnsupportedOperationException("not implemented"); }
    void backward(MemorySegment dqkv, MemorySegment dout, MemorySegment qkv, MemorySegment out, MemorySegment lse, MemorySegment lengths, int B, int T, int C, int NH) { throw new UnsupportedOperationException("not implemented"); }
    void kvCacheWrite(MemorySegment kCache, MemorySegment vCache, MemorySegment qkv, int B, int T, int C, int NH, int maxT) { throw new UnsupportedOperationException("not implemented"); }
    void decode(MemorySegment out, MemorySegment qkv, MemorySegment kCache, MemorySegment vCache, MemorySegment positions, int B, int C, int NH, int maxT) { throw new UnsupportedOperationException("not implemented"); }
}
