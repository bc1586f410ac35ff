package io.pref4j.reward;

import io.pref4j.text.ByteTokenizer;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Length and bandit rewards on hand-computed examples, and the RewardFunction adapter. */
class ProgrammaticRewardTest {

    static Completion resp(int n) {
        return Completion.ofIds(new int[]{1, 2}, new int[n]);
    }

    @Test
    void lengthRewards() {
        List<Completion> b = List.of(resp(0), resp(3), resp(7), resp(12));
        assertArrayEquals(new double[]{0, -3, -7, -12}, LengthRewards.minLength().score(b));
        assertArrayEquals(new double[]{-7, -4, 0, -5}, LengthRewards.modeLength(7).score(b));
        assertArrayEquals(new double[]{-5, -2, -2, -7}, LengthRewards.targetLength(5).score(b));
        assertEquals("min_length", LengthRewards.minLength().name());
        assertEquals("mode_length", LengthRewards.modeLength(1).name());
        assertEquals("target_length", LengthRewards.targetLength(1).name());
    }

    @Test
    void lengthIsTokensWithoutEndOfText() {
        Completion c = Completion.of(ByteTokenizer.INSTANCE, "hi", "héllo"); // é is 2 bytes
        assertEquals(6, c.responseLength());
        assertArrayEquals(new double[]{-6}, LengthRewards.minLength().score(List.of(c)));
        Completion textOnly = new Completion("p", "r", null, null);
        var e = assertThrows(IllegalArgumentException.class, () -> LengthRewards.minLength().score(List.of(textOnly)));
        assertTrue(e.getMessage().contains("token ids"), e.getMessage());
    }

    @Test
    void modeIsMostFrequentSmallestOnTies() {
        assertEquals(4, LengthRewards.mode(new int[]{4, 9, 4, 2, 9, 4}));
        assertEquals(2, LengthRewards.mode(new int[]{9, 2, 9, 2, 5}));
        assertEquals(7, LengthRewards.mode(new int[]{7}));
        assertEquals(3, LengthRewards.mode(List.of(5, 3, 3, 5, 1)));
        assertThrows(IllegalArgumentException.class, () -> LengthRewards.mode(new int[0]));
    }

    @Test
    void banditRewards() {
        assertEquals(1.0, BanditRewards.r1(70), 0);
        assertEquals(1.0, BanditRewards.r2(20), 0);
        assertEquals(Math.exp(-1), BanditRewards.r1(60), 1e-15);
        assertEquals(Math.exp(-1), BanditRewards.r1(80), 1e-15);
        assertEquals(Math.exp(-4), BanditRewards.r2(40), 1e-15);
        assertEquals(Math.exp(-49), BanditRewards.r1(0), 1e-30);
        assertEquals(Math.exp(-0.25), BanditRewards.r2(15), 1e-15);
        assertThrows(IllegalArgumentException.class, () -> BanditRewards.r1(100));
        assertThrows(IllegalArgumentException.class, () -> BanditRewards.r2(-1));
        // sequence form: the mean over the response tokens
        assertEquals((1 + Math.exp(-1) + Math.exp(-4)) / 3, BanditRewards.r1Sequence(new int[]{70, 60, 90}), 1e-15);
        assertEquals((1 + Math.exp(-0.25)) / 2, BanditRewards.r2Sequence(new int[]{20, 25}), 1e-15);
        assertEquals(0, BanditRewards.r1Sequence(new int[0]));
        double[] r = BanditRewards.r1Source().score(List.of(Completion.ofIds(new int[]{3}, new int[]{70}),
                Completion.ofIds(new int[]{3}, new int[]{70, 80})));
        assertArrayEquals(new double[]{1, (1 + Math.exp(-1)) / 2}, r, 1e-15);
        assertEquals("bandit_r2", BanditRewards.r2Source().name());
    }

    @Test
    void anyRewardFunctionIsASource() {
        RewardFunction vowels = c -> c.response().chars().filter(ch -> "aeiou".indexOf(ch) >= 0).count();
        try (RewardSource s = vowels.asSource("vowels")) {
            assertEquals("vowels", s.name());
            assertArrayEquals(new double[]{2, 0, 5}, s.score(List.of(new Completion("x", "hello", null, null),
                    new Completion("x", "xyz", null, null), new Completion("x", "aeiou", null, null))));
            assertArrayEquals(new double[0], s.score(List.of()));
        }
    }
}
