package io.pref4j.loss;

import io.pref4j.UserInputException;
import io.pref4j.kernel.Kernels.LossOps;
import io.pref4j.kernel.cpu.CpuKernels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static io.pref4j.loss.LossFixture.upload;
import static io.pref4j.loss.LossFixture.uploadInts;
import static io.pref4j.loss.LossSemanticsTest.cfg;
import static org.junit.jupiter.api.Assertions.*;

/** The defining properties of grpo (and its variants), kto, simpo and orpo on hand-made batches. */
class NewLossSemanticsTest {

    static CpuKernels k;

    @BeforeAll
    static void open() {
        k = new CpuKernels(1);
        LossSemanticsTest.k = k;
    }

    @AfterAll
    static void close() {
        k.close();
    }

    // ---------------------------------------------------------------- GRPO

    /** 3 rows of T = 4: row lengths 4, 2 (positions 1..2), 0. */
    static final int B = 3, T = 4;
    static final int[] MASK = {1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0};

    static float[] randomLogp(long seed) {
        Random r = new Random(seed);
        float[] x = new float[B * T];
        for (int i = 0; i < x.length; i++) x[i] = MASK[i] != 0 ? (float) (-2 + r.nextGaussian()) : 0f;
        return x;
    }

    static GrpoBatch grpo(float[] logp, float[] old, float[] ref, float[] adv, int maxLen) {
        MemorySegment a = upload(k, adv);
        return new GrpoBatch(upload(k, logp), upload(k, old), ref == null ? null : upload(k, ref), uploadInts(k, MASK),
                null, null, a, B, T, 0, maxLen, Double.NaN);
    }

    static float[] grad(GrpoLoss loss, GrpoBatch b, LossResult[] out) {
        MemorySegment d = k.allocFloats(B * T);
        out[0] = loss.compute(k, b, d);
        return GoldenLossTest.read(k, d, B * T);
    }

    @Test
    void grpoAtRatioOneWithoutKlIsTheAdvantageWeightedTokenMean() {
        float[] lp = randomLogp(1), adv = {1.5f, -0.5f, 2f};
        GrpoBatch b = grpo(lp, lp, null, adv, 8);
        LossResult[] r = new LossResult[1];
        // grpo: −(1/B)·Σ_b A_b over rows with tokens; ∂/∂logp_t = −A_b / (B·n_b)
        float[] g = grad((GrpoLoss) Losses.create(cfg("grpo", "beta", "0")), b, r);
        assertEquals(-(1.5 - 0.5) / 3, r[0].loss(), 1e-7);
        int[] n = {4, 2, 0};
        for (int i = 0; i < B * T; i++) {
            int row = i / T;
            assertEquals(MASK[i] == 0 ? 0f : (float) (-adv[row] / (3.0 * n[row])), g[i], 1e-8f, "token " + i);
        }
        assertEquals(0.0, r[0].metric("clip_ratio"));
        assertEquals(6.0, r[0].metric("tokens"));
        assertFalse(r[0].metrics().containsKey("kl"));
        // bnpo = dapo (one process): −Σ_t A / N, ∂ = −A_b / N; dr_grpo: the sum over B·L
        float[] gb = grad((GrpoLoss) Losses.create(cfg("grpo", "beta", "0", "loss_type", "bnpo")), b, r);
        assertEquals(-(1.5 * 4 - 0.5 * 2) / 6, r[0].loss(), 1e-7);
        float[] gd = grad((GrpoLoss) Losses.create(cfg("grpo", "beta", "0", "loss_type", "dapo")), b, new LossResult[1]);
        assertArrayEquals(gb, gd);
        float[] gr = grad((GrpoLoss) Losses.create(cfg("grpo", "beta", "0", "loss_type", "dr_grpo")), b, r);
        assertEquals(-(1.5 * 4 - 0.5 * 2) / (3.0 * 8), r[0].loss(), 1e-7);
        for (int i = 0; i < B * T; i++) assertEquals(gb[i] * 6 / 24.0, gr[i], 1e-8, "dr_grpo token " + i);
        // GSPO at ratio one: s = 1 and its gradient through the mean equals the token-level one
        float[] gs = grad((GrpoLoss) Losses.create(cfg("grpo", "beta", "0", "importance_sampling_level", "sequence")), b, r);
        for (int i = 0; i < B * T; i++) assertEquals(g[i], gs[i], 1e-8, "gspo token " + i);
    }

