package io.pref4j.kernel.cpu;

import io.pref4j.kernel.Kernels.LossOps;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The fused loss kernels' contract at the kernel API: each writes exactly the metric slots
 * its Javadoc lists and leaves the others alone, overwrites (=) its gradient outputs over
 * their whole length, and rejects indices outside the batch. (Values and gradients are
 * checked against PyTorch in io.pref4j.loss.GoldenLossTest and by finite differences.)
 */
class CpuLossesTest {

    static final float SENTINEL = 12345f;
    static CpuKernels k;

    @BeforeAll
    static void open() {
        k = new CpuKernels(1);
    }

    @AfterAll
    static void close() {
        k.close();
    }

    static MemorySegment f(float... x) {
        MemorySegment s = k.allocFloats(Math.max(1, x.length));
        k.write(s, x);
        return s;
    }

    static MemorySegment i(int... x) {
        MemorySegment s = k.allocInts(Math.max(1, x.length));
        k.writeInts(s, x);
        return s;
    }

    static MemorySegment metrics() {
        MemorySegment m = k.allocFloats(LossOps.METRICS);
        k.fill(m, LossOps.METRICS, SENTINEL);
        return m;
    }

    static MemorySegment garbage(int n) {
        MemorySegment d = k.allocFloats(n);
        k.fill(d, n, Float.NaN);
        return d;
    }

    static float[] read(MemorySegment x, int n) {
        float[] out = new float[n];
        k.read(x, out);
        return out;
    }

    /** Slots in written changed from the sentinel, the others did not. */
    static void assertSlots(MemorySegment m, Integer... written) {
        float[] v = read(m, LossOps.METRICS);
        Set<Integer> w = Set.of(written);
        for (int s = 0; s < LossOps.METRICS; s++) {
            if (w.contains(s)) assertNotEquals(SENTINEL, v[s], "slot " + s + " should be written");
            else assertEquals(SENTINEL, v[s], "slot " + s + " should be untouched");
            assertFalse(Float.isNaN(v[s]), "slot " + s + " is NaN");
        }
    }

    static void assertFinite(float[] x) {
        for (float v : x) assertTrue(Float.isFinite(v), Arrays.toString(x));
    }

    @Test
    void pairwiseWritesItsSlotsAndOverwritesEveryGradient() {
        float[] logp = {-10, -12, -9, -30}, ref = {-11, -11, -11, -30};
        for (int type : new int[]{LossOps.DPO, LossOps.IPO, LossOps.HINGE, LossOps.WDPO}) {
            MemorySegment m = metrics(), d = garbage(4);
            // sequence 3 is in no pair: its gradient must be written as 0
            k.pairwiseLoss(m, d, f(logp), f(ref), f(1, 0, 0.5f, 0), i(0, 0), i(1, 2), 4, 2, type,
                    LossOps.WEIGHT_EXP, 0.1f, 0f, 0.1f, 1f);
            assertSlots(m, LossOps.LOSS, LossOps.MEAN_H, LossOps.CHOSEN_REWARD, LossOps.REJECTED_REWARD,
                    LossOps.MARGIN, LossOps.ACCURACY, LossOps.MEAN_WEIGHT, LossOps.COUNT);
            float[] g = read(d, 4);
            assertFinite(g);
            assertEquals(0f, g[3]);
            float[] mv = read(m, LossOps.METRICS);
            assertEquals(2f, mv[LossOps.COUNT]);
            assertEquals(0.5f, mv[LossOps.ACCURACY]); // h = 2 and −1
            assertEquals(0.5f, mv[LossOps.MEAN_H], 1e-6f);
            assertEquals(0.1f * 0.5f, mv[LossOps.MARGIN], 1e-7f);
        }
    }

