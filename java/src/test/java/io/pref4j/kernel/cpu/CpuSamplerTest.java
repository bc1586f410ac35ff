package io.pref4j.kernel.cpu;

import io.pref4j.kernel.CounterRng;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * CpuSampler against the algorithm of Kernels.sample: greedy, determinism, top-k and top-p
 * sets on hand-built distributions, empirical frequencies (chi-square), logp.
 */
class CpuSamplerTest {

    private static final float NEG_INF = Float.NEGATIVE_INFINITY;

    /** Samples every row of logits[B, V] (the same row repeated when given one row). */
    private static int[] sample(CpuKernels k, float[] rowLogits, int B, long[] seeds, long counter,
                                float temperature, int topK, float topP, float[] logpOut) {
        int V = rowLogits.length;
        float[] all = new float[B * V];
        for (int b = 0; b < B; b++) System.arraycopy(rowLogits, 0, all, b * V, V);
        MemorySegment lg = k.allocFloats(all.length), sd = k.allocLongs(B), tk = k.allocInts(B);
        MemorySegment lp = logpOut == null ? null : k.allocFloats(B);
        k.write(lg, all);
        k.writeLongs(sd, seeds);
        k.sample(tk, lp, lg, sd, counter, B, V, temperature, topK, topP);
        int[] tokens = new int[B];
        k.readInts(tk, tokens);
        if (logpOut != null) k.read(lp, logpOut);
        return tokens;
    }

    private static long[] seeds(int B, long run) {
        long[] s = new long[B];
        for (int b = 0; b < B; b++) s[b] = CounterRng.rowSeed(run, b);
        return s;
    }

    private static Set<Integer> distinct(int[] t) {
        Set<Integer> s = new HashSet<>();
        for (int x : t) s.add(x);
        return s;
    }

    @Test
    void greedyIsArgmaxWithLowestIndexOnTies() {
        try (CpuKernels k = new CpuKernels(2)) {
            float[] z = {NEG_INF, 1f, 3f, -2f, 3f, 0f};
            int[] t = sample(k, z, 4, seeds(4, 1), 0, 0f, 0, 1f, null);
            for (int x : t) assertEquals(2, x);
            t = sample(k, z, 4, seeds(4, 1), 0, -1f, 5, 0.5f, null); // filters ignored when greedy
            for (int x : t) assertEquals(2, x);
            // top-k = 1 at any temperature is greedy too
            t = sample(k, z, 64, seeds(64, 2), 3, 1.5f, 1, 1f, null);
            for (int x : t) assertEquals(2, x);
        }
    }

    @Test
    void sameSeedSameTokenDifferentCounterDifferentDraw() {
        Random r = new Random(3);
        float[] z = new float[50];
        for (int i = 0; i < z.length; i++) z[i] = (float) r.nextGaussian();
        try (CpuKernels k = new CpuKernels(2)) {
            long[] s = seeds(200, 42);
            int[] a = sample(k, z, 200, s, 7, 1f, 0, 1f, null);
            int[] b = sample(k, z, 200, s, 7, 1f, 0, 1f, null);
            int[] c = sample(k, z, 200, s, 8, 1f, 0, 1f, null);
            assertArrayEquals(a, b);
            int differ = 0;
            for (int i = 0; i < a.length; i++) if (a[i] != c[i]) differ++;
            assertTrue(differ > 100, "a new counter must give new draws, only " + differ + " of 200 differ");
            // The row's seed is what matters, not its position.
            int[] one = sample(k, z, 1, new long[] {s[17]}, 7, 1f, 0, 1f, null);
            assertEquals(a[17], one[0]);
        }
    }

