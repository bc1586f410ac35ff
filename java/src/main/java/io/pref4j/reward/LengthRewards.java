package io.pref4j.reward;

import java.util.Collection;

/**
 * The length rewards of the length tasks (SPEC §4, §6.3), on the response length in tokens
 * ({@link Completion#responseLength()}, end-of-text excluded):
 * <ul>
 *   <li>{@code min_length}: r = −len(y);</li>
 *   <li>{@code mode_length}: r = −|len(y) − mode|, mode = the most frequent response length
 *       of the reference policy ({@link #mode} computes it from sampled lengths);</li>
 *   <li>{@code target_length}: r = −|len(y) − target|.</li>
 * </ul>
 */
public final class LengthRewards {
    private LengthRewards() {
    }

    /** r = −len(y). */
    public static RewardSource minLength() {
        return RewardFunction.of("min_length", c -> -c.responseLength());
    }

    /** r = −|len(y) − mode|. */
    public static RewardSource modeLength(int mode) {
        if (mode < 0) throw new IllegalArgumentException("mode must be >= 0, got " + mode);
        return RewardFunction.of("mode_length", c -> -Math.abs(c.responseLength() - mode));
    }

    /** r = −|len(y) − target|. */
    public static RewardSource targetLength(int target) {
        if (target < 0) throw new IllegalArgumentException("target must be >= 0, got " + target);
        return RewardFunction.of("target_length", c -> -Math.abs(c.responseLength() - target));
    }

    /** The most frequent value; the smallest of them on ties. */
    public static int mode(int[] lengths) {
        if (lengths.length == 0) throw new IllegalArgumentException("the mode of no lengths is undefined");
        int[] sorted = lengths.clone();
        java.util.Arrays.sort(sorted);
        int best = sorted[0], bestCount = 0;
        for (int i = 0; i < sorted.length; ) {
            int j = i;
            while (j < sorted.length && sorted[j] == sorted[i]) j++;
            if (j - i > bestCount) { // strictly more: an earlier (smaller) value keeps ties
                best = sorted[i];
                bestCount = j - i;
            }
            i = j;
        }
        return best;
    }

    /** {@link #mode(int[])} of a collection. */
    public static int mode(Collection<Integer> lengths) {
        return mode(lengths.stream().mapToInt(Integer::intValue).toArray());
    }
}
