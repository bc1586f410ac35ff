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
 * Causal attention forward and backward, {@code Kernels.attentionForward/Backward} against
 * scalar loops ({@link Naive}). Shape {@code BxNHxTxHS} (GPT-2 multi-head layout), or
 * {@code BxNHxNKVxTxHS} for grouped-query attention with NKV key/value heads
 * ({@code Kernels.attentionForward/Backward(..., NH, NKV, HS)} against {@link Naive#gqaForward});
 * all sequences full length.
 * Work counts the causal half only: forward = 2 matmuls (QKᵀ, PV) = 2·B·NH·T(T+1)·HS flop;
 * backward = 4 matmuls (dV, dP, dQ, dK) = twice that (the recomputation of QKᵀ that a
 * kernel without a T×T buffer also does is not counted).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class AttentionBench {

    @State(Scope.Benchmark)
    public static class Shape {
        @Param({"4x4x128x64", "4x4x256x64", "2x8x2x128x64", "2x8x2x512x64"})
        public String shape;

        int B, NH, NKV, T, HS, C, RW;
        boolean grouped;
        int[] lengths;
        float[] qkv, out, lse, dout, dqkv;
        Arena arena;
        MemorySegment sqkv, sout, slse, sdout, sdqkv, slengths;

        @Setup(Level.Trial)
        public void setUp() {
            String[] p = shape.split("x");
            grouped = p.length == 5;
            if (p.length != 4 && !grouped) throw new IllegalArgumentException("shape BxNHxTxHS or BxNHxNKVxTxHS: " + shape);
            B = Integer.parseInt(p[0]);
            NH = Integer.parseInt(p[1]);
            NKV = grouped ? Integer.parseInt(p[2]) : NH;
            T = Integer.parseInt(p[p.length - 2]);
            HS = Integer.parseInt(p[p.length - 1]);
            C = NH * HS;
            RW = (NH + 2 * NKV) * HS;
            lengths = Data.filled(B, T);
            qkv = Data.uniform(11, B * T * RW, 1f);
            dout = Data.uniform(12, B * T * C, 1f);
            out = new float[B * T * C];
            lse = new float[B * NH * T];
            dqkv = new float[B * T * RW];
            if (grouped) Naive.gqaForward(out, lse, qkv, lengths, B, T, NH, NKV, HS);
            else Naive.attentionForward(out, lse, qkv, lengths, B, T, C, NH);
            arena = Arena.ofShared();
            sqkv = Data.segment(arena, qkv);
            sdout = Data.segment(arena, dout);
            sout = Data.segment(arena, out);   // the forward's results, for the backward
            slse = Data.segment(arena, lse);
            sdqkv = Data.zeros(arena, (long) B * T * RW);
            slengths = Data.segment(arena, lengths);
        }

        double forwardGflop() {
            return 2.0 * B * NH * (double) T * (T + 1) * HS * 1e-9;
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            arena.close();
        }
    }

    /** Separate outputs for the forward benchmarks, so the backward always sees the reference out/lse. */
    @State(Scope.Benchmark)
    public static class FwdOut {
        Arena arena;
        MemorySegment out, lse;
        float[] aout, alse;

        @Setup(Level.Trial)
        public void setUp(Shape s) {
            arena = Arena.ofShared();
            out = Data.zeros(arena, (long) s.B * s.T * s.C);
            lse = Data.zeros(arena, (long) s.B * s.NH * s.T);
            aout = new float[s.B * s.T * s.C];
            alse = new float[s.B * s.NH * s.T];
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            arena.close();
        }
    }

    @Benchmark
    public MemorySegment forward(Backend be, Shape s, FwdOut o, Work.Flops w) {
        if (s.grouped) be.k.attentionForward(o.out, o.lse, s.sqkv, s.slengths, s.B, s.T, s.NH, s.NKV, s.HS);
        else be.k.attentionForward(o.out, o.lse, s.sqkv, s.slengths, s.B, s.T, s.C, s.NH);
        w.gflop += s.forwardGflop();
        return o.out;
    }

    @Benchmark
    public float[] forwardNaive(Shape s, FwdOut o, Work.Flops w) {
        if (s.grouped) Naive.gqaForward(o.aout, o.alse, s.qkv, s.lengths, s.B, s.T, s.NH, s.NKV, s.HS);
        else Naive.attentionForward(o.aout, o.alse, s.qkv, s.lengths, s.B, s.T, s.C, s.NH);
        w.gflop += s.forwardGflop();
        return o.aout;
    }

    @Benchmark
    public MemorySegment backward(Backend be, Shape s, Work.Flops w) {
        if (s.grouped) be.k.attentionBackward(s.sdqkv, s.sdout, s.sqkv, s.sout, s.slse, s.slengths, s.B, s.T, s.NH, s.NKV, s.HS);
        else be.k.attentionBackward(s.sdqkv, s.sdout, s.sqkv, s.sout, s.slse, s.slengths, s.B, s.T, s.C, s.NH);
        w.gflop += 2 * s.forwardGflop();
        return s.sdqkv;
    }

    @Benchmark
    public float[] backwardNaive(Shape s, Work.Flops w) {
        if (s.grouped) Naive.gqaBackward(s.dqkv, s.dout, s.qkv, s.out, s.lse, s.lengths, s.B, s.T, s.NH, s.NKV, s.HS);
        else Naive.attentionBackward(s.dqkv, s.dout, s.qkv, s.out, s.lse, s.lengths, s.B, s.T, s.C, s.NH);
        w.gflop += 2 * s.forwardGflop();
        return s.dqkv;
    }
}