    @Test
    void topKKeepsLargestWithIndexTieBreak() {
        try (CpuKernels k = new CpuKernels(2)) {
            float[] z = {0f, 1f, 3f, 2f, 1f, 3f};
            assertEquals(Set.of(2), distinct(sample(k, z, 2000, seeds(2000, 5), 0, 1f, 1, 1f, null)));
            assertEquals(Set.of(2, 5), distinct(sample(k, z, 2000, seeds(2000, 5), 0, 1f, 2, 1f, null)));
            assertEquals(Set.of(2, 3, 5), distinct(sample(k, z, 2000, seeds(2000, 5), 0, 1f, 3, 1f, null)));
            // Ties on the boundary: three equal values, two places → the two lower indices.
            float[] w = {1f, 3f, 3f, 3f, 0f};
            assertEquals(Set.of(1, 2), distinct(sample(k, w, 2000, seeds(2000, 6), 0, 1f, 2, 1f, null)));
            // topK >= V is no filter: identical draws.
            float[] x = {0.5f, NEG_INF, 2f, 1f};
            long[] s = seeds(500, 9);
            int[] none = sample(k, x, 500, s, 1, 0.8f, 0, 1f, null);
            assertArrayEquals(none, sample(k, x, 500, s, 1, 0.8f, 4, 1f, null));
            assertArrayEquals(none, sample(k, x, 500, s, 1, 0.8f, 100, 1f, null));
            assertFalse(distinct(none).contains(1), "a -inf logit was sampled");
            // k equal to the number of finite logits: the -inf one is still never drawn.
            assertEquals(Set.of(0, 2, 3), distinct(sample(k, x, 2000, seeds(2000, 9), 1, 1f, 3, 1f, null)));
        }
    }

    @Test
    void topPKeepsExactlyTheNucleus() {
        // probabilities 0.05, 0.40, 0.10, 0.30, 0.15 → descending order 1, 3, 4, 2, 0
        float[] z = new float[] {(float) Math.log(0.05), (float) Math.log(0.40), (float) Math.log(0.10),
                                 (float) Math.log(0.30), (float) Math.log(0.15)};
        try (CpuKernels k = new CpuKernels(2)) {
            long[] s = seeds(3000, 11);
            assertEquals(Set.of(1), distinct(sample(k, z, 3000, s, 0, 1f, 0, 1e-6f, null)));
            assertEquals(Set.of(1), distinct(sample(k, z, 3000, s, 0, 1f, 0, 0.39f, null)));
            assertEquals(Set.of(1, 3), distinct(sample(k, z, 3000, s, 0, 1f, 0, 0.69f, null)));
            assertEquals(Set.of(1, 3, 4), distinct(sample(k, z, 3000, s, 0, 1f, 0, 0.71f, null)));
            assertEquals(Set.of(1, 3, 4, 2), distinct(sample(k, z, 3000, s, 0, 1f, 0, 0.9f, null)));
            assertEquals(Set.of(0, 1, 2, 3, 4), distinct(sample(k, z, 3000, s, 0, 1f, 0, 0.99f, null)));
            // top-p after top-k=2: mass of {1,3} renormalised is 0.4/0.7 = 0.571 for token 1
            assertEquals(Set.of(1), distinct(sample(k, z, 3000, s, 0, 1f, 2, 0.55f, null)));
            assertEquals(Set.of(1, 3), distinct(sample(k, z, 3000, s, 0, 1f, 2, 0.6f, null)));
            // Equal probabilities: the lower index comes first in the nucleus.
            float[] eq = {2f, 2f, 1f};
            assertEquals(Set.of(0), distinct(sample(k, eq, 3000, s, 0, 1f, 0, 0.3f, null)));
            // topP = 0 still keeps one token.
            assertEquals(Set.of(1), distinct(sample(k, z, 3000, s, 0, 1f, 0, 0f, null)));
        }
    }

