package io.pref4j.experiment.bandit;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RefPolicyTest {

    @Test
    void expectationsMatchTheSpecOverSeveralSeeds() {
        // SPEC 6.1: E_ref[R1] ≈ 0.04, E_ref[R2] ≈ 0.38 (a histogram of 10,000 samples varies by ~0.01)
        for (long seed = 0; seed < 5; seed++) {
            RefPolicy ref = RefPolicy.histogram(seed);
            assertEquals(0.04, ref.expectation(Reward.R1::of), 0.01, "E_ref[R1], seed " + seed);
            assertEquals(0.38, ref.expectation(Reward.R2::of), 0.02, "E_ref[R2], seed " + seed);
        }
    }

    @Test
    void isANormalisedHistogramWithMuchMassNearBin20AndLittleNearBin70() {
        RefPolicy ref = RefPolicy.histogram(1);
        double s = 0;
        int mode = 1;
        for (int a = 0; a < ref.actions(); a++) {
            assertTrue(ref.prob(a) > 0, "bin " + a);
            assertEquals(Math.log(ref.prob(a)), ref.logProb(a), 1e-12);
            s += ref.prob(a);
            // the end bins collect the Cauchy tails (bin 0 about 8%): the mode of the density is inside
            if (a > 0 && a < ref.actions() - 1 && ref.prob(a) > ref.prob(mode)) mode = a;
        }
        assertEquals(1.0, s, 1e-9);
        // the mode lies left of R2's peak region's centre (tanh(-0.7) = -0.604 is bin 19; the
        // Jacobian of tanh moves the density's mode a little further out); the histogram is noisy
        assertTrue(mode >= 8 && mode <= 24, "mode at bin " + mode);
        double nearR2 = 0, nearR1 = 0;
        for (int a = 10; a <= 30; a++) nearR2 += ref.prob(a);
        for (int a = 60; a <= 80; a++) nearR1 += ref.prob(a);
        assertTrue(nearR2 > 0.3 && nearR1 < 0.06, "mass near 20: " + nearR2 + ", near 70: " + nearR1);
        // R1's peak (bin 70) gets little mass, R2's (bin 20) much
        assertTrue(ref.prob(70) < 0.005 && ref.prob(20) > 0.015);
    }

    @Test
    void samplingFollowsTheHistogram() {
        RefPolicy ref = RefPolicy.histogram(2);
        SplittableRandom rng = new SplittableRandom(3);
        int n = 200_000;
        double r2 = 0;
        for (int i = 0; i < n; i++) r2 += Reward.R2.of(ref.sample(rng));
        assertEquals(ref.expectation(Reward.R2::of), r2 / n, 0.005);
    }
}
