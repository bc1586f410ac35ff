package io.pref4j.bench;

import io.pref4j.kernel.Kernels;
import io.pref4j.kernel.cpu.CpuKernels;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The pref4j CPU backend. Only pref4j benchmark methods take this state, so the
 * {@code threads} parameter multiplies their runs and not the naive ones
 * ({@code -p threads=1,2}). 0 means all available processors.
 */
@State(Scope.Benchmark)
public class Backend {
    @Param({"1"})
    public int threads;

    public Kernels k;

    @Setup(Level.Trial)
    public void open() {
        k = new CpuKernels(threads > 0 ? threads : Runtime.getRuntime().availableProcessors());
    }

    @TearDown(Level.Trial)
    public void close() {
        k.close();
    }
}
