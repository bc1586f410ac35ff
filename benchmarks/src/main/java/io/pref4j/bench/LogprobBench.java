package io.pref4j.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * The fused LM head + log-softmax gather ({@code Kernels.logprobForward/Backward}, no
 * entropy) against the naive full-logits path: scalar matmul into an [N,V] logits array,
 * log-softmax, gather ({@link Naive#logprobForward}); backward through dlogits[N,V].
 * Work counts the model's matmuls: forward 2·N·V·C flop, backward 4·N·V·C (the fused
 * backward also recomputes the logits, which is not counted). For V &gt; 4096 the naive path
 * runs on the first {@link #NAIVE_ROWS_LARGE_V} rows only (its cost per row is constant).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class LogprobBench {

    static final int NAIVE_ROWS_LARGE_V = 16;

    @State(Scope.Benchmark)
    public static class Shape {
        @Param({"1024"})
        public int N;
        @Param({"256"})
        public int C;
        @Param({"512", "50257"})
        public int V;

        int naiveRows;
        float[] hidden, weight, dlogp, logits, logitsFwd, logp, lse, dhidden, dweight;
        int[] targets;
        Arena arena;
        MemorySegment shidden, sweight, stargets, slogp, slse, sdlogp, sdhidden, sdweight;

        @Setup(Level.Trial)
        public void setUp() {
            naiveRows = V > 4096 ? Math.min(N, NAIVE_ROWS_LARGE_V) : N;
            hidden = Data.uniform(31, N * C, 1f);
            weight = Data.uniform(32, V * C, 0.1f);
            targets = Data.ints(33, N, V);
            dlogp = new float[N];
            java.util.Arrays.fill(dlogp, -1f / N);
            logits = new float[naiveRows * V];
            logitsFwd = new float[naiveRows * V];
            logp = new float[N];
            lse = new float[N];
            dhidden = new float[N * C];
            dweight = new float[V * C];
            Naive.logprobForward(logp, lse, logitsFwd, hidden, weight, targets, naiveRows, C, V);
            arena = Arena.ofShared();
            shidden = Data.segment(arena, hidden);
            sweight = Data.segment(arena, weight);
            stargets = Data.segment(arena, targets);
            sdlogp = Data.segment(arena, dlogp);
            slogp = Data.zeros(arena, N);
            slse = Data.zeros(arena, N);
            sdhidden = Data.zeros(arena, (long) N * C);
            sdweight = Data.zeros(arena, (long) V * C);
        }

        double gflop(int rows) {
            return 2.0 * rows * V * C * 1e-9;
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            arena.close();
        }
    }

    /** The pref4j forward's lse, which its backward needs. */
    @State(Scope.Benchmark)
    public static class FusedLse {
        Arena arena;
        MemorySegment lse, logp;

        @Setup(Level.Trial)
        public void setUp(Backend be, Shape s) {
            arena = Arena.ofShared();
            lse = Data.zeros(arena, s.N);
            logp = Data.zeros(arena, s.N);
            be.k.logprobForward(logp, null, lse, s.shidden, s.sweight, s.stargets, s.N, s.C, s.V);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            arena.close();
        }
    }

    @Benchmark
    public MemorySegment forward(Backend be, Shape s, Work.Flops w) {
        be.k.logprobForward(s.slogp, null, s.slse, s.shidden, s.sweight, s.stargets, s.N, s.C, s.V);
        w.gflop += s.gflop(s.N);
        return s.slogp;
    }

    @Benchmark
    public float[] forwardNaive(Shape s, Work.Flops w) {
        Naive.logprobForward(s.logp, s.lse, s.logits, s.hidden, s.weight, s.targets, s.naiveRows, s.C, s.V);
        w.gflop += s.gflop(s.naiveRows);
        return s.logp;
    }

    @Benchmark
    public MemorySegment backward(Backend be, Shape s, FusedLse f, Work.Flops w) {
        be.k.logprobBackward(s.sdhidden, s.sdweight, s.sdlogp, null, s.shidden, s.sweight, s.stargets,
                f.lse, null, s.N, s.C, s.V);
        w.gflop += 2 * s.gflop(s.N);
        return s.sdhidden;
    }

    @Benchmark
    public float[] backwardNaive(Shape s, Work.Flops w) {
        System.arraycopy(s.logitsFwd, 0, s.logits, 0, s.logits.length);
        Naive.logprobBackward(s.dhidden, s.dweight, s.dlogp, s.hidden, s.weight, s.targets, s.logits, s.lse,
                s.naiveRows, s.C, s.V);
        w.gflop += 2 * s.gflop(s.naiveRows);
        return s.dhidden;
    }
}
