package io.pref4j.kernel.cpu;

import io.pref4j.kernel.Kernels;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Buffers and comparisons the CPU kernel tests share. */
final class KernelTestSupport {
    private KernelTestSupport() {}

    static float[] rand(Random r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextGaussian() * scale);
        return a;
    }

    /** A buffer of k holding a (at least one element). */
    static MemorySegment seg(Kernels k, float[] a) {
        MemorySegment m = k.allocFloats(Math.max(1, a.length));
        k.write(m, a);
        return m;
    }

    static MemorySegment segI(Kernels k, int[] a) {
        MemorySegment m = k.allocInts(Math.max(1, a.length));
        k.writeInts(m, a);
        return m;
    }

    static float[] get(Kernels k, MemorySegment m, int n) {
        float[] a = new float[n];
        k.read(m, a);
        return a;
    }

    /** |a − e| ≤ atol + rtol·|e| elementwise. */
    static void close(double[] expect, float[] got, double atol, double rtol, String what) {
        assertEquals(expect.length, got.length, what + ": length");
        for (int i = 0; i < expect.length; i++) {
            double err = Math.abs(got[i] - expect[i]);
            if (!(err <= atol + rtol * Math.abs(expect[i])))
                fail(what + "[" + i + "]: expected " + expect[i] + " got " + got[i]);
        }
    }

    /** Σ w·out in double: the scalar loss of the finite-difference checks. */
    static double sumW(float[] w, float[] out) {
        double s = 0;
        for (int i = 0; i < w.length; i++) s += (double) w[i] * out[i];
        return s;
    }
}
