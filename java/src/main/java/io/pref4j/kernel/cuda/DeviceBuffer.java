package io.pref4j.kernel.cuda;

import java.lang.foreign.MemorySegment;

/**
 * One cudaMalloc'd block of device memory, freed by {@link #close()} (once). Its
 * {@link #segment()} is a {@link MemorySegment} whose address is the device pointer and
 * whose size is the block's: it can be sliced and passed to native calls, but never read
 * or written from Java (that would dereference a device address on the host).
 */
public final class DeviceBuffer implements AutoCloseable {
    private final long ptr;
    private final long bytes;
    private boolean closed;

    private DeviceBuffer(long ptr, long bytes) {
        this.ptr = ptr;
        this.bytes = bytes;
    }

    /** cudaMalloc(bytes) (at least 4 bytes, so that every buffer has a distinct address). */
    public static DeviceBuffer allocate(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("negative buffer size " + bytes);
        long n = Math.max(bytes, 4);
        return new DeviceBuffer(CudaRuntime.malloc(n), bytes);
    }

    /** The device address. */
    public long address() {
        return ptr;
    }

    public long bytes() {
        return bytes;
    }

    /** A segment of {@link #bytes()} bytes at the device address (not host-accessible). */
    public MemorySegment segment() {
        return MemorySegment.ofAddress(ptr).reinterpret(bytes);
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        CudaRuntime.free(ptr);
    }
}
