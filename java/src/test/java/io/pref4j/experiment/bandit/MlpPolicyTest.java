package io.pref4j.experiment.bandit;

import io.pref4j.kernel.cpu.CpuKernels;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MlpPolicyTest {

    /** loss = Σ c ⊙ logits for a fixed random c, in double from the float forward. */
    private static double loss(MlpPolicy p, float[] x, int rows, double[] c) {
        float[] z = p.forward(x, rows);
        double s = 0;
        for (int i = 0; i < z.length; i++) s += c[i] * z[i];
        return s;
    }

    @Test
    void backwardMatchesFiniteDifferences() {
        try (CpuKernels k = new CpuKernels(1)) {
            int rows = 3;
            MlpPolicy p = new MlpPolicy(k, rows, 11);
            SplittableRandom rng = new SplittableRandom(5);
            // non-trivial LayerNorm parameters so their gradients are exercised too
            float[] params = p.readParams();
            for (int i = 0; i < MlpPolicy.H1; i++) {
                params[(int) MlpPolicy.LNW + i] = (float) (0.5 + rng.nextDouble());
                params[(int) MlpPolicy.LNB + i] = (float) (rng.nextDouble() - 0.5);
            }
            p.writeParams(params);
            float[] x = new float[rows * MlpPolicy.IN];
            for (int i = 0; i < x.length; i++) x[i] = (float) rng.nextDouble();
            double[] c = new double[rows * MlpPolicy.OUT];
            float[] cf = new float[c.length];
            for (int i = 0; i < c.length; i++) cf[i] = (float) (c[i] = rng.nextGaussian());

            p.forward(x, rows);
            p.zeroGrad();
            p.backward(cf);
            float[] g = p.readGrads();

            // sample coordinates from every tensor; central differences on the float forward: eps 1e-3 keeps rounding near 1e-3 and makes ReLU kinks rare
            long[][] tensors = {{MlpPolicy.W1, MlpPolicy.B1 - MlpPolicy.W1}, {MlpPolicy.B1, MlpPolicy.H1},
                    {MlpPolicy.LNW, MlpPolicy.H1}, {MlpPolicy.LNB, MlpPolicy.H1},
                    {MlpPolicy.W2, MlpPolicy.B2 - MlpPolicy.W2}, {MlpPolicy.B2, MlpPolicy.H2},
                    {MlpPolicy.W3, MlpPolicy.B3 - MlpPolicy.W3}, {MlpPolicy.B3, MlpPolicy.H3},
                    {MlpPolicy.W4, MlpPolicy.B4 - MlpPolicy.W4}, {MlpPolicy.B4, MlpPolicy.OUT}};
            double eps = 1e-3;
            int checked = 0, bad = 0;
            double maxErr = 0;
            StringBuilder where = new StringBuilder();
            for (long[] t : tensors) {
                for (int j = 0; j < 12; j++) {
                    int i = (int) (t[0] + rng.nextLong(t[1]));
                    float old = params[i];
                    params[i] = (float) (old + eps);
                    p.writeParams(params);
                    double up = loss(p, x, rows, c);
                    params[i] = (float) (old - eps);
                    p.writeParams(params);
                    double down = loss(p, x, rows, c);
                    params[i] = old;
                    p.writeParams(params);
                    double fd = (up - down) / (2 * eps);
                    double err = Math.abs(fd - g[i]) / Math.max(1.0, Math.abs(fd));
                    maxErr = Math.max(maxErr, err);
                    checked++;
                    // a ReLU kink inside [old − eps, old + eps] can spoil a single difference
                    if (err > 1e-2) {
                        bad++;
                        where.append(" ").append(i).append(": fd ").append(fd).append(" vs ").append(g[i]);
                    }
                }
            }
            assertTrue(bad <= 1, bad + " of " + checked + " coordinates disagree (max relative error " + maxErr + "):" + where);
        }
    }

    @Test
    void klInitialisationDrivesKlTowardsZero() {
        try (CpuKernels k = new CpuKernels(1)) {
            CategoricalBandit b = new CategoricalBandit(k, 4, new CategoricalBandit.Setup(10, 20, 50, 100, 0.01f));
            assertTrue(b.klBeforeInit() > 0.1, "KL before " + b.klBeforeInit());
            assertTrue(b.klAfterInit() < 0.01, "KL after " + b.klAfterInit());
            assertTrue(b.klAfterInit() < b.klBeforeInit() / 20);
            // the initial policy then scores what π_ref scores
            assertEquals(b.ref().expectation(Reward.R1::of), b.initialReward(Reward.R1), 0.01);
            assertEquals(b.ref().expectation(Reward.R2::of), b.initialReward(Reward.R2), 0.02);
        }
    }

    @Test
    void sequenceKlInitialisationReducesThePerPositionKl() {
        try (CpuKernels k = new CpuKernels(1)) {
            SequenceBandit b = new SequenceBandit(k, 1, new SequenceBandit.Setup(10, 1, 1, 30, 0.01f, 100), 10);
            assertTrue(b.klAfterInit() < b.klBeforeInit() / 5,
                    "per-position KL " + b.klBeforeInit() + " -> " + b.klAfterInit());
        }
    }
}
