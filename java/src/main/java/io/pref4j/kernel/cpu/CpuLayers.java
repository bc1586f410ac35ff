package io.pref4j.kernel.cpu;

import java.lang.foreign.MemorySegment;

/** STUB: to be implemented. */
final class CpuLayers {
    CpuLayers(Parallel par) {}

    void add(MemorySegment out, MemorySegment a, MemorySegment b, long n) { throw new UnsupportedOperationException("not implemented"); }
    void accumulate(MemorySegment y, MemorySegment x, long n) { throw new UnsupportedOperationException("not implemented"); }
    void scale(MemorySegment x, long n, float s) { throw new UnsupportedOperationException("not implemented"); }
    void geluForward(MemorySegment out, MemorySegment inp, long n) { throw new UnsupportedOperationException("not implemented"); }
    void geluBackward(MemorySegment dinp, MemorySegment inp, MemorySegment dout, long n) { throw new UnsupportedOperationException("not implemented"); }
    void layerNormForward(MemorySegment out, MemorySegment mean, MemorySegment rstd, MemorySegment inp, MemorySegment weight, MemorySegment bias, int N, int C) { throw new UnsupportedOperationException("not implemented"); }
    void layerNormBackward(MemorySegment dinp, MemorySegment dweight, MemorySegment dbias, MemorySegment dout, MemorySegment inp, MemorySegment weight, MemorySegment mean, MemorySegment rstd, int N, int C) { throw new UnsupportedOperationException("not implemented"); }
    void embeddingForward(MemorySegment out, MemorySegment tokens, MemorySegment wte, MemorySegment wpe, int B, int T, int C) { throw new UnsupportedOperationException("not implemented"); }
    void embeddingBackward(MemorySegment dwte, MemorySegment dwpe, MemorySegment dout, MemorySegment tokens, int B, int T, int C) { throw new UnsupportedOperationException("not implemented"); }
    void gatherRows(MemorySegment out, MemorySegment x, MemorySegment rows, int R, int C) { throw new UnsupportedOperationException("not implemented"); }
    void scatterAddRows(MemorySegment dx, MemorySegment dout, MemorySegment rows, int R, int C) { throw new UnsupportedOperationException("not implemented"); }
    void rowSum(MemorySegment out, MemorySegment x, int rows, int cols) { throw new UnsupportedOperationException("not implemented"); }
    void rowBroadcast(MemorySegment out, MemorySegment x, int rows, int cols) { throw new UnsupportedOperationException("not implemented"); }
}
