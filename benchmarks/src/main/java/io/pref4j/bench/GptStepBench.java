package io.pref4j.bench;

import org.openjdk.jmh.annotations.AuxCounters;
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

import java.util.concurrent.TimeUnit;

/**
 * Forward + backward of a small GPT-2 ({@link GptStep}: 4 layers, d 256, 4 heads, T 128,
 * batch 8). Score = steps/s; the {@code tokens} counter reads as tokens/s.
 * {@code -p threads=2} sets the backend's threads, {@code -p vocab=8192} a smaller vocabulary
 * (the GPT-2 vocabulary makes the LM head most of the work).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class GptStepBench {

    @State(Scope.Benchmark)
    public static class Model {
        @Param({"1"})
        public int threads;
        @Param({"50257"})
        public int vocab;

        GptStep step;

        @Setup(Level.Trial)
        public void setUp() {
            step = GptStep.defaults(threads > 0 ? threads : Runtime.getRuntime().availableProcessors(), vocab);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            step.close();
        }
    }

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Tokens {
        public double tokens;

        @Setup(Level.Iteration)
        public void reset() {
            tokens = 0;
        }
    }

    @Benchmark
    public double step(Model m, Tokens t) {
        t.tokens += m.step.tokensPerStep();
        return m.step.step();
    }
}
