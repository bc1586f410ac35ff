package io.pref4j.train;

import io.pref4j.kernel.Kernels;
import io.pref4j.loss.LossResult;
import io.pref4j.loss.PairBatch;
import io.pref4j.loss.PairwiseLoss;

import java.util.ArrayList;
import java.util.List;

/**
 * dpo, ipo, hinge, wdpo, and the reference-free simpo and orpo: every stored pair is a unit;
 * a minibatch of n pairs is one forward of 2n rows (chosen, then rejected) and one
 * {@link PairwiseLoss} call. simpo/orpo skip the reference pass and pass the response
 * lengths instead.
 */
final class PairwiseObjective implements Objective {
    private final PairwiseLoss loss;

    PairwiseObjective(PairwiseLoss loss) {
        this.loss = loss;
    }

    @Override public boolean needsReference() {
        return loss.needsReference();
    }

    @Override public boolean scoresOfflineData() {
        return loss.needsRewards();
    }

    @Override public List<List<Engine.Example>> units(Engine.Stored s, boolean offline) {
        List<List<Engine.Example>> out = new ArrayList<>();
        for (Pairs.Pair p : s.pairs())
            out.add(List.of(new Engine.Example(s.prompt(), s.responses()[p.chosen()], s.responses()[p.rejected()])));
        return out;
    }

    @Override public int minibatchCap(int M, int maxRows) {
        return Math.min(M, maxRows / 2);
    }

    @Override public int examplesPerPrompt(int responsesPerPrompt) {
        return 1;
    }

    @Override public LossResult lossAndBackward(PolicyPass p, List<Engine.Example> mb) {
        Kernels k = p.k;
        int n = mb.size();
        List<Sequences.Seq> seqs = new ArrayList<>(p.seqs(mb, false));
        seqs.addAll(p.seqs(mb, true));
        float[] refs = new float[2 * n], rewards = new float[2 * n];
        int[] lens = new int[2 * n], ci = new int[n], ri = new int[n];
        for (int i = 0; i < n; i++) {
            Engine.Example e = mb.get(i);
            refs[i] = (float) e.chosen().refLogp;
            rewards[i] = (float) e.chosen().reward;
            lens[i] = e.chosen().ids.length;
            refs[n + i] = (float) e.rejected().refLogp;
            rewards[n + i] = (float) e.rejected().reward;
            lens[n + i] = e.rejected().ids.length;
            ci[i] = i;
            ri[i] = n + i;
        }
        p.forward(seqs);
        p.rowLogp();
        k.write(p.seqRef, refs);
        k.write(p.seqReward, rewards);
        k.writeInts(p.idxA, ci);
        k.writeInts(p.idxB, ri);
        if (loss.needsLengths()) k.writeInts(p.intsA, lens);
        LossResult res = loss.compute(k, new PairBatch(p.seqLogp, loss.needsReference() ? p.seqRef : null, p.seqReward,
                p.idxA, p.idxB, 2 * n, n, loss.needsLengths() ? p.intsA : null), p.seqDlogp);
        p.backwardPerSequence();
        return res;
    }
}
