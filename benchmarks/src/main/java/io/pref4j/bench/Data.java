package io.pref4j.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/** Deterministic random inputs, as Java arrays and as native segments holding the same values. */
final class Data {
    private Data() {}

    static float[] uniform(long seed, int n, float scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        return x;
    }

    static int[] ints(long seed, int n, int bound) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] x = new int[n];
        for (int i = 0; i < n; i++) x[i] = r.nextInt(bound);
        return x;
    }

    static int[] filled(int n, int value) {
        int[] x = new int[n];
        java.util.Arrays.fill(x, value);
        return x;
    }

    static MemorySegment segment(Arena arena, float[] x) {
        MemorySegment s = arena.allocate(ValueLayout.JAVA_FLOAT, Math.max(1, x.length));
        MemorySegment.copy(x, 0, s, ValueLayout.JAVA_FLOAT, 0, x.length);
        return s;
    }

    static MemorySegment segment(Arena arena, int[] x) {
        MemorySegment s = arena.allocate(ValueLayout.JAVA_INT, Math.max(1, x.length));
        MemorySegment.copy(x, 0, s, ValueLayout.JAVA_INT, 0, x.length);
        return s;
    }

    static MemorySegment zeros(Arena arena, long n) {
        return arena.allocate(ValueLayout.JAVA_FLOAT, Math.max(1, n)).fill((byte) 0);
    }
}
