package io.pref4j.train;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class PairsAndSelectionTest {

    @Test
    void bestVersusWorst() {
        assertEquals(List.of(new Pairs.Pair(2, 1)), Pairs.build(new double[]{0.5, -1, 3, 3}, Pairs.Mode.BEST_WORST, 0));
        assertTrue(Pairs.build(new double[]{1, 1, 1}, Pairs.Mode.BEST_WORST, 0).isEmpty(), "ties give no pair");
        assertTrue(Pairs.build(new double[]{1, 1.1}, Pairs.Mode.BEST_WORST, 0.2).isEmpty(), "below threshold");
        assertTrue(Pairs.build(new double[]{1}, Pairs.Mode.BEST_WORST, 0).isEmpty());
    }

    @Test
    void allPairsAboveThreshold() {
        List<Pairs.Pair> p = Pairs.build(new double[]{0, 1, 0.1, 1}, Pairs.Mode.ALL, 0.2);
        assertEquals(List.of(new Pairs.Pair(1, 0), new Pairs.Pair(1, 2), new Pairs.Pair(3, 0), new Pairs.Pair(3, 2)), p);
        assertEquals(6, Pairs.build(new double[]{0, 1, 2, 3}, Pairs.Mode.ALL, 0).size());
    }

    @Test
    void lowestRankedAreRegeneratedAndNewPromptsAlways() {
        double[] rank = {5, Double.NaN, -2, 7, Double.NEGATIVE_INFINITY, 1};
        // ceil(0.5 * 6) = 3: the new prompt 1, then -inf (4), then -2 (2)
        assertArrayEquals(new int[]{1, 2, 4}, OptuneSelector.select(rank, 0.5, OptuneSelector.Selection.LOWEST, null));
        // ceil(0.7 * 6) = 5: the new prompt, then ranks -inf, -2, 1, 5
        assertArrayEquals(new int[]{0, 1, 2, 4, 5}, OptuneSelector.select(rank, 0.7, OptuneSelector.Selection.LOWEST, null));
        assertArrayEquals(new int[]{0, 1, 2, 3, 4, 5}, OptuneSelector.select(rank, 0.3, OptuneSelector.Selection.ALL, null));
        double[] allNew = {Double.NaN, Double.NaN, Double.NaN};
        assertArrayEquals(new int[]{0, 1, 2}, OptuneSelector.select(allNew, 0.3, OptuneSelector.Selection.LOWEST, null));
    }

    @Test
    void randomSelectionHasTheRightSizeAndVaries() {
        double[] rank = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        SplittableRandom rng = new SplittableRandom(3);
        java.util.Set<String> seen = new java.util.HashSet<>();
        int[] hits = new int[10];
        for (int i = 0; i < 400; i++) {
            int[] s = OptuneSelector.select(rank, 0.3, OptuneSelector.Selection.RANDOM, rng);
            assertEquals(3, s.length);
            assertEquals(3, java.util.Arrays.stream(s).distinct().count());
            seen.add(java.util.Arrays.toString(s));
            for (int x : s) hits[x]++;
        }
        assertTrue(seen.size() > 20, "random selections vary");
        for (int h : hits) assertTrue(h > 60 && h < 180, "each prompt is picked about 120 times of 400: " + h);
    }
}