    @Test
    void clippingZeroesTheGradientOnlyInTheClippedDirection() {
        // row 0's tokens: ratio 1.5 (A > 0: clipped above), 0.6 (A > 0: not clipped), then the
        // same ratios for row 1 with A < 0 (0.6 clipped below, 1.5 not)
        float[] old = new float[B * T], lp = new float[B * T];
        float[] ratios = {1.5f, 0.6f, 1.1f, 0.95f, 0, 0.6f, 1.5f, 0, 0, 0, 0, 0};
        for (int i = 0; i < B * T; i++) {
            old[i] = MASK[i] != 0 ? -2f : 0f;
            lp[i] = MASK[i] != 0 ? (float) (old[i] + Math.log(ratios[i])) : 0f;
        }
        float[] adv = {1f, -1f, 0.5f};
        LossResult[] r = new LossResult[1];
        float[] g = grad((GrpoLoss) Losses.create(cfg("grpo", "beta", "0", "epsilon", "0.2", "epsilon_high", "0.28")),
                grpo(lp, old, null, adv, 8), r);
        assertEquals(0f, g[0]); // ρ = 1.5 > 1.28, A > 0
        assertEquals(0f, g[5]); // ρ = 0.6 < 0.8, A < 0
        double rho1 = Math.exp((double) lp[1] - old[1]), rho6 = Math.exp((double) lp[6] - old[6]);
        assertEquals(-1 * rho1 / (3 * 4), g[1], 1e-7); // ρ = 0.6, A > 0: the unclipped term is the min
        assertEquals(1 * rho6 / (3 * 2), g[6], 1e-7); // ρ = 1.5, A < 0
        assertEquals(1 / 6.0, r[0].metric("clip_ratio_low"), 1e-7);
        assertEquals(1 / 6.0, r[0].metric("clip_ratio_high"), 1e-7);
        assertEquals(2 / 6.0, r[0].metric("clip_ratio"), 1e-7);
        // ε_high = 0.6 lets ρ = 1.5 through: row 0, token 0 gets its gradient back
        float[] g2 = grad((GrpoLoss) Losses.create(cfg("grpo", "beta", "0", "epsilon_high", "0.6")),
                grpo(lp, old, null, adv, 8), r);
        assertEquals(-Math.exp((double) lp[0] - old[0]) / 12, g2[0], 1e-7);
        assertEquals(0.0, r[0].metric("clip_ratio_high"));
        // epsilon_high = 0 means epsilon
        float[] ga = grad((GrpoLoss) Losses.create(cfg("grpo", "beta", "0", "epsilon", "0.3")), grpo(lp, old, null, adv, 8), r);
        float[] gb = grad((GrpoLoss) Losses.create(cfg("grpo", "beta", "0", "epsilon", "0.3", "epsilon_high", "0.3")),
                grpo(lp, old, null, adv, 8), r);
        assertArrayEquals(ga, gb);
    }

    @Test
    void theKlTermIsK3AndVanishesAtTheReference() {
        float[] lp = randomLogp(3), adv = {0f, 0f, 0f};
        GrpoLoss loss = (GrpoLoss) Losses.create(cfg("grpo", "beta", "0.5", "loss_type", "bnpo"));
        assertTrue(loss.needsReference());
        assertFalse(((GrpoLoss) Losses.create(cfg("grpo", "beta", "0"))).needsReference());
        LossResult[] r = new LossResult[1];
        float[] g = grad(loss, grpo(lp, lp, lp, adv, 8), r); // ref = logp: k3 = 0 and its gradient 0
        assertEquals(0.0, r[0].loss(), 1e-12);
        assertArrayEquals(new float[B * T], g);
        float[] ref = lp.clone();
        ref[0] += 1; // one token with ref − logp = 1
        g = grad(loss, grpo(lp, lp, ref, adv, 8), r);
        double k3 = Math.exp((double) ref[0] - lp[0]) - ((double) ref[0] - lp[0]) - 1;
        assertEquals(0.5 * k3 / 6, r[0].loss(), 1e-7);
        assertEquals(k3 / 6, r[0].metric("kl"), 1e-7);
        assertEquals(0.5 * (1 - Math.exp((double) ref[0] - lp[0])) / 6, g[0], 1e-7);
        assertThrows(IllegalArgumentException.class, () -> loss.compute(k, grpo(lp, lp, null, adv, 8), k.allocFloats(B * T)));
    }