    @Test
    void pairIndicesOutsideTheBatchAreRejected() {
        var e = assertThrows(IllegalArgumentException.class, () -> k.pairwiseLoss(metrics(), garbage(2), f(-1, -2),
                f(0, 0), null, i(0), i(2), 2, 1, LossOps.DPO, LossOps.WEIGHT_NONE, 0.1f, 0f, 0.1f, 1f));
        assertTrue(e.getMessage().contains("outside [0, 2)"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> k.pairwiseLoss(metrics(), garbage(2), f(-1, -2),
                f(0, 0), null, i(0), i(1), 2, 1, LossOps.WDPO, LossOps.WEIGHT_EXP, 0.1f, 0f, 0.1f, 1f));
        assertThrows(IllegalArgumentException.class, () -> k.bestOfNLoss(metrics(), garbage(2), f(-1, -2), null,
                f(1, 2), i(0, 5), 2, 2, LossOps.NEG_NONE, 0f));
    }

    @Test
    void perSampleKernelsWriteTheirSlots() {
        MemorySegment logp = f(-4, -6, 0, -3), ref = f(-5, -6, 0, -2), len = i(2, 3, 0, 1), r = f(1, 2, 3, 4),
                g = i(0, 0, 1, 1);
        MemorySegment m = metrics(), d = garbage(4);
        k.sftLoss(m, d, logp, null, len, null, 4);
        assertSlots(m, LossOps.LOSS, LossOps.MEAN_WEIGHT, LossOps.COUNT);
        assertArrayEquals(new float[]{-1 / 6f, -1 / 9f, 0f, -1 / 3f}, read(d, 4), 1e-7f);
        m = metrics();
        k.sftLoss(m, garbage(4), logp, ref, len, r, 4);
        assertSlots(m, LossOps.LOSS, LossOps.MEAN_WEIGHT, LossOps.COUNT, LossOps.MEAN_REWARD, LossOps.KL);
        assertEquals(2.5f, read(m, LossOps.METRICS)[LossOps.MEAN_REWARD]);
        assertEquals(0f, read(m, LossOps.METRICS)[LossOps.KL]); // (1 + 0 + 0 − 1) / 4

        m = metrics();
        d = garbage(4);
        k.rwrLoss(m, d, logp, ref, len, r, g, 4, 2, true, 1, 1f, 10f);
        assertSlots(m, LossOps.LOSS, LossOps.MEAN_WEIGHT, LossOps.COUNT, LossOps.MEAN_REWARD, LossOps.KL);
        assertFinite(read(d, 4));

        m = metrics();
        d = garbage(4);
        k.bestOfNLoss(m, d, logp, null, r, g, 4, 3, LossOps.NEG_WORST, 0.5f); // group 2 is empty
        assertSlots(m, LossOps.LOSS, LossOps.MEAN_WEIGHT, LossOps.COUNT, LossOps.MEAN_REWARD);
        assertEquals(2f, read(m, LossOps.METRICS)[LossOps.COUNT]);
        assertArrayEquals(new float[]{0.25f, -0.5f, 0.25f, -0.5f}, read(d, 4));

        for (int baseline = LossOps.BASELINE_NONE; baseline <= LossOps.BASELINE_RLOO; baseline++) {
            m = metrics();
            d = garbage(4);
            k.reinforceLoss(m, d, k.allocFloats(2), logp, ref, r, g, 4, 2, baseline, 0.9f, 0.1f, 10f);
            assertSlots(m, LossOps.LOSS, LossOps.MEAN_WEIGHT, LossOps.COUNT, LossOps.MEAN_REWARD, LossOps.KL);
            assertFinite(read(d, 4));
        }
    }

    @Test
    void klPenaltyIsFoldedIntoTheRewardAsAConstant() {
        // r' = r − c·(logp − ref); batch-mean baseline; dlogp = −A/S with no term from r'(logp)
        MemorySegment d = garbage(2);
        k.reinforceLoss(metrics(), d, null, f(-1, -3), f(-2, -2), f(0, 0), null, 2, 0,
                LossOps.BASELINE_BATCH_MEAN, 0f, 1f, 10f);
        // r' = (−1, 1), b = 0, A = (−1, 1)
        assertArrayEquals(new float[]{0.5f, -0.5f}, read(d, 2));
        assertThrows(IllegalArgumentException.class, () -> k.reinforceLoss(metrics(), garbage(2), null,
                f(-1, -3), null, f(0, 0), null, 2, 0, LossOps.BASELINE_NONE, 0f, 1f, 10f));
    }

    @Test
    void ppoKernelsWriteTheirSlotsAndZeroOffTheMask() {
        int B = 3, T = 4, n = B * T;
        int[] mask = {0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0}; // row 2 has no response tokens
        float[] old = new float[n], ref = new float[n], v = new float[n], lp = new float[n];
        for (int j = 0; j < n; j++) {
            old[j] = -1 - 0.1f * j;
            ref[j] = old[j] + 0.05f * (j % 3 - 1);
            v[j] = 0.3f * (j % 5) - 0.5f;
            lp[j] = old[j] + 0.3f * ((j % 4) - 1.5f);
        }
        MemorySegment m = metrics(), adv = garbage(n), ret = garbage(n);
        k.ppoAdvantages(m, adv, ret, f(old), f(ref), f(v), f(1, -2, 5), i(mask), B, T, 0.1f, 1f, 0.95f, true);
        assertSlots(m, LossOps.MEAN_REWARD, LossOps.KL, LossOps.MEAN_RETURN, LossOps.COUNT);
        float[] mv = read(m, LossOps.METRICS);
        assertEquals(5f, mv[LossOps.COUNT]);
        assertEquals(-0.5f, mv[LossOps.MEAN_REWARD]); // row 2 (score 5) has no response
        float[] a = read(adv, n), r = read(ret, n);
        double sum = 0, ss = 0;
        for (int j = 0; j < n; j++) {
            if (mask[j] == 0) {
                assertEquals(0f, a[j]);
                assertEquals(0f, r[j]);
            } else {
                sum += a[j];
                ss += a[j] * a[j];
            }
        }
        assertEquals(0, sum / 5, 1e-6); // whitened: mean 0, unbiased variance 1
        assertEquals(1, ss / 4, 1e-5);

        MemorySegment m2 = metrics(), dl = garbage(n), dv = garbage(n);
        k.ppoLoss(m2, dl, dv, f(lp), f(old), f(v), f(v), adv, ret, i(mask), B, T, 0.2f, 0.2f, 0.1f);
        assertSlots(m2, LossOps.LOSS, LossOps.POLICY_LOSS, LossOps.VALUE_LOSS, LossOps.CLIP_FRAC,
                LossOps.APPROX_KL, LossOps.COUNT);
        float[] gl = read(dl, n), gv = read(dv, n);
        for (int j = 0; j < n; j++) {
            assertTrue(Float.isFinite(gl[j]) && Float.isFinite(gv[j]));
            if (mask[j] == 0) {
                assertEquals(0f, gl[j]);
                assertEquals(0f, gv[j]);
            }
        }
        float[] m2v = read(m2, LossOps.METRICS);
        assertEquals(m2v[LossOps.POLICY_LOSS] + 0.1f * m2v[LossOps.VALUE_LOSS], m2v[LossOps.LOSS], 1e-6f);
    }

    @Test
    void gaeWithGammaOneLambdaOneAndNoKlIsTheScoreMinusTheValue() {
        // λ = γ = 1, c = 0: A_t = score − V_t, returns = score at every response token
        int T = 4;
        float[] v = {0, 0.5f, -1, 2};
        MemorySegment adv = garbage(T), ret = garbage(T);
        k.ppoAdvantages(metrics(), adv, ret, f(-1, -1, -1, -1), f(-2, -2, -2, -2), f(v), f(3), i(0, 1, 1, 1), 1, T,
                0f, 1f, 1f, false);
        assertArrayEquals(new float[]{0, 2.5f, 4, 1}, read(adv, T), 1e-6f);
        assertArrayEquals(new float[]{0, 3, 3, 3}, read(ret, T), 1e-6f);
    }
}
