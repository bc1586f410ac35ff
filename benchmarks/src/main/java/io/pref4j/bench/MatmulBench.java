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
 * {@code Kernels.matmul} against the textbook triple loop. Shapes (M×N×K, op(A)op(B)):
 * <ul>
 *   <li>{@code sq256}, {@code sq1024}: square, A·B;</li>
 *   <li>{@code fwd768}, {@code fwd3072}: a GPT linear layer forward at B·T = 1024 rows,
 *       out[1024,N] = inp[1024,768]·W[N,768]ᵀ (N = 768: attention projection; 3072: MLP up);</li>
 *   <li>{@code dinp768}, {@code dinp3072}: its input gradient, dinp[1024,768] = dout[1024,N]·W[N,768];</li>
 *   <li>{@code dw768}, {@code dw3072}: its weight gradient, dW[N,768] += dout[1024,N]ᵀ·inp[1024,768].</li>
 * </ul>
 * Work = 2·M·N·K flop, reported as the {@code gflop} rate (GFLOP/s). The naive loop computes
 * the first {@link #NAIVE_ROWS} rows only (its cost per row does not depend on M).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class MatmulBench {

    static final int NAIVE_ROWS = 128;

    @State(Scope.Benchmark)
    public static class Shape {
        @Param({"sq256", "sq1024", "fwd768", "fwd3072", "dinp768", "dinp3072", "dw768", "dw3072"})
        public String shape;

        int M, N, K, naiveRows;
        boolean transA, transB, accumulate;
        float[] a, b, out;
        Arena arena;
        MemorySegment sa, sb, sout;

        @Setup(Level.Trial)
        public void setUp() {
            switch (shape) {
                case "sq256" -> set(256, 256, 256, false, false, false);
                case "sq1024" -> set(1024, 1024, 1024, false, false, false);
                case "fwd768" -> set(1024, 768, 768, false, true, false);
                case "fwd3072" -> set(1024, 3072, 768, false, true, false);
                case "dinp768" -> set(1024, 768, 768, false, false, false);
                case "dinp3072" -> set(1024, 768, 3072, false, false, false);
                case "dw768" -> set(768, 768, 1024, true, false, true);
                case "dw3072" -> set(3072, 768, 1024, true, false, true);
                default -> throw new IllegalArgumentException("unknown shape " + shape);
            }
            naiveRows = Math.min(M, NAIVE_ROWS);
            a = Data.uniform(1, M * K, 1f);
            b = Data.uniform(2, K * N, 1f);
            out = new float[M * N];
            arena = Arena.ofShared();
            sa = Data.segment(arena, a);
            sb = Data.segment(arena, b);
            sout = Data.zeros(arena, (long) M * N);
        }

        private void set(int m, int n, int k, boolean ta, boolean tb, boolean acc) {
            M = m; N = n; K = k; transA = ta; transB = tb; accumulate = acc;
        }

        double gflop(int rows) {
            return 2.0 * rows * N * K * 1e-9;
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            arena.close();
        }
    }

    @Benchmark
    public MemorySegment matmul(Backend be, Shape s, Work.Flops w) {
        be.k.matmul(s.sout, s.sa, s.sb, null, s.M, s.N, s.K, s.transA, s.transB, s.accumulate);
        w.gflop += s.gflop(s.M);
        return s.sout;
    }

    @Benchmark
    public float[] matmulNaive(Shape s, Work.Flops w) {
        Naive.matmul(s.out, s.a, s.b, s.naiveRows, s.M, s.N, s.K, s.transA, s.transB, s.accumulate);
        w.gflop += s.gflop(s.naiveRows);
        return s.out;
    }
}