    static java.util.Map<String, Double> advantages(String scale, float[] rewards, int[] groups, int G, float[] out) {
        GrpoLoss loss = (GrpoLoss) Losses.create(cfg("grpo", "scale_rewards", scale));
        MemorySegment a = k.allocFloats(rewards.length);
        GrpoBatch b = new GrpoBatch(null, null, null, null, upload(k, rewards), uploadInts(k, groups), a, rewards.length,
                1, G, 0, Double.NaN);
        var m = loss.advantages(k, b);
        k.read(a, out);
        return m;
    }

    @Test
    void groupAdvantagesAreCentredPerPromptAndScaledByTheChosenStd() {
        float[] r = {1, 3, 2, 2, 5, 0}, a = new float[6];
        int[] groups = {0, 0, 1, 1, 0, 3}; // group 1 has no spread, group 2 is empty, group 3 has one member
        var e = assertThrows(IllegalArgumentException.class, () -> advantages("group", r, groups, 4, new float[6]));
        assertTrue(e.getMessage().contains("group 3 has 1"), e.getMessage());
        int[] ok = {0, 0, 1, 1, 0, 0};
        var m = advantages("none", r, ok, 3, a);
        // group 0 = {1, 3, 5, 0}: mean 2.25; group 1 = {2, 2}
        assertArrayEquals(new float[]{-1.25f, 0.75f, 0f, 0f, 2.75f, -2.25f}, a);
        assertEquals(0.5, m.get("frac_reward_zero_std"));
        assertEquals(2.0, m.get("groups"));
        assertEquals(13 / 6.0, m.get("reward"), 1e-6);
        double s0 = Math.sqrt((1.25 * 1.25 + 0.75 * 0.75 + 2.75 * 2.75 + 2.25 * 2.25) / 3);
        assertEquals(4 * s0 / 6, m.get("reward_std"), 1e-6);
        advantages("group", r, ok, 3, a);
        assertEquals(-1.25 / (s0 + 1e-4), a[0], 1e-6);
        assertEquals(0f, a[2]); // zero spread: A = 0 / (0 + 1e-4)
        m = advantages("batch", r, ok, 3, a);
        double mean = 13 / 6.0, ss = 0;
        for (float x : r) ss += (x - mean) * (x - mean);
        double sb = Math.sqrt(ss / 5);
        assertEquals(2.75 / (sb + 1e-4), a[4], 1e-6);
        assertEquals(sb, m.get("reward_std"), 1e-6);
    }

    // ---------------------------------------------------------------- KTO

