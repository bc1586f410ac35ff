package io.pref4j.io;

import java.util.Arrays;

/**
 * One tensor of a safetensors file as its header describes it: name, element type, shape
 * and its byte range {@code [begin, end)} relative to the start of the data section (the
 * header's {@code data_offsets}). Immutable: the shape is copied in and out.
 *
 * @param name  tensor name
 * @param dtype element type
 * @param shape dimensions, outermost first; empty for a scalar
 * @param begin first byte, relative to the data section
 * @param end   one past the last byte, relative to the data section
 */
public record TensorInfo(String name, Dtype dtype, long[] shape, long begin, long end) {

    public TensorInfo {
        shape = shape.clone();
    }

    /** A copy of the shape. */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** The shape as ints (every pref4j model dimension fits an int). */
    public int[] shapeInts() {
        int[] s = new int[shape.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = Math.toIntExact(shape[i]);
        }
        return s;
    }

    /** Number of dimensions. */
    public int rank() {
        return shape.length;
    }

    /** Dimension {@code i}. */
    public long dim(int i) {
        return shape[i];
    }

    /** Number of elements (1 for a scalar). */
    public long numel() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** Length of the tensor's data in bytes ({@code end - begin}). */
    public long byteLength() {
        return end - begin;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
        return ((name.hashCode() * 31 + dtype.hashCode()) * 31 + Arrays.hashCode(shape)) * 31
                + Long.hashCode(begin) * 17 + Long.hashCode(end);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " @[" + begin + ", " + end + ")";
    }
}
