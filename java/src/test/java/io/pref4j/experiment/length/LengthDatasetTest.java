package io.pref4j.experiment.length;

import io.pref4j.text.ByteTokenizer;
import io.pref4j.train.Engine;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class LengthDatasetTest {

    static final Engine.Prompt P = new Engine.Prompt("list fruits:", ByteTokenizer.INSTANCE.encode("list fruits:"));

    static int[] ids(int n, int start) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = start + i;
        return a;
    }

    @Test
    void minLengthPrefersTheShorterResponse() {
        int[] shortR = ids(5, 10), longR = ids(9, 40);
        LengthTasks.Pair p = LengthTasks.relabel(LengthTasks.Task.MIN, P, longR, shortR, 0);
        assertSame(shortR, p.chosen());
        assertSame(longR, p.rejected());
        p = LengthTasks.relabel(LengthTasks.Task.MIN, P, shortR, longR, 0);
        assertSame(shortR, p.chosen());
        assertNull(LengthTasks.relabel(LengthTasks.Task.MIN, P, ids(5, 0), ids(5, 9), 0), "equal lengths: no preference");
    }

    @Test
    void modeLengthPrefersTheResponseCloserToTheMode() {
        int[] atMode = ids(17, 0), tooShort = ids(4, 0), tooLong = ids(25, 0);
        assertSame(atMode, LengthTasks.relabel(LengthTasks.Task.MODE, P, tooShort, atMode, 17).chosen());
        assertSame(atMode, LengthTasks.relabel(LengthTasks.Task.MODE, P, atMode, tooLong, 17).chosen());
        // 20 is 3 from the mode, 12 is 5 from it: the longer response wins here
        int[] l20 = ids(20, 0), l12 = ids(12, 0);
        assertSame(l20, LengthTasks.relabel(LengthTasks.Task.MODE, P, l12, l20, 17).chosen());
        assertNull(LengthTasks.relabel(LengthTasks.Task.MODE, P, ids(14, 0), ids(20, 0), 17), "equally far from the mode");
        assertEquals(-3, LengthTasks.Task.MODE.gold(20, 17));
        assertEquals(-20, LengthTasks.Task.MIN.gold(20, 17));
        assertEquals(-20, LengthTasks.Task.SKEW.gold(20, 17));
    }

    @Test
    void truncationKeepsAPrefixOfTheRequestedFraction() {
        int[] a = ids(20, 100);
        int[] t = LengthTasks.truncate(a, 0.25);
        assertEquals(5, t.length);
        assertArrayEquals(Arrays.copyOf(a, 5), t);
        assertEquals(1, LengthTasks.truncate(ids(3, 0), 0.1).length, "at least one token");
        assertEquals(0, LengthTasks.truncate(new int[0], 0.5).length);
        assertArrayEquals(a, LengthTasks.truncate(a, 1.0));
        assertThrows(IllegalArgumentException.class, () -> LengthTasks.truncate(a, 0));
        assertThrows(IllegalArgumentException.class, () -> LengthTasks.truncate(a, 1.5));
    }

    /** π_ref-like samples: lengths 5..45 around 20. */
    static List<LengthTasks.Sampled> samples(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<LengthTasks.Sampled> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int la = 5 + r.nextInt(15) + r.nextInt(15) + r.nextInt(12), lb = 5 + r.nextInt(15) + r.nextInt(15) + r.nextInt(12);
            out.add(new LengthTasks.Sampled(P, r.ints(la, 0, 256).toArray(), r.ints(lb, 0, 256).toArray()));
        }
        return out;
    }

    @Test
    void skewDatasetTruncatesEveryResponseThenLabelsByLength() {
        List<LengthTasks.Sampled> s = samples(400, 3);
        List<LengthTasks.Pair> skew = LengthTasks.dataset(LengthTasks.Task.SKEW, s, 17, 9);
        List<LengthTasks.Pair> min = LengthTasks.dataset(LengthTasks.Task.MIN, s, 17, 9);
        assertFalse(skew.isEmpty());
        List<int[]> originals = new ArrayList<>();
        for (LengthTasks.Sampled x : s) {
            originals.add(x.a());
            originals.add(x.b());
        }
        for (LengthTasks.Pair p : skew) {
            assertTrue(p.chosen().length < p.rejected().length, "shorter preferred");
            for (int[] r : List.of(p.chosen(), p.rejected())) {
                boolean truncatedPrefix = false;
                for (int[] o : originals) {
                    int lo = Math.max(1, (int) Math.round(LengthTasks.SKEW_LO * o.length));
                    int hi = Math.max(1, (int) Math.round(LengthTasks.SKEW_HI * o.length));
                    if (r.length >= lo && r.length <= hi && r.length < o.length
                            && Arrays.equals(r, Arrays.copyOf(o, r.length))) truncatedPrefix = true;
                }
                assertTrue(truncatedPrefix, "every Skew response is a 15-35% prefix of a π_ref response: " + Arrays.toString(r));
            }
        }
        for (LengthTasks.Pair p : min) assertTrue(p.chosen().length < p.rejected().length);
        int[] ref = LengthTasks.lengths(s);
        double overlapMin = LengthTasks.overlap(ref, LengthTasks.pairLengths(min));
        double overlapSkew = LengthTasks.overlap(ref, LengthTasks.pairLengths(skew));
        assertTrue(overlapMin > 0.9, "Min Length data are π_ref samples: " + overlapMin);
        assertTrue(overlapSkew < 0.3, "Skew Length data barely overlap π_ref: " + overlapSkew);
        // deterministic in the seed
        List<LengthTasks.Pair> again = LengthTasks.dataset(LengthTasks.Task.SKEW, s, 17, 9);
        assertEquals(skew.size(), again.size());
        for (int i = 0; i < skew.size(); i++) assertArrayEquals(skew.get(i).chosen(), again.get(i).chosen());
    }

    @Test
    void overlapCoefficient() {
        assertEquals(1.0, LengthTasks.overlap(new int[]{1, 2, 3}, new int[]{3, 2, 1}), 1e-12);
        assertEquals(0.0, LengthTasks.overlap(new int[]{1, 2}, new int[]{5, 6}), 1e-12);
        assertEquals(0.5, LengthTasks.overlap(new int[]{1, 2}, new int[]{2, 7}), 1e-12);
    }

    @Test
    void corpusHoldsOutOnePromptPerVerbAndCategoryWithAUnimodalLength() {
        List<String> all = LengthCorpus.allPrompts(), train = LengthCorpus.trainPrompts(), held = LengthCorpus.heldOutPrompts();
        assertEquals(16, all.size());
        assertEquals(12, train.size());
        assertEquals(4, held.size());
        for (String h : held) assertFalse(train.contains(h));
        java.util.Set<String> union = new HashSet<>(train);
        union.addAll(held);
        assertEquals(new HashSet<>(all), union);
        int[] counts = new int[12];
        for (LengthCorpus.Doc d : LengthCorpus.generate(4000, 5)) {
            assertTrue(all.contains(d.prompt()));
            assertTrue(d.response().startsWith(" ") && d.response().endsWith("."));
            counts[d.response().strip().split(" ").length]++;
        }
        int mode = 0;
        for (int i = 1; i < counts.length; i++) if (counts[i] > counts[mode]) mode = i;
        assertEquals(4, mode, "1 + Binomial(8, 0.4) items has mode 4");
        for (int i = 1; i < mode; i++) assertTrue(counts[i] < counts[i + 1], "rising to the mode");
        for (int i = mode; i < 9; i++) assertTrue(counts[i] > counts[i + 1], "falling after the mode");
        assertEquals(LengthCorpus.generate(50, 5), LengthCorpus.generate(50, 5), "deterministic in the seed");
    }

    @Test
    void taskNames() {
        assertEquals(LengthTasks.Task.SKEW, LengthTasks.Task.of("skew"));
        assertEquals(LengthTasks.Task.MIN, LengthTasks.Task.of("MIN"));
        assertThrows(io.pref4j.UserInputException.class, () -> LengthTasks.Task.of("max"));
    }
}
