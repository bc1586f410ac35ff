package io.pref4j.train;

import io.pref4j.UserInputException;
import io.pref4j.config.LoopSection;
import io.pref4j.config.TrainConfig;
import io.pref4j.kernel.Kernels;
import io.pref4j.loss.KtoBatch;
import io.pref4j.loss.KtoLoss;
import io.pref4j.loss.LossResult;
import io.pref4j.model.CausalLm;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * KTO (offline): every labelled completion is a unit — a preference pair gives its chosen
 * response as desirable and its rejected one as undesirable, an unpaired line
 * {@code {"prompt", "completion", "label"}} itself. Per minibatch of n examples the KL
 * reference point z_ref comes, as in TRL, from mismatched pairs: completion i after prompt
 * (i+1) mod n, scored by the policy and the reference without gradient
 * ({@link KtoLoss#klEstimate}); pairs longer than the model's context are left out of it.
 */
final class KtoObjective implements Objective {
    private final KtoLoss loss;

    KtoObjective(KtoLoss loss) {
        this.loss = loss;
    }

    @Override public boolean needsReference() {
        return true;
    }

    @Override public boolean scoresOfflineData() {
        return false;
    }

    @Override public boolean acceptsUnpaired() {
        return true;
    }

    @Override public void check(TrainConfig cfg, CausalLm policy, boolean hasOfflineData) {
        if (cfg.loop().mode() != LoopSection.Mode.OFFLINE)
            throw new UserInputException("loss.type = kto trains on labelled data only: set loop.mode = offline and data.preferences "
                    + "(pairs, or unpaired {\"prompt\", \"completion\", \"label\"} lines)");
    }

    @Override public List<List<Engine.Example>> units(Engine.Stored s, boolean offline) {
        List<List<Engine.Example>> out = new ArrayList<>();
        for (Engine.Response r : s.responses()) out.add(List.of(new Engine.Example(s.prompt(), r, null)));
        return out;
    }

    @Override public int minibatchCap(int M, int maxRows) {
        return Math.min(M, maxRows);
    }

    @Override public LossResult lossAndBackward(PolicyPass p, List<Engine.Example> mb) {
        Kernels k = p.k;
        int n = mb.size();
        // z_ref: mismatched prompt-completion pairs, no gradient (before the batch's own forward)
        List<Sequences.Seq> kl = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Sequences.Seq s = new Sequences.Seq(p.promptIds(mb.get((i + 1) % n).prompt()), mb.get(i).chosen().ids);
            if (s.length() <= Math.min(p.policy.maxT(), p.ref.maxT())) kl.add(s);
        }
        double zRef = 0;
        if (!kl.isEmpty()) {
            double[] a = Sequences.logp(p.policy, kl, p.eos), r = Sequences.logp(p.ref, kl, p.eos);
            MemorySegment ba = p.tokenFloats(0), br = p.tokenFloats(1);
            k.write(ba, toFloats(a));
            k.write(br, toFloats(r));
            zRef = KtoLoss.klEstimate(k, ba, br, kl.size());
        }
        float[] refs = new float[n];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            refs[i] = (float) mb.get(i).chosen().refLogp;
            labels[i] = mb.get(i).chosen().label;
        }
        p.forward(p.seqs(mb, false));
        p.rowLogp();
        k.write(p.seqRef, refs);
        k.writeInts(p.intsA, labels);
        LossResult res = loss.compute(k, new KtoBatch(p.seqLogp, p.seqRef, p.intsA, n, zRef), p.seqDlogp);
        p.backwardPerSequence();
        return res;
    }

    private static float[] toFloats(double[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = (float) x[i];
        return out;
    }
}
