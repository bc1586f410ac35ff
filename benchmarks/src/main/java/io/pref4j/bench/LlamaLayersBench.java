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
 * The Llama-family row kernels against scalar loops ({@link Naive}) over N rows of C
 * channels: RMSNorm [N,C]; SwiGLU with I = C ([N,2C] → [N,C]); RoPE on the fused
 * qkv[N,(NH+2·NKV)·HS] of one sequence of N positions with HS = 64, NH = C/64, NKV = NH/4
 * (at least 1). Work is the minimum memory traffic in bytes, reported as the {@code gbyte}
 * rate (GB/s): RMSNorm forward reads inp and writes out (8·N·C), backward reads dout, inp,
 * dinp and writes dinp (16·N·C); SwiGLU forward reads 2C and writes C per row (12·N·C),
 * backward reads 3C and writes 2C (20·N·C); RoPE reads and writes the q and k heads
 * (8·N·(NH+NKV)·HS). Per-row statistics, parameters and the cos/sin tables are not counted.
 * RoPE rotates its buffer in place, so repeated calls keep rotating (the values stay
 * bounded: a rotation preserves norms up to rounding).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class LlamaLayersBench {

    private static final float EPS = 1e-6f;
    private static final int HS = 64;

    @State(Scope.Benchmark)
    public static class Shape {
        @Param({"1024"})
        public int N;
        @Param({"768", "2048"})
        public int C;

        int NH, NKV, RW;
        float[] inp, w, out, rstd, dout, dinp, dw, gu, act, dgu, qkv, cos, sin;
        Arena arena;
        MemorySegment sinp, sw, sout, srstd, sdout, sdinp, sdw, sgu, sact, sdgu, sqkv, scos, ssin;

        @Setup(Level.Trial)
        public void setUp() {
            if (C % HS != 0) throw new IllegalArgumentException("C must be a multiple of " + HS + ": " + C);
            NH = C / HS;
            NKV = Math.max(1, NH / 4);
            RW = (NH + 2 * NKV) * HS;
            inp = Data.uniform(31, N * C, 2f);
            w = Data.uniform(32, C, 1f);
            dout = Data.uniform(33, N * C, 1f);
            out = new float[N * C];
            rstd = new float[N];
            dinp = new float[N * C];
            dw = new float[C];
            Naive.rmsNormForward(out, rstd, inp, w, N, C, EPS);
            gu = Data.uniform(34, N * 2 * C, 4f);
            act = new float[N * C];
            dgu = new float[N * 2 * C];
            qkv = Data.uniform(35, N * RW, 1f);
            int half = HS / 2;
            cos = new float[N * half];
            sin = new float[N * half];
            for (int p = 0; p < N; p++)
                for (int i = 0; i < half; i++) {
                    double a = p * Math.pow(10000, -2.0 * i / HS);
                    cos[p * half + i] = (float) Math.cos(a);
                    sin[p * half + i] = (float) Math.sin(a);
                }
            arena = Arena.ofShared();
            sinp = Data.segment(arena, inp);
            sw = Data.segment(arena, w);
            sdout = Data.segment(arena, dout);
            sout = Data.zeros(arena, (long) N * C);
            srstd = Data.segment(arena, rstd);
            sdinp = Data.zeros(arena, (long) N * C);
            sdw = Data.zeros(arena, C);
            sgu = Data.segment(arena, gu);
            sact = Data.zeros(arena, (long) N * C);
            sdgu = Data.zeros(arena, (long) N * 2 * C);
            sqkv = Data.segment(arena, qkv);
            scos = Data.segment(arena, cos);
            ssin = Data.segment(arena, sin);
        }

        double ropeGbyte() {
            return 8.0 * N * (NH + NKV) * HS * 1e-9;
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            arena.close();
        }
    }

    // ---------------------------------------------------------------- RMSNorm

    @Benchmark
    public MemorySegment rmsNormForward(Backend be, Shape s, Work.Bytes w) {
        // rstd is rewritten with the same values, so the backward's inputs stay valid
        be.k.rmsNormForward(s.sout, s.srstd, s.sinp, s.sw, s.N, s.C, EPS);
        w.gbyte += 8.0 * s.N * s.C * 1e-9;
        return s.sout;
    }

    @Benchmark
    public float[] rmsNormForwardNaive(Shape s, Work.Bytes w) {
        Naive.rmsNormForward(s.out, s.rstd, s.inp, s.w, s.N, s.C, EPS);
        w.gbyte += 8.0 * s.N * s.C * 1e-9;
        return s.out;
    }

    @Benchmark
    public MemorySegment rmsNormBackward(Backend be, Shape s, Work.Bytes w) {
        be.k.rmsNormBackward(s.sdinp, s.sdw, s.sdout, s.sinp, s.sw, s.srstd, s.N, s.C);
        w.gbyte += 16.0 * s.N * s.C * 1e-9;
        return s.sdinp;
    }

    @Benchmark
    public float[] rmsNormBackwardNaive(Shape s, Work.Bytes w) {
        Naive.rmsNormBackward(s.dinp, s.dw, s.dout, s.inp, s.w, s.rstd, s.N, s.C);
        w.gbyte += 16.0 * s.N * s.C * 1e-9;
        return s.dinp;
    }

    // ---------------------------------------------------------------- SwiGLU

    @Benchmark
    public MemorySegment swigluForward(Backend be, Shape s, Work.Bytes w) {
        be.k.swigluForward(s.sact, s.sgu, s.N, s.C);
        w.gbyte += 12.0 * s.N * s.C * 1e-9;
        return s.sact;
    }

    @Benchmark
    public float[] swigluForwardNaive(Shape s, Work.Bytes w) {
        Naive.swigluForward(s.act, s.gu, s.N, s.C);
        w.gbyte += 12.0 * s.N * s.C * 1e-9;
        return s.act;
    }

    @Benchmark
    public MemorySegment swigluBackward(Backend be, Shape s, Work.Bytes w) {
        be.k.swigluBackward(s.sdgu, s.sdout, s.sgu, s.N, s.C);
        w.gbyte += 20.0 * s.N * s.C * 1e-9;
        return s.sdgu;
    }

    @Benchmark
    public float[] swigluBackwardNaive(Shape s, Work.Bytes w) {
        Naive.swigluBackward(s.dgu, s.dout, s.gu, s.N, s.C);
        w.gbyte += 20.0 * s.N * s.C * 1e-9;
        return s.dgu;
    }

    // ---------------------------------------------------------------- RoPE

    @Benchmark
    public MemorySegment ropeForward(Backend be, Shape s, Work.Bytes w) {
        be.k.ropeForward(s.sqkv, s.scos, s.ssin, null, 1, s.N, s.NH, s.NKV, HS);
        w.gbyte += s.ropeGbyte();
        return s.sqkv;
    }

    @Benchmark
    public float[] ropeForwardNaive(Shape s, Work.Bytes w) {
        Naive.rope(s.qkv, s.cos, s.sin, 1, s.N, s.NH, s.NKV, HS, false);
        w.gbyte += s.ropeGbyte();
        return s.qkv;
    }

    @Benchmark
    public MemorySegment ropeBackward(Backend be, Shape s, Work.Bytes w) {
        be.k.ropeBackward(s.sqkv, s.scos, s.ssin, null, 1, s.N, s.NH, s.NKV, HS);
        w.gbyte += s.ropeGbyte();
        return s.sqkv;
    }

    @Benchmark
    public float[] ropeBackwardNaive(Shape s, Work.Bytes w) {
        Naive.rope(s.qkv, s.cos, s.sin, 1, s.N, s.NH, s.NKV, HS, true);
        w.gbyte += s.ropeGbyte();
        return s.qkv;
    }
}
