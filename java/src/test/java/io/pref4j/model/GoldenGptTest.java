package io.pref4j.model;

import io.pref4j.io.SafeTensors;
import io.pref4j.kernel.cpu.CpuKernels;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The CPU GPT-2 against PyTorch autograd in float64 (fixtures from
 * tools/golden/make_fixtures.py): logits, per-token and per-sequence log-probs, the loss and
 * every parameter gradient, each within a relative error (‖got − want‖ / ‖want‖) of 1e-5.
 */
class GoldenGptTest {

    static final double TOL = 1e-5;
    static final Path DIR = Path.of("src", "test", "resources", "golden");

    static GptConfig config(SafeTensors st) {
        Map<String, String> m = st.metadata();
        return new GptConfig(Integer.parseInt(m.get("n_positions")), Integer.parseInt(m.get("vocab_size")),
                Integer.parseInt(m.get("n_layer")), Integer.parseInt(m.get("n_head")), Integer.parseInt(m.get("n_embd")));
    }

    static int[] ints(float[] x) {
        int[] out = new int[x.length];
        for (int i = 0; i < x.length; i++) out[i] = Math.round(x[i]);
        return out;
    }

    static double relErr(float[] got, float[] want) {
        assertEquals(want.length, got.length);
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            double d = (double) got[i] - want[i];
            num += d * d;
            den += (double) want[i] * want[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }

    static void load(Gpt m, SafeTensors st) {
        for (ParameterLayout.Entry e : m.layout().entries()) m.writeParam(e.name(), st.floats("param." + e.name()));
    }

    static void assertGradients(Gpt m, SafeTensors st) {
        int checked = 0;
        for (ParameterLayout.Entry e : m.layout().entries()) {
            float[] want = st.floats("grad." + e.name());
            double err = relErr(m.readGrad(e.name()), want);
            assertTrue(err <= TOL, "gradient of " + e.name() + ": relative error " + err);
            checked++;
        }
        assertEquals(m.layout().entries().size(), checked);
    }

    @Test
    void dpoForwardLossAndGradientsMatchPyTorch() {
        try (SafeTensors st = SafeTensors.open(DIR.resolve("gpt_dpo.safetensors")); CpuKernels k = new CpuKernels(2)) {
            GptConfig cfg = config(st);
            int[] lengths = ints(st.floats("in.lengths"));
            int B = lengths.length;
            int[] tokens = ints(st.floats("in.tokens"));
            int T = tokens.length / B;
            int[] targets = ints(st.floats("in.targets"));
            float[] ref = st.floats("in.ref_logp");
            double beta = st.floats("in.beta")[0];
            int V = cfg.vocabSize(), P = B / 2;

            Gpt m = new Gpt(k, cfg, B, T);
            load(m, st);
            m.forward(tokens, lengths, targets, B, T);

            // logits at real positions (padding rows are defined differently and unused)
            float[] logits = m.fullLogits(), wantLogits = st.floats("out.logits");
            int real = 0;
            for (int b = 0; b < B; b++) real += lengths[b];
            float[] g = new float[real * V], w = new float[real * V];
            int r = 0;
            for (int b = 0; b < B; b++) {
                for (int t = 0; t < lengths[b]; t++, r++) {
                    System.arraycopy(logits, (b * T + t) * V, g, r * V, V);
                    System.arraycopy(wantLogits, (b * T + t) * V, w, r * V, V);
                }
            }
            assertTrue(relErr(g, w) <= TOL, "logits: relative error " + relErr(g, w));

            float[] tokLogp = m.tokenLogp();
            assertTrue(relErr(tokLogp, st.floats("out.token_logp")) <= TOL, "token log-probs");
            float[] seq = new float[B];
            for (int i = 0; i < B * T; i++) if (targets[i] >= 0) seq[i / T] += tokLogp[i];
            assertTrue(relErr(seq, st.floats("out.seq_logp")) <= TOL, "sequence log-probs " + relErr(seq, st.floats("out.seq_logp")));

            // DPO loss and its gradient with respect to each sequence's log-prob
            double loss = 0;
            double[] dseq = new double[B];
            for (int i = 0; i < P; i++) {
                double h = (seq[i] - ref[i]) - (seq[P + i] - ref[P + i]);
                loss += -logSigmoid(beta * h) / P;
                double d = -beta * sigmoid(-beta * h) / P;
                dseq[i] = d;
                dseq[P + i] = -d;
            }
            float want = st.floats("out.loss")[0];
            assertEquals(want, loss, TOL * Math.abs(want), "DPO loss");

            float[] dlogp = new float[B * T];
            for (int i = 0; i < B * T; i++) if (targets[i] >= 0) dlogp[i] = (float) dseq[i / T];
            m.zeroGrad();
            m.backward(dlogp);
            assertGradients(m, st);
        }
    }

    @Test
    void rewardModelHeadMatchesPyTorch() {
        try (SafeTensors st = SafeTensors.open(DIR.resolve("gpt_rm.safetensors")); CpuKernels k = new CpuKernels(2)) {
            GptConfig cfg = config(st);
            int[] lengths = ints(st.floats("in.lengths"));
            int B = lengths.length, P = B / 2;
            int[] tokens = ints(st.floats("in.tokens"));
            int T = tokens.length / B;
            Gpt m = new Gpt(k, cfg, B, T, true);
            load(m, st);
            m.forward(tokens, lengths, null, B, T);
            float[] values = m.headValues();
            float[] rewards = new float[B];
            for (int b = 0; b < B; b++) rewards[b] = values[b * T + lengths[b] - 1];
            assertTrue(relErr(rewards, st.floats("out.rewards")) <= TOL, "rewards");
            double center = st.floats("in.center")[0];
            double loss = 0;
            float[] dhead = new float[B * T];
            for (int b = 0; b < B; b++) {
                loss += center * rewards[b] * rewards[b] / B;
                dhead[b * T + lengths[b] - 1] = (float) (2 * center * rewards[b] / B);
            }
            for (int i = 0; i < P; i++) {
                double margin = rewards[i] - rewards[P + i];
                loss += -logSigmoid(margin) / P;
                double d = -sigmoid(-margin) / P;
                dhead[i * T + lengths[i] - 1] += (float) d;
                dhead[(P + i) * T + lengths[P + i] - 1] += (float) -d;
            }
            float want = st.floats("out.loss")[0];
            assertEquals(want, loss, TOL * Math.abs(want), "reward-model loss");
            m.zeroGrad();
            m.backward(null, null, dhead);
            assertGradients(m, st);
        }
    }

    static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    static double logSigmoid(double x) {
        return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
    }
}
