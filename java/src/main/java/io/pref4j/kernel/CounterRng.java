package io.pref4j.kernel;

/**
 * Counter-based random numbers: a pure function of (seed, counter), so any backend and any
 * thread reproduce the same stream without shared state. Uses the SplitMix64 finaliser
 * twice. The CUDA kernels implement the identical function.
 */
public final class CounterRng {
    private CounterRng() {}

    /** SplitMix64's 64-bit finaliser. */
    public static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** 64 random bits for (seed, counter). */
    public static long bits(long seed, long counter) {
        long x = mix(seed + 0x9E3779B97F4A7C15L * (counter + 1));
        return mix(x ^ (seed * 0xD1B54A32D192ED03L));
    }

    /** A float in [0, 1) with 24 random bits. */
    public static float uniform(long seed, long counter) {
        return (bits(seed, counter) >>> 40) * 0x1.0p-24f;
    }

    /** A seed for row {@code row} derived from a run seed. */
    public static long rowSeed(long seed, long row) {
        return mix(seed ^ mix(row + 0x632BE59BD9B4E019L));
    }
}
