package io.pref4j.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;

import java.util.concurrent.TimeUnit;

/**
 * The machine's fp32 FMA peak as Java's Vector API reaches it: {@value #CHAINS} independent
 * FMA chains on {@code FloatVector.SPECIES_PREFERRED} kept in registers (enough to cover
 * the FMA latency × the FMA ports of current x86 and ARM cores), no memory traffic.
 * {@code peak1} runs one thread, {@code peakAll} one per available processor; the
 * {@code gflop} rate is the peak in GFLOP/s that docs/benchmarks.md divides matmul rates by.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class FmaPeakBench {

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int CHAINS = 10;
    static final int ITERS = 1 << 16;

    @State(Scope.Thread)
    public static class Regs {
        float x = 0.999999f, y = 1e-7f, init = 0.5f;
    }

    static float chains(Regs r) {
        FloatVector x = FloatVector.broadcast(S, r.x), y = FloatVector.broadcast(S, r.y);
        FloatVector a0 = FloatVector.broadcast(S, r.init), a1 = a0.add(1), a2 = a0.add(2), a3 = a0.add(3),
                a4 = a0.add(4), a5 = a0.add(5), a6 = a0.add(6), a7 = a0.add(7), a8 = a0.add(8), a9 = a0.add(9);
        for (int i = 0; i < ITERS; i++) {
            a0 = a0.fma(x, y); a1 = a1.fma(x, y); a2 = a2.fma(x, y); a3 = a3.fma(x, y); a4 = a4.fma(x, y);
            a5 = a5.fma(x, y); a6 = a6.fma(x, y); a7 = a7.fma(x, y); a8 = a8.fma(x, y); a9 = a9.fma(x, y);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9)
                .reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    static double gflopPerCall() {
        return 2.0 * ITERS * CHAINS * S.length() * 1e-9;
    }

    @Benchmark
    @Threads(1)
    public float peak1(Regs r, Work.Flops w) {
        w.gflop += gflopPerCall();
        return chains(r);
    }

    @Benchmark
    @Threads(Threads.MAX)
    public float peakAll(Regs r, Work.Flops w) {
        w.gflop += gflopPerCall();
        return chains(r);
    }
}