    /** Expected probabilities under the Javadoc's algorithm, computed independently in double. */
    private static double[] expected(float[] z, float temperature, int topK, float topP) {
        int V = z.length;
        double[] s = new double[V];
        double mx = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < V; i++) {
            s[i] = z[i] / temperature;
            mx = Math.max(mx, s[i]);
        }
        Integer[] order = new Integer[V];
        for (int i = 0; i < V; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> s[a] != s[b] ? Double.compare(s[b], s[a]) : Integer.compare(a, b));
        int keep = topK > 0 && topK < V ? topK : V;
        double mass = 0;
        for (int j = 0; j < keep; j++) mass += Math.exp(s[order[j]] - mx);
        if (topP < 1) {
            double cum = 0;
            int c = 0;
            while (c < keep) {
                cum += Math.exp(s[order[c]] - mx);
                c++;
                if (cum >= topP * mass) break;
            }
            keep = c;
        }
        double[] p = new double[V];
        double tot = 0;
        for (int j = 0; j < keep; j++) tot += Math.exp(s[order[j]] - mx);
        for (int j = 0; j < keep; j++) p[order[j]] = Math.exp(s[order[j]] - mx) / tot;
        return p;
    }

    @Test
    void frequenciesMatchFilteredDistribution() {
        Random r = new Random(12);
        float[] z = new float[10];
        for (int i = 0; i < z.length; i++) z[i] = (float) (r.nextGaussian() * 1.5);
        z[7] = NEG_INF;
        int B = 20000;
        float[][] settings = {{1f, 0, 1f}, {0.7f, 0, 1f}, {1.3f, 4, 1f}, {1f, 0, 0.8f}, {0.9f, 6, 0.85f}};
        try (CpuKernels k = new CpuKernels(2)) {
            int run = 0;
            for (float[] st : settings) {
                float temperature = st[0];
                int topK = (int) st[1];
                float topP = st[2];
                int[] t = sample(k, z, B, seeds(B, 100 + run++), 5, temperature, topK, topP, null);
                double[] p = expected(z, temperature, topK, topP);
                int[] counts = new int[z.length];
                for (int x : t) counts[x]++;
                double chi2 = 0;
                int cells = 0;
                for (int i = 0; i < z.length; i++) {
                    if (p[i] == 0) {
                        assertEquals(0, counts[i], "token " + i + " outside the kept set was drawn");
                        continue;
                    }
                    double e = B * p[i];
                    chi2 += (counts[i] - e) * (counts[i] - e) / e;
                    cells++;
                }
                // ≤ 9 degrees of freedom: P(χ² > 40) < 1e-5 for a correct sampler.
                assertTrue(chi2 < 40, "chi2 = " + chi2 + " over " + cells + " cells for " + Arrays.toString(st)
                        + " counts " + Arrays.toString(counts) + " expected " + Arrays.toString(p));
            }
        }
    }

    @Test
    void logpIsUnfilteredUnscaledLogSoftmax() {
        Random r = new Random(13);
        float[] z = new float[300];
        for (int i = 0; i < z.length; i++) z[i] = (float) (r.nextGaussian() * 3);
        z[5] = NEG_INF;
        double m = Double.NEGATIVE_INFINITY, sum = 0;
        for (float x : z) m = Math.max(m, x);
        for (float x : z) sum += Math.exp(x - m);
        double lse = m + Math.log(sum);
        try (CpuKernels k = new CpuKernels(2)) {
            for (float[] st : new float[][] {{0f, 0, 1f}, {0.5f, 10, 0.9f}, {2f, 0, 1f}}) {
                float[] lp = new float[64];
                int[] t = sample(k, z, 64, seeds(64, 77), 0, st[0], (int) st[1], st[2], lp);
                for (int b = 0; b < 64; b++) {
                    assertEquals(z[t[b]] - lse, lp[b], 1e-5 * (1 + Math.abs(z[t[b]] - lse)), "row " + b);
                }
            }
        }
    }

    @Test
    void largeVocabularyTopKAndTopP() {
        // V = 50257: the selection path (no full sort) must still keep exactly the right set.
        Random r = new Random(14);
        int V = 50257, B = 16;
        float[] z = new float[V];
        for (int i = 0; i < V; i++) z[i] = (float) (r.nextGaussian() * 2);
        float[] sorted = z.clone();
        Arrays.sort(sorted);
        try (CpuKernels k = new CpuKernels(2)) {
            int[] t = sample(k, z, B, seeds(B, 15), 0, 1f, 50, 1f, null);
            for (int x : t) assertTrue(z[x] >= sorted[V - 50], "token outside the top 50");
            t = sample(k, z, B, seeds(B, 15), 0, 0.8f, 0, 0.5f, null);
            double[] p = expected(z, 0.8f, 0, 0.5f);
            for (int x : t) assertTrue(p[x] > 0, "token outside the nucleus");
            t = sample(k, z, B, seeds(B, 15), 0, 1f, 0, 1f, null);
            for (int x : t) assertTrue(x >= 0 && x < V);
            t = sample(k, z, B, seeds(B, 15), 0, 0f, 0, 1f, null);
            for (int x : t) assertEquals(sorted[V - 1], z[x]);
        }
    }

    @Test
    void quickselectMatchesSort() {
        Random r = new Random(16);
        for (int it = 0; it < 200; it++) {
            int n = 1 + r.nextInt(300);
            float[] a = new float[n];
            for (int i = 0; i < n; i++) a[i] = r.nextInt(it % 2 == 0 ? 5 : 1000) - (r.nextInt(20) == 0 ? 1e9f : 0);
            float[] s = a.clone();
            Arrays.sort(s);
            int kth = r.nextInt(n);
            assertEquals(s[kth], CpuSampler.kthSmallest(a.clone(), n, kth));
        }
    }
}
