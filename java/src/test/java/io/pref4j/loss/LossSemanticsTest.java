package io.pref4j.loss;

import io.pref4j.UserInputException;
import io.pref4j.kernel.cpu.CpuKernels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.Random;

import static io.pref4j.loss.LossFixture.upload;
import static io.pref4j.loss.LossFixture.uploadInts;
import static org.junit.jupiter.api.Assertions.*;

/** The properties of SPEC §2 that define each loss, checked on small hand-made batches. */
class LossSemanticsTest {

    static CpuKernels k;

    @BeforeAll
    static void open() {
        k = new CpuKernels(1);
    }

    @AfterAll
    static void close() {
        k.close();
    }

    static LossConfig cfg(String type, String... kv) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        m.put("type", type);
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return LossConfig.fromMap(m);
    }

    /** 6 sequences, 5 pairs (sequence 0 in three pairs), random log-probs and rewards. */
    static PairBatch pairs(long seed, float[] rewardsOut) {
        Random r = new Random(seed);
        float[] logp = new float[6], ref = new float[6];
        for (int i = 0; i < 6; i++) {
            logp[i] = (float) (-20 + 5 * r.nextGaussian());
            ref[i] = (float) (logp[i] + 4 * r.nextGaussian());
            rewardsOut[i] = (float) r.nextGaussian();
        }
        int[] c = {0, 0, 0, 2, 4}, rj = {1, 3, 5, 3, 5};
        for (int i = 0; i < 5; i++) {
            if (rewardsOut[c[i]] < rewardsOut[rj[i]]) { // make Δr ≥ 0 by swapping rewards
                float t = rewardsOut[c[i]];
                rewardsOut[c[i]] = rewardsOut[rj[i]] + 0.5f;
                rewardsOut[rj[i]] = t;
            }
        }
        return new PairBatch(upload(k, logp), upload(k, ref), upload(k, rewardsOut), uploadInts(k, c),
                uploadInts(k, rj), 6, 5);
    }

    static float[] grad(PairwiseLoss loss, PairBatch b, LossResult[] out) {
        MemorySegment d = k.allocFloats(b.sequences());
        out[0] = loss.compute(k, b, d);
        return GoldenLossTest.read(k, d, b.sequences());
    }

    @Test
    void wdpoNoneEqualsDpoAndLabelSmoothingZeroIsPlainDpo() {
        float[] rw = new float[6];
        PairBatch b = pairs(1, rw);
        LossResult[] r1 = new LossResult[1], r2 = new LossResult[1], r3 = new LossResult[1];
        float[] g1 = grad((PairwiseLoss) Losses.create(cfg("dpo", "beta", "0.2")), b, r1);
        float[] g2 = grad((PairwiseLoss) Losses.create(cfg("wdpo", "beta", "0.2", "wdpo_mode", "none")), b, r2);
        float[] g3 = grad((PairwiseLoss) Losses.create(cfg("dpo", "beta", "0.2", "label_smoothing", "0")), b, r3);
        assertEquals(r1[0].metrics(), r2[0].metrics());
        assertArrayEquals(g1, g2);
        assertArrayEquals(g1, g3);
        // plain DPO by hand: −mean log σ(βh), ∂/∂logp accumulates over a sequence's pairs
        float[] logp = GoldenLossTest.read(k, b.logp(), 6), ref = GoldenLossTest.read(k, b.refLogp(), 6);
        int[] c = {0, 0, 0, 2, 4}, rj = {1, 3, 5, 3, 5};
        double loss = 0;
        double[] g = new double[6];
        float beta = 0.2f;
        for (int i = 0; i < 5; i++) {
            double h = ((double) logp[c[i]] - ref[c[i]]) - ((double) logp[rj[i]] - ref[rj[i]]);
            loss += Math.log1p(Math.exp(-beta * h)) / 5;
            double d = -beta / (1 + Math.exp(beta * h)) / 5;
            g[c[i]] += d;
            g[rj[i]] -= d;
        }
        assertEquals(loss, r1[0].loss(), 1e-6 * loss);
        for (int i = 0; i < 6; i++) assertEquals(g[i], g1[i], 1e-7);
        assertEquals(1.0, r1[0].metric("weight_mean"));
        assertEquals(5.0, r1[0].metric("pairs"));
    }

    @Test
    void expWeightsAverageOneAndWeightedLossIsSoftmaxAverage() {
        float[] rw = new float[6];
        PairBatch b = pairs(2, rw);
        LossResult[] r = new LossResult[1], rd = new LossResult[1];
        grad((PairwiseLoss) Losses.create(cfg("wdpo", "beta2", "3")), b, r);
        assertEquals(1.0, r[0].metric("weight_mean"), 1e-6);
        // equal Δr for every pair: all weights 1 and wdpo = dpo
        float[] same = {1, 0, 1, 0, 1, 0};
        PairBatch flat = new PairBatch(b.logp(), b.refLogp(), upload(k, same), b.chosenIdx(), b.rejectedIdx(), 6, 5);
        grad((PairwiseLoss) Losses.create(cfg("wdpo", "beta2", "3")), flat, r);
        grad((PairwiseLoss) Losses.create(cfg("dpo")), flat, rd);
        assertEquals(rd[0].loss(), r[0].loss(), 1e-6 * rd[0].loss());
        // linear weights: Δr = 0 gives weight 0, so such a pair has no gradient
        float[] tie = {1, 1, 1, 1, 1, 1};
        PairBatch ties = new PairBatch(b.logp(), b.refLogp(), upload(k, tie), b.chosenIdx(), b.rejectedIdx(), 6, 5);
        float[] g = grad((PairwiseLoss) Losses.create(cfg("wdpo", "wdpo_mode", "linear")), ties, r);
        assertArrayEquals(new float[6], g);
        assertEquals(0.0, r[0].loss());
    }

    @Test
    void hingeHasZeroGradientBeyondTheMargin() {
        // pair 0: β h = 0.5·4 = 2 > 1 (beyond the margin); pair 1: β h = 0.5·1 < 1
        float[] logp = {-10, -14, -10, -11}, ref = {0, 0, 0, 0};
        PairBatch b = new PairBatch(upload(k, logp), upload(k, ref), null, uploadInts(k, new int[]{0, 2}),
                uploadInts(k, new int[]{1, 3}), 4, 2);
        LossResult[] r = new LossResult[1];
        float[] g = grad((PairwiseLoss) Losses.create(cfg("hinge", "beta", "0.5")), b, r);
        assertEquals(0f, g[0]);
        assertEquals(0f, g[1]);
        assertEquals(-0.25f, g[2]); // −β / P
        assertEquals(0.25f, g[3]);
        assertEquals(0.25, r[0].loss(), 1e-7); // (0 + 0.5) / 2
        assertEquals(1.0, r[0].metric("accuracy"));
    }

    @Test
    void ipoTargetsTheMarginOneOverTwoTau() {
        float[] logp = {-10, -15}, ref = {0, 0}; // h = 5 = 1/(2·0.1)
        PairBatch b = new PairBatch(upload(k, logp), upload(k, ref), null, uploadInts(k, new int[]{0}),
                uploadInts(k, new int[]{1}), 2, 1);
        LossResult[] r = new LossResult[1];
        float[] g = grad((PairwiseLoss) Losses.create(cfg("ipo", "ipo_tau", "0.1")), b, r);
        assertEquals(0.0, r[0].loss(), 1e-10);
        assertEquals(0f, g[0], 1e-6f);
    }

    @Test
    void emptyBatchesGiveZeroLossAndGradients() {
        MemorySegment d = k.allocFloats(3);
        k.write(d, new float[]{7, 7, 7});
        PairBatch b = new PairBatch(upload(k, new float[]{-1, -2, -3}), upload(k, new float[3]), null,
                k.allocInts(1), k.allocInts(1), 3, 0);
        LossResult r = ((PairwiseLoss) Losses.create(cfg("dpo"))).compute(k, b, d);
        assertEquals(0.0, r.loss());
        assertArrayEquals(new float[3], GoldenLossTest.read(k, d, 3));
        // sft where every response is empty
        SampleBatch s = new SampleBatch(upload(k, new float[3]), null, uploadInts(k, new int[3]), null, null, 3, 0, Double.NaN);
        k.write(d, new float[]{7, 7, 7});
        r = ((SampleLoss) Losses.create(cfg("sft"))).compute(k, s, d);
        assertEquals(0.0, r.loss());
        assertEquals(0.0, r.metric("count"));
        assertArrayEquals(new float[3], GoldenLossTest.read(k, d, 3));
    }

    static SampleBatch samples(float[] logp, float[] rewards, int[] groups, int G) {
        int[] lengths = new int[logp.length];
        java.util.Arrays.fill(lengths, 4);
        return new SampleBatch(upload(k, logp), upload(k, new float[logp.length]), uploadInts(k, lengths),
                upload(k, rewards), groups == null ? null : uploadInts(k, groups), logp.length, G, 0.75);
    }

    @Test
    void rlooRejectsAGroupOfOne() {
        SampleLoss loss = (SampleLoss) Losses.create(cfg("reinforce", "baseline", "rloo", "kl_coef", "0"));
        assertEquals(2, loss.minGroupSize());
        SampleBatch b = samples(new float[]{-1, -2, -3}, new float[]{1, 2, 3}, new int[]{0, 0, 1}, 2);
        var e = assertThrows(IllegalArgumentException.class, () -> loss.compute(k, b, k.allocFloats(3)));
        assertTrue(e.getMessage().contains("rloo") && e.getMessage().contains("group 1"), e.getMessage());
        // leave-one-out: A_i = r_i − (sum − r_i)/(n − 1)
        SampleBatch ok = samples(new float[]{-1, -2, -3, -4}, new float[]{1, 2, 3, 5}, new int[]{0, 0, 1, 1}, 2);
        MemorySegment d = k.allocFloats(4);
        LossResult r = loss.compute(k, ok, d);
        assertArrayEquals(new float[]{1 / 4f, -1 / 4f, 2 / 4f, -2 / 4f}, GoldenLossTest.read(k, d, 4));
        assertEquals(0.0, r.metric("advantage_mean"), 1e-7);
        assertEquals(0.75, r.metric("entropy"));
    }

    @Test
    void advantagesAreClippedAtTen() {
        SampleLoss loss = (SampleLoss) Losses.create(cfg("reinforce", "baseline", "none", "kl_coef", "0"));
        SampleBatch b = samples(new float[]{-1, -2, -3, -4}, new float[]{50, -50, 3, 10.5f}, null, 0);
        MemorySegment d = k.allocFloats(4);
        LossResult r = loss.compute(k, b, d);
        assertArrayEquals(new float[]{-10 / 4f, 10 / 4f, -3 / 4f, -10 / 4f}, GoldenLossTest.read(k, d, 4));
        assertEquals((10 - 10 + 3 + 10) / 4.0, r.metric("advantage_mean"), 1e-7);
        assertEquals(-(10 * -1 + -10 * -2 + 3 * -3 + 10 * -4) / 4.0, r.loss(), 1e-6);
    }

    @Test
    void movingAverageBaselineCarriesStateAcrossCalls() {
        SampleLoss loss = (SampleLoss) Losses.create(cfg("reinforce", "baseline", "moving_average",
                "baseline_decay", "0.5", "kl_coef", "0"));
        assertArrayEquals(new double[]{0, 0}, loss.baselineState());
        MemorySegment d = k.allocFloats(2);
        loss.compute(k, samples(new float[]{-1, -1}, new float[]{2, 4}, null, 0), d);
        assertArrayEquals(new double[]{3, 1}, loss.baselineState()); // first call: the batch mean
        assertArrayEquals(new float[]{0.5f, -0.5f}, GoldenLossTest.read(k, d, 2)); // A = ∓1, /S, negated
        loss.compute(k, samples(new float[]{-1, -1}, new float[]{6, 8}, null, 0), d);
        assertArrayEquals(new float[]{-1.5f, -2.5f}, GoldenLossTest.read(k, d, 2)); // b = 3
        assertArrayEquals(new double[]{5, 1}, loss.baselineState()); // 0.5·3 + 0.5·7
    }

    @Test
    void bestOfNPicksTheBestPerPromptAndPushesDownTheWorse() {
        // group 0: rewards 1, 3, 3 (tie for best: lower index 1), 0; group 1: a single response
        float[] logp = {-1, -2, -3, -4, -5}, rw = {1, 3, 3, 0, 7};
        int[] groups = {0, 0, 0, 0, 1};
        MemorySegment d = k.allocFloats(5);
        SampleLoss avg = (SampleLoss) Losses.create(cfg("bon", "bon_negative", "average_over_worse", "bon_beta_neg", "0.5"));
        LossResult r = avg.compute(k, samples(logp, rw, groups, 2), d);
        // worse = {0, 3}: loss = [−(−2) + 0.5·mean(−1, −4) − (−5)] / 2
        assertEquals((2 + 0.5 * -2.5 + 5) / 2, r.loss(), 1e-6);
        assertArrayEquals(new float[]{0.125f, -0.5f, 0f, 0.125f, -0.5f}, GoldenLossTest.read(k, d, 5));
        SampleLoss worst = (SampleLoss) Losses.create(cfg("bon", "bon_negative", "worst", "bon_beta_neg", "0.5"));
        worst.compute(k, samples(logp, rw, groups, 2), d);
        assertArrayEquals(new float[]{0f, -0.5f, 0f, 0.25f, -0.5f}, GoldenLossTest.read(k, d, 5));
        SampleLoss plain = (SampleLoss) Losses.create(cfg("bon"));
        plain.compute(k, samples(logp, rw, groups, 2), d);
        assertArrayEquals(new float[]{0f, -0.5f, 0f, 0f, -0.5f}, GoldenLossTest.read(k, d, 5));
    }

    @Test
    void rwrWeightsAreCappedAndFilterKeepsTopKPerPrompt() {
        float[] logp = {-4, -8, -4, -4}, rw = {0, 10, 1, 1};
        MemorySegment d = k.allocFloats(4);
        SampleLoss w = (SampleLoss) Losses.create(cfg("rwr", "rwr_tau", "1", "rwr_w_max", "2"));
        LossResult r = w.compute(k, samples(logp, rw, new int[]{0, 0, 1, 1}, 2), d);
        // weights: 1, min(e^10, 2) = 2, min(e, 2) = 2, 2; lengths 4
        assertEquals(7 / 4.0, r.metric("weight_mean"), 1e-6);
        assertArrayEquals(new float[]{-1 / 16f, -2 / 16f, -2 / 16f, -2 / 16f}, GoldenLossTest.read(k, d, 4));
        SampleLoss f = (SampleLoss) Losses.create(cfg("rwr", "rwr_mode", "filter", "rwr_top_k", "1"));
        r = f.compute(k, samples(logp, rw, new int[]{0, 0, 1, 1}, 2), d);
        // kept: 1 (best of group 0) and 2 (tie in group 1: the lower index); SFT on those two
        assertArrayEquals(new float[]{0f, -1 / 8f, -1 / 8f, 0f}, GoldenLossTest.read(k, d, 4));
        assertEquals((8 / 4.0 + 4 / 4.0) / 2, r.loss(), 1e-6);
    }

    @Test
    void adaptiveKlControllerFollowsZiegler() {
        AdaptiveKlController c = new AdaptiveKlController(0.2, 6, 10000, true);
        assertEquals(0.2 * (1 + 0.2 * 256 / 10000.0), c.update(60, 256), 1e-15); // error clipped to +0.2
        double before = c.coef();
        assertEquals(before * (1 - 0.5 / 6 * 100 / 10000.0), c.update(5.5, 100), 1e-15);
        before = c.coef();
        assertEquals(before * (1 - 0.2 * 10 / 10000.0), c.update(0, 10), 1e-15); // clipped to −0.2
        AdaptiveKlController fixed = new AdaptiveKlController(0.2, 6, 10000, false);
        assertEquals(0.2, fixed.update(60, 256));
        PpoLoss ppo = (PpoLoss) Losses.create(cfg("ppo", "kl_coef", "0.3", "adaptive_kl", "false"));
        assertEquals(0.3, ppo.klController().coef());
    }

    @Test
    void configErrorsNameTheFieldAndTheAllowedValues() {
        var e = assertThrows(UserInputException.class, () -> Losses.create(LossConfig.defaults("dpoo")));
        assertEquals("loss.type must be one of sft|nll|dpo|ipo|hinge|wdpo|rwr|bon|reinforce|ppo|grpo|kto|simpo|orpo, got \"dpoo\" (did you mean dpo?)",
                e.getMessage());
        e = assertThrows(UserInputException.class, () -> cfg("dpo", "beta", "-1"));
        assertEquals("loss.beta must be > 0; got -1", e.getMessage());
        e = assertThrows(UserInputException.class, () -> cfg("dpo", "label_smoothing", "0.5"));
        assertTrue(e.getMessage().startsWith("loss.label_smoothing must be in [0, 0.5)"), e.getMessage());
        e = assertThrows(UserInputException.class, () -> cfg("wdpo", "wdpo_mode", "softmax"));
        assertEquals("loss.wdpo_mode must be one of exp|sigmoid|linear|none, got \"softmax\"", e.getMessage());
        e = assertThrows(UserInputException.class, () -> cfg("reinforce", "baseline", "avg"));
        assertTrue(e.getMessage().startsWith("loss.baseline must be one of none|moving_average"), e.getMessage());
        e = assertThrows(UserInputException.class, () -> cfg("dpo", "betta", "0.1"));
        assertTrue(e.getMessage().startsWith("unknown config field loss.betta"), e.getMessage());
        e = assertThrows(UserInputException.class, () -> cfg("dpo", "beta", "abc"));
        assertEquals("loss.beta must be a number; got 'abc'", e.getMessage());
        e = assertThrows(UserInputException.class, () -> cfg("ppo", "whiten", "yes"));
        assertEquals("loss.whiten must be true or false; got 'yes'", e.getMessage());
        e = assertThrows(UserInputException.class, () -> cfg("rwr", "rwr_top_k", "0"));
        assertEquals("loss.rwr_top_k must be >= 1; got 0", e.getMessage());
        e = assertThrows(UserInputException.class, () -> cfg("ppo", "ppo_clip", "0"));
        assertTrue(e.getMessage().startsWith("loss.ppo_clip must be in (0, 1)"), e.getMessage());
        e = assertThrows(UserInputException.class, () -> LossConfig.fromMap(Map.of("beta", "0.1")));
        assertTrue(e.getMessage().startsWith("loss.type is required"), e.getMessage());
    }

    @Test
    void defaultsFollowTheSpecAndRoundTripThroughTheMap() {
        LossConfig d = LossConfig.defaults("dpo");
        assertEquals(0.1, d.beta());
        assertEquals(0.0, d.labelSmoothing());
        assertEquals("exp", d.wdpoMode());
        assertEquals(1.0, d.beta2());
        assertEquals(10.0, d.rwrWMax());
        assertEquals(10.0, d.advClip());
        assertEquals(0.2, d.ppoClip());
        assertEquals(1.0, d.gamma());
        assertEquals(0.95, d.lambda());
        assertEquals(d, LossConfig.fromMap(d.toMap()));
        for (String t : LossConfig.TYPES) {
            Loss l = Losses.create(LossConfig.defaults(t));
            assertEquals(t, l.config().type());
        }
    }
}