    @Test
    void ktoPullsDesirableUpAndUndesirableDownWithTheirWeights() {
        float[] logp = {-10, -12, -9, -20}, ref = {-11, -12, -10, -19};
        int[] labels = {1, 1, 0, 0};
        KtoLoss loss = (KtoLoss) Losses.create(cfg("kto", "beta", "0.5", "desirable_weight", "2", "undesirable_weight", "0.5"));
        MemorySegment d = k.allocFloats(4);
        LossResult r = loss.compute(k, new KtoBatch(upload(k, logp), upload(k, ref), uploadInts(k, labels), 4, 0.0), d);
        float[] g = GoldenLossTest.read(k, d, 4);
        // x = 1, 0, 1, −1; desirable 2·(1 − σ(0.5x)), undesirable 0.5·(1 − σ(−0.5x))
        double want = (2 * (1 - s(0.5)) + 2 * 0.5 + 0.5 * (1 - s(-0.5)) + 0.5 * (1 - s(0.5))) / 4;
        assertEquals(want, r.loss(), 1e-7);
        assertEquals(-2 * 0.5 * 0.25 / 4, g[1], 1e-8); // x = z: σ' = 1/4
        assertTrue(g[0] < 0 && g[1] < 0 && g[2] > 0 && g[3] > 0);
        assertEquals(0.5 * (1 + 0) / 2, r.metric("reward_chosen"), 1e-7);
        assertEquals(0.5 * (1 - 1) / 2, r.metric("reward_rejected"), 1e-7);
        assertEquals(1.25, r.metric("weight_mean"), 1e-7);
        // the reference point shifts both: with z = 1 the first desirable example sits at σ(0)
        r = loss.compute(k, new KtoBatch(upload(k, logp), upload(k, ref), uploadInts(k, labels), 4, 1.0), d);
        assertEquals(-2 * 0.5 * 0.25 / 4, GoldenLossTest.read(k, d, 4)[0], 1e-8);
        assertEquals(1.0, r.metric("kl"));
        var e = assertThrows(IllegalArgumentException.class, () -> loss.compute(k,
                new KtoBatch(upload(k, logp), upload(k, ref), uploadInts(k, new int[]{1, 2, 0, 0}), 4, 0.0), d));
        assertTrue(e.getMessage().contains("labels[1] = 2"), e.getMessage());
        // KL estimate: clamped at 0
        assertEquals(0.0, KtoLoss.klEstimate(k, upload(k, new float[]{-5, -6}), upload(k, new float[]{-4, -4}), 2));
        assertEquals(1.5, KtoLoss.klEstimate(k, upload(k, new float[]{-3, -4}), upload(k, new float[]{-4, -6}), 2), 1e-12);
    }

