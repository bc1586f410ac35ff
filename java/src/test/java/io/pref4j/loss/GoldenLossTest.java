package io.pref4j.loss;

import io.pref4j.io.SafeTensors;
import io.pref4j.kernel.cpu.CpuKernels;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.pref4j.loss.LossFixture.relErr;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Every loss variant through the typed API and the CPU kernels against PyTorch autograd in
 * float64 (tools/golden/make_loss_fixtures.py): the loss, the gradients (relative error
 * ‖got − want‖/‖want‖ ≤ 1e-5; inputs are float32-exact, the kernels run in double and
 * round only their outputs to float32) and every metric (|got − want| ≤ 1e-5·max(1, |want|)).
 */
class GoldenLossTest {

    static final double TOL = 1e-5;

    @Test
    void everyCaseMatchesPyTorch() {
        Set<String> types = new HashSet<>();
        try (SafeTensors st = SafeTensors.open(LossFixture.FILE); CpuKernels k = new CpuKernels(1)) {
            List<String> cases = LossFixture.cases(st);
            assertTrue(cases.size() >= 42, "cases: " + cases);
            for (String name : cases) {
                LossFixture f = new LossFixture(st, name);
                check(k, f);
                types.add(f.config.type());
            }
        }
        assertEquals(Set.copyOf(LossConfig.TYPES), types, "every loss type has a golden case");
    }

    static void check(CpuKernels k, LossFixture f) {
        Loss loss = Losses.create(f.config);
        switch (loss) {
            case PairwiseLoss p -> {
                float[] logp = f.floats("logp");
                MemorySegment d = k.allocFloats(logp.length);
                LossResult r = p.compute(k, f.pairBatch(k, logp), d);
                assertResult(f, r, read(k, d, logp.length), "dlogp");
            }
            case SampleLoss s -> {
                float[] logp = f.floats("logp");
                if (f.has("state_in")) {
                    float[] st = f.floats("state_in");
                    s.setBaselineState(k, st[0], st[1] != 0);
                }
                MemorySegment d = k.allocFloats(logp.length);
                LossResult r = s.compute(k, f.sampleBatch(k, logp), d);
                assertResult(f, r, read(k, d, logp.length), "dlogp");
                if (f.has("state_out")) {
                    double[] got = s.baselineState();
                    float[] want = f.floats("state_out");
                    assertEquals(want[0], got[0], TOL * Math.max(1, Math.abs(want[0])), f.name + ": baseline state");
                    assertEquals(want[1], got[1], 0, f.name + ": baseline initialised");
                }
            }
            case PpoLoss p -> {
                float[] logp = f.floats("logp");
                int n = logp.length;
                assertEquals(f.floats("kl_coef")[0], (float) p.klController().coef(), f.name + ": kl coef");
                PpoBatch b = f.ppoBatch(k, logp, f.floats("values"));
                Map<String, Double> ma = p.advantages(k, b);
                assertMetrics(f.name + " (rollout)", ma, f.metrics("ma"));
                double ea = relErr(read(k, b.advantages(), n), f.floats("adv"));
                assertTrue(ea <= TOL, f.name + ": advantages, relative error " + ea);
                double er = relErr(read(k, b.returns(), n), f.floats("returns"));
                assertTrue(er <= TOL, f.name + ": returns, relative error " + er);
                MemorySegment dl = k.allocFloats(n), dv = k.allocFloats(n);
                LossResult r = p.compute(k, b, dl, dv);
                assertResult(f, r, read(k, dl, n), "dlogp");
                double ev = relErr(read(k, dv, n), f.floats("dvalue"));
                assertTrue(ev <= TOL, f.name + ": dvalue, relative error " + ev);
            }
            case GrpoLoss g -> {
                float[] logp = f.floats("logp");
                int n = logp.length;
                GrpoBatch b = f.grpoBatch(k, logp);
                assertMetrics(f.name + " (advantages)", g.advantages(k, b), f.metrics("ma"));
                double ea = relErr(read(k, b.advantages(), b.rows()), f.floats("adv"));
                assertTrue(ea <= TOL, f.name + ": advantages, relative error " + ea);
                MemorySegment d = k.allocFloats(n);
                LossResult r = g.compute(k, b, d);
                assertResult(f, r, read(k, d, n), "dlogp");
            }
            case KtoLoss t -> {
                float[] logp = f.floats("logp");
                float[] kl = f.floats("kl_logp"), klRef = f.floats("kl_ref_logp");
                double z = KtoLoss.klEstimate(k, LossFixture.upload(k, kl), LossFixture.upload(k, klRef), kl.length);
                assertEquals(f.floats("z_ref")[0], (float) z, f.name + ": the KL reference point");
                MemorySegment d = k.allocFloats(logp.length);
                LossResult r = t.compute(k, f.ktoBatch(k, logp), d);
                assertResult(f, r, read(k, d, logp.length), "dlogp");
            }
        }
    }

    static void assertResult(LossFixture f, LossResult r, float[] grad, String gradName) {
        double want = f.floats("loss")[0];
        assertEquals(want, r.loss(), TOL * Math.abs(want), f.name + ": loss");
        double e = relErr(grad, f.floats(gradName));
        assertTrue(e <= TOL, f.name + ": " + gradName + ", relative error " + e);
        assertMetrics(f.name, r.metrics(), f.metrics("m"));
    }

    static void assertMetrics(String name, Map<String, Double> got, Map<String, Double> want) {
        assertEquals(want.keySet(), got.keySet(), name + ": metric names");
        for (var e : want.entrySet()) {
            double w = e.getValue(), g = got.get(e.getKey());
            assertEquals(w, g, TOL * Math.max(1, Math.abs(w)), name + ": metric " + e.getKey());
        }
    }

    static float[] read(CpuKernels k, MemorySegment x, int n) {
        float[] out = new float[n];
        k.read(x, out);
        return out;
    }
}
