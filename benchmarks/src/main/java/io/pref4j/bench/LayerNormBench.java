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
 * LayerNorm forward and backward over N rows of C channels against scalar loops. Work is
 * the minimum memory traffic in bytes, reported as the {@code gbyte} rate (GB/s):
 * forward reads inp and writes out (8·N·C); backward reads dout, inp and dinp and writes
 * dinp (16·N·C); the per-row statistics and the C-long parameters are not counted.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class LayerNormBench {

    @State(Scope.Benchmark)
    public static class Shape {
        @Param({"1024"})
        public int N;
        @Param({"256", "768"})
        public int C;

        float[] inp, w, b, out, mean, rstd, dout, dinp, dw, db;
        Arena arena;
        MemorySegment sinp, sw, sb, sout, smean, srstd, sdout, sdinp, sdw, sdb;

        @Setup(Level.Trial)
        public void setUp() {
            inp = Data.uniform(21, N * C, 2f);
            w = Data.uniform(22, C, 1f);
            b = Data.uniform(23, C, 1f);
            dout = Data.uniform(24, N * C, 1f);
            out = new float[N * C];
            mean = new float[N];
            rstd = new float[N];
            dinp = new float[N * C];
            dw = new float[C];
            db = new float[C];
            Naive.layerNormForward(out, mean, rstd, inp, w, b, N, C);
            arena = Arena.ofShared();
            sinp = Data.segment(arena, inp);
            sw = Data.segment(arena, w);
            sb = Data.segment(arena, b);
            sdout = Data.segment(arena, dout);
            sout = Data.zeros(arena, (long) N * C);
            smean = Data.segment(arena, mean);
            srstd = Data.segment(arena, rstd);
            sdinp = Data.zeros(arena, (long) N * C);
            sdw = Data.zeros(arena, C);
            sdb = Data.zeros(arena, C);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            arena.close();
        }
    }

    @Benchmark
    public MemorySegment forward(Backend be, Shape s, Work.Bytes w) {
        // mean/rstd are rewritten with the same values, so the backward's inputs stay valid
        be.k.layerNormForward(s.sout, s.smean, s.srstd, s.sinp, s.sw, s.sb, s.N, s.C);
        w.gbyte += 8.0 * s.N * s.C * 1e-9;
        return s.sout;
    }

    @Benchmark
    public float[] forwardNaive(Shape s, Work.Bytes w) {
        Naive.layerNormForward(s.out, s.mean, s.rstd, s.inp, s.w, s.b, s.N, s.C);
        w.gbyte += 8.0 * s.N * s.C * 1e-9;
        return s.out;
    }

    @Benchmark
    public MemorySegment backward(Backend be, Shape s, Work.Bytes w) {
        be.k.layerNormBackward(s.sdinp, s.sdw, s.sdb, s.sdout, s.sinp, s.sw, s.smean, s.srstd, s.N, s.C);
        w.gbyte += 16.0 * s.N * s.C * 1e-9;
        return s.sdinp;
    }

    @Benchmark
    public float[] backwardNaive(Shape s, Work.Bytes w) {
        Naive.layerNormBackward(s.dinp, s.dw, s.db, s.dout, s.inp, s.w, s.mean, s.rstd, s.N, s.C);
        w.gbyte += 16.0 * s.N * s.C * 1e-9;
        return s.dinp;
    }
}
