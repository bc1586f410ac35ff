package io.pref4j.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import io.pref4j.config.LoopSection;
import io.pref4j.config.TrainConfig;
import io.pref4j.kernel.Kernels;
import io.pref4j.loss.LossResult;
import io.pref4j.loss.SampleBatch;
import io.pref4j.loss.SampleLoss;
import io.pref4j.model.CausalLm;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * sft/nll, rwr, bon and reinforce (with the rloo and per-prompt baselines): a prompt's
 * responses are one unit (the group the per-prompt statistics need); offline sft trains on
 * the chosen response only. One {@link SampleLoss} call per minibatch.
 */
final class SampleObjective implements Objective {
    private final SampleLoss loss;
    private final boolean sft;

    SampleObjective(SampleLoss loss, boolean sft) {
        this.loss = loss;
        this.sft = sft;
    }

    @Override public boolean needsReference() {
        return true;   // the kl metric, and reinforce's KL penalty
    }

    @Override public boolean scoresOfflineData() {
        return !sft;
    }

    @Override public void check(TrainConfig cfg, CausalLm policy, boolean hasOfflineData) {
        if (cfg.loop().mode() == LoopSection.Mode.ONLINE && cfg.loop().responsesPerPrompt() < loss.minGroupSize())
            throw new UserInputException("loss.baseline = " + cfg.loss().baseline() + " needs loop.responses_per_prompt >= "
                    + loss.minGroupSize() + ", got " + cfg.loop().responsesPerPrompt());
    }

    @Override public List<List<Engine.Example>> units(Engine.Stored s, boolean offline) {
        Engine.Response[] rs = offline && sft ? new Engine.Response[]{s.responses()[0]} : s.responses();
        List<Engine.Example> g = new ArrayList<>();
        for (Engine.Response r : rs) g.add(new Engine.Example(s.prompt(), r, null));
        return List.of(g);
    }

    @Override public int minibatchCap(int M, int maxRows) {
        return Math.min(M, maxRows);
    }

    @Override public LossResult lossAndBackward(PolicyPass p, List<Engine.Example> mb) {
        Kernels k = p.k;
        int n = mb.size();
        float[] refs = new float[n], rewards = new float[n];
        int[] lens = new int[n], grp = new int[n];
        Map<Integer, Integer> groupIds = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            Engine.Example e = mb.get(i);
            refs[i] = (float) e.chosen().refLogp;
            rewards[i] = (float) e.chosen().reward;
            lens[i] = e.chosen().ids.length;
            grp[i] = groupIds.computeIfAbsent(e.prompt(), x -> groupIds.size());
        }
        p.forward(p.seqs(mb, false));
        p.rowLogp();
        k.write(p.seqRef, refs);
        k.write(p.seqReward, rewards);
        k.writeInts(p.intsA, lens);
        k.writeInts(p.intsB, grp);
        LossResult res = loss.compute(k, new SampleBatch(p.seqLogp, p.seqRef, p.intsA, p.seqReward, p.intsB, n,
                groupIds.size(), p.meanEntropy()), p.seqDlogp);
        p.backwardPerSequence();
        return res;
    }

    @Override public void save(ObjectNode state) {
        double[] b = loss.baselineState();
        state.putArray("baseline").add(b[0]).add(b[1]);
    }

    @Override public void restore(Kernels k, ObjectNode s) {
        if (s.has("baseline")) loss.setBaselineState(k, s.get("baseline").get(0).asDouble(), s.get("baseline").get(1).asDouble() != 0);
    }
}
