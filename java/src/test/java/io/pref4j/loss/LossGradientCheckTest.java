package io.pref4j.loss;

import io.pref4j.io.SafeTensors;
import io.pref4j.kernel.cpu.CpuKernels;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Central finite differences of every loss against its analytic gradient, on the golden
 * fixtures' batches: per-sequence log-probs for the pairwise and per-sample losses, per-token
 * log-probs and values for PPO and per-token log-probs for GRPO (advantages, returns, the old
 * and reference log-probs held fixed, as in training; KTO's z_ref is a constant). The
 * perturbed input is a float32 value; the difference quotient is formed in double with the
 * exact perturbation (float)(x ± h) − x. The kernels return the loss rounded to float32, so
 * the quotient carries a rounding error of about 6e-8·|loss|/h (h = 1e-2 per sequence,
 * 1e-3 per PPO/GRPO token); we allow 2e-3·(max|g| + |g|). Coordinates where the forward and
 * backward one-sided quotients disagree (a kink of hinge, clip or max within h) are
 * skipped, at most a quarter of them. REINFORCE cases with a KL penalty are left to the
 * golden test: the penalty is a constant there (stop-gradient), so the finite difference of
 * the loss value is not its gradient by design.
 */
class LossGradientCheckTest {

    @Test
    void everyLossGradientMatchesFiniteDifferences() {
        int checkedCases = 0;
        try (SafeTensors st = SafeTensors.open(LossFixture.FILE); CpuKernels k = new CpuKernels(1)) {
            for (String name : LossFixture.cases(st)) {
                LossFixture f = new LossFixture(st, name);
                Loss loss = Losses.create(f.config);
                switch (loss) {
                    case PairwiseLoss p -> {
                        float[] x = f.floats("logp");
                        MemorySegment d = k.allocFloats(x.length);
                        Function<float[], Double> eval = v -> p.compute(k, f.pairBatch(k, v), d).loss();
                        eval.apply(x);
                        check(name, eval, x, GoldenLossTest.read(k, d, x.length), 1e-2, null);
                    }
                    case SampleLoss s -> {
                        if (f.config.type().equals("reinforce") && f.config.klCoef() != 0) continue;
                        float[] x = f.floats("logp");
                        float[] state = f.has("state_in") ? f.floats("state_in") : null;
                        MemorySegment d = k.allocFloats(x.length);
                        Function<float[], Double> eval = v -> {
                            if (state != null) s.setBaselineState(k, state[0], state[1] != 0);
                            return s.compute(k, f.sampleBatch(k, v), d).loss();
                        };
                        eval.apply(x);
                        // sft and rwr skip zero-length responses (no gradient); bon and reinforce ignore lengths
                        boolean byLength = f.config.type().equals("sft") || f.config.type().equals("nll")
                                || f.config.type().equals("rwr");
                        check(name, eval, x, GoldenLossTest.read(k, d, x.length), 1e-2, byLength ? f.ints("lengths") : null);
                    }
                    case PpoLoss p -> {
                        float[] lp = f.floats("logp"), v = f.floats("values");
                        int n = lp.length;
                        PpoBatch base = f.ppoBatch(k, lp, v);
                        p.advantages(k, base);
                        MemorySegment dl = k.allocFloats(n), dv = k.allocFloats(n);
                        p.compute(k, base, dl, dv);
                        float[] gl = GoldenLossTest.read(k, dl, n), gv = GoldenLossTest.read(k, dv, n);
                        int[] mask = new int[n];
                        float[] fm = f.floats("mask");
                        for (int i = 0; i < n; i++) mask[i] = fm[i] != 0 ? 1 : 0;
                        Function<float[], Double> byLogp = x -> {
                            k.write(base.logp(), x);
                            return p.compute(k, base, dl, dv).loss();
                        };
                        check(name + " dlogp", byLogp, lp, gl, 1e-3, mask);
                        k.write(base.logp(), lp);
                        Function<float[], Double> byValue = x -> {
                            k.write(base.values(), x);
                            return p.compute(k, base, dl, dv).loss();
                        };
                        check(name + " dvalue", byValue, v, gv, 1e-3, mask);
                    }
                    case GrpoLoss g -> { // advantages fixed (computed once per generation batch, as in training)
                        float[] lp = f.floats("logp");
                        int n = lp.length;
                        GrpoBatch base = f.grpoBatch(k, lp);
                        g.advantages(k, base);
                        MemorySegment d = k.allocFloats(n);
                        g.compute(k, base, d);
                        Function<float[], Double> byLogp = x -> {
                            k.write(base.logp(), x);
                            return g.compute(k, base, d).loss();
                        };
                        check(name, byLogp, lp, GoldenLossTest.read(k, d, n), 1e-3, f.ints("mask"));
                    }
                    case KtoLoss t -> {
                        float[] x = f.floats("logp");
                        MemorySegment d = k.allocFloats(x.length);
                        Function<float[], Double> eval = v -> t.compute(k, f.ktoBatch(k, v), d).loss();
                        eval.apply(x);
                        check(name, eval, x, GoldenLossTest.read(k, d, x.length), 1e-2, null);
                    }
                }
                checkedCases++;
            }
        }
        assertTrue(checkedCases >= 38, "cases checked: " + checkedCases);
    }

    /**
     * Checks grad against central differences of eval at x, over coordinates with
     * only[i] &gt; 0 (all when only is null); zero-length sequences and padding must have
     * gradient exactly 0.
     */
    static void check(String name, Function<float[], Double> eval, float[] x, float[] grad, double h, int[] only) {
        double scale = 0;
        for (float g : grad) scale = Math.max(scale, Math.abs(g));
        int checked = 0, skipped = 0;
        double l0 = eval.apply(x.clone());
        for (int i = 0; i < x.length; i++) {
            if (only != null && only[i] <= 0) {
                assertEquals(0f, grad[i], name + ": gradient of an excluded coordinate " + i);
                continue;
            }
            float[] xp = x.clone(), xm = x.clone();
            xp[i] = (float) (x[i] + h);
            xm[i] = (float) (x[i] - h);
            double hp = (double) xp[i] - x[i], hm = (double) x[i] - xm[i];
            double lp = eval.apply(xp), lm = eval.apply(xm);
            double fwd = (lp - l0) / hp, bwd = (l0 - lm) / hm;
            double tol = 2e-3 * (scale + Math.abs(grad[i])) + 1e-7;
            if (Math.abs(fwd - bwd) > 0.1 * Math.max(Math.abs(fwd), Math.abs(bwd)) + tol) {
                skipped++;
                continue;
            }
            double fd = (lp - lm) / (hp + hm);
            assertEquals(fd, grad[i], tol, name + ": d loss / d x[" + i + "]");
            checked++;
        }
        assertTrue(skipped * 4 <= checked + skipped, name + ": skipped " + skipped + " of " + (checked + skipped));
        assertTrue(checked > 0, name + ": nothing checked");
    }
}
