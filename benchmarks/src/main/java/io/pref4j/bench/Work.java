package io.pref4j.bench;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Work counters reported by JMH beside the primary score. A benchmark adds the work of one
 * invocation (in units of 1e9) to one field; JMH reports the field as a rate, so the
 * secondary metric {@code gflop} reads as GFLOP/s and {@code gbyte} as GB/s. Ratios between
 * a pref4j kernel and its naive counterpart are taken from these rates (the naive loops of
 * some large shapes run on a subset of rows, so their ops/s are not comparable).
 */
public final class Work {
    private Work() {}

    /** Floating-point work: {@code gflop} is reported as GFLOP/s. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Flops {
        public double gflop;

        @Setup(Level.Iteration)
        public void reset() {
            gflop = 0;
        }
    }

    /** Memory traffic: {@code gbyte} is reported as GB/s. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Bytes {
        public double gbyte;

        @Setup(Level.Iteration)
        public void reset() {
            gbyte = 0;
        }
    }
}