    static double s(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    // ---------------------------------------------------------------- SimPO, ORPO

    static PairBatch normPairs(float[] logp, int[] lengths, int[] c, int[] r) {
        return new PairBatch(upload(k, logp), null, null, uploadInts(k, c), uploadInts(k, r), logp.length, c.length,
                uploadInts(k, lengths));
    }

    @Test
    void simpoIsReferenceFreeAndLengthNormalised() {
        PairwiseLoss simpo = (PairwiseLoss) Losses.create(cfg("simpo", "beta", "2", "simpo_gamma", "0.5"));
        assertFalse(simpo.needsReference());
        assertTrue(simpo.needsLengths());
        // lp_w = −1, lp_l = −1.25: m = 2·0.25 − 0.5 = 0, loss log 2; doubling a response's
        // length and log-prob together changes nothing
        MemorySegment d = k.allocFloats(4);
        LossResult r = simpo.compute(k, normPairs(new float[]{-4, -5, -8, -10}, new int[]{4, 4, 8, 8},
                new int[]{0, 2}, new int[]{1, 3}), d);
        assertEquals(Math.log(2), r.loss(), 1e-7);
        assertEquals(0.0, r.metric("h_mean"), 1e-7);
        assertEquals(1.0, r.metric("accuracy"));
        assertEquals(2 * -1.0, r.metric("reward_chosen"), 1e-7);
        float[] g = GoldenLossTest.read(k, d, 4);
        // ∂/∂logp_w = −σ(−m)·β/len/P = −0.5·2/4/2
        assertArrayEquals(new float[]{-0.125f, 0.125f, -0.0625f, 0.0625f}, g);
        var e = assertThrows(IllegalArgumentException.class, () -> simpo.compute(k, normPairs(new float[]{-4, -5},
                new int[]{4, 0}, new int[]{0}, new int[]{1}), d));
        assertTrue(e.getMessage().contains("empty response"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> simpo.compute(k, new PairBatch(upload(k, new float[2]), null,
                null, uploadInts(k, new int[]{0}), uploadInts(k, new int[]{1}), 2, 1), d));
    }

    @Test
    void orpoIsTheChosenNllPlusTheOddsRatioTerm() {
        float[] logp = {-3, -8, -2}; // sequence 2 is in no pair
        int[] len = {6, 10, 3};
        MemorySegment d = k.allocFloats(3);
        // λ = 0: plain SFT on the chosen response (token mean)
        PairwiseLoss sft = (PairwiseLoss) Losses.create(cfg("orpo", "orpo_lambda", "0"));
        LossResult r = sft.compute(k, normPairs(logp, len, new int[]{0}, new int[]{1}), d);
        assertEquals(0.5, r.loss(), 1e-7);
        assertEquals(0.5, r.metric("nll"), 1e-7);
        assertArrayEquals(new float[]{-1 / 6f, 0f, 0f}, GoldenLossTest.read(k, d, 3));
        PairwiseLoss orpo = (PairwiseLoss) Losses.create(cfg("orpo", "orpo_lambda", "0.5"));
        r = orpo.compute(k, normPairs(logp, len, new int[]{0}, new int[]{1}), d);
        double lw = -0.5, ll = -0.8;
        double m = (lw - Math.log(1 - Math.exp(lw))) - (ll - Math.log(1 - Math.exp(ll)));
        assertEquals(0.5 + 0.5 * Math.log1p(Math.exp(-m)), r.loss(), 1e-7);
        assertEquals(m, r.metric("h_mean"), 1e-6);
        float[] g = GoldenLossTest.read(k, d, 3);
        double dm = -0.5 * s(-m);
        assertEquals((-1 + dm / (1 - Math.exp(lw))) / 6, g[0], 1e-7);
        assertEquals(-dm / (1 - Math.exp(ll)) / 10, g[1], 1e-7);
        assertEquals(0f, g[2]);
        assertEquals(0.5 * lw, r.metric("reward_chosen"), 1e-7);
    }

    @Test
    void theNewTypesValidateTheirFields() {
        for (String t : new String[]{"grpo", "kto", "simpo", "orpo"}) assertEquals(t, Losses.create(LossConfig.defaults(t)).config().type());
        assertEquals(LossOps.METRICS, 21);
        LossConfig g = cfg("grpo", "beta", "0");
        assertEquals(0.0, g.beta());
        assertEquals(0.2, g.effectiveEpsilonHigh());
        assertEquals(g, LossConfig.fromMap(g.toMap()));
        var e = assertThrows(UserInputException.class, () -> cfg("dpo", "beta", "0"));
        assertEquals("loss.beta must be > 0; got 0", e.getMessage());
        e = assertThrows(UserInputException.class, () -> cfg("grpo", "beta", "-0.1"));
        assertEquals("loss.beta must be >= 0; got -0.1", e.getMessage());
                assertEquals("loss.loss_type must be one of grpo|bnpo|dr_grpo|dapo, got \"sum\"", assertThrows(UserInputException.class,
                () -> cfg("grpo", "loss_type", "sum")).getMessage());
        e = assertThrows(UserInputException.class, () -> cfg("grpo", "scale_rewards", "true"));
        assertTrue(e.getMessage().startsWith("loss.scale_rewards must be one of group|batch|none"), e.getMessage());
        e = assertThrows(UserInputException.class, () -> cfg("grpo", "importance_sampling_level", "seq"));
        assertTrue(e.getMessage().startsWith("loss.importance_sampling_level must be one of token|sequence"), e.getMessage());
        e = assertThrows(UserInputException.class, () -> cfg("grpo", "epsilon", "0"));
        assertEquals("loss.epsilon must be in (0, 1); got 0", e.getMessage());
        e = assertThrows(UserInputException.class, () -> cfg("grpo", "epsilon_high", "-1"));
        assertEquals("loss.epsilon_high must be >= 0; got -1", e.getMessage());
        e = assertThrows(UserInputException.class, () -> cfg("kto", "desirable_weight", "0"));
        assertEquals("loss.desirable_weight must be > 0; got 0", e.getMessage());
        e = assertThrows(UserInputException.class, () -> cfg("simpo", "simpo_gamma", "-1"));
        assertEquals("loss.simpo_gamma must be >= 0; got -1", e.getMessage());
        e = assertThrows(UserInputException.class, () -> cfg("orpo", "orpo_lambda", "-0.5"));
        assertEquals("loss.orpo_lambda must be >= 0; got -0.5", e.getMessage());
        GrpoLoss dr = (GrpoLoss) Losses.create(cfg("grpo", "beta", "0", "loss_type", "dr_grpo"));
        float[] lp = randomLogp(5);
        var ex = assertThrows(IllegalArgumentException.class, () -> dr.compute(k, grpo(lp, lp, null, new float[3], 0),
                k.allocFloats(B * T)));
        assertTrue(ex.getMessage().contains("maxCompletionLength"), ex.getMessage());
    }
}
