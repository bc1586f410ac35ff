package io.pref4j.train;

import io.pref4j.UserInputException;
import io.pref4j.config.LoopSection;
import io.pref4j.config.TrainConfig;
import io.pref4j.kernel.Kernels;
import io.pref4j.loss.GrpoBatch;
import io.pref4j.loss.GrpoLoss;
import io.pref4j.loss.LossResult;
import io.pref4j.model.CausalLm;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * GRPO and its variants (TRL's GRPOTrainer): the C = loop.responses_per_prompt responses of
 * a prompt (TRL's num_generations) are its group; once per iteration the group-relative
 * advantages of every response are computed ({@link GrpoLoss#advantages}); then μ =
 * loop.reuse passes (TRL's num_iterations) of shuffled row minibatches with the clipped
 * per-token loss. With μ = 1 the old policy is the current one detached (ratio 1, as TRL);
 * with μ &gt; 1 it is the sampling policy's per-token log-probs kept at generation. beta = 0
 * runs no reference pass at all.
 */
final class GrpoObjective implements Objective {
    private final GrpoLoss loss;
    private final int reuse, maxCompletion;
    private final GrowBuffers rollout;
    private Map<String, Double> rolloutMetrics = Map.of();

    GrpoObjective(GrpoLoss loss, TrainConfig cfg, Kernels k) {
        this.loss = loss;
        this.reuse = cfg.loop().reuse();
        this.maxCompletion = cfg.sampling().maxNewTokens();
        this.rollout = new GrowBuffers(k, 2, 1);
    }

    @Override public boolean needsReference() {
        return loss.needsReference();
    }

    @Override public boolean needsReferenceTokens() {
        return loss.needsReference();
    }

    @Override public boolean needsOldTokens() {
        return true;
    }

    @Override public boolean needsRewardSpread() {
        return true;
    }

    @Override public void check(TrainConfig cfg, CausalLm policy, boolean hasOfflineData) {
        LoopSection l = cfg.loop();
        if (l.mode() == LoopSection.Mode.OFFLINE || l.mixing() > 0)
            throw new UserInputException("loss.type = grpo samples its own groups: it needs loop.mode = online and loop.mixing = 0");
        if (l.responsesPerPrompt() < loss.minGroupSize())
            throw new UserInputException("loss.type = grpo needs loop.responses_per_prompt (TRL's num_generations) >= "
                    + loss.minGroupSize() + ", got " + l.responsesPerPrompt());
    }

    @Override public List<List<Engine.Example>> units(Engine.Stored s, boolean offline) {
        List<List<Engine.Example>> out = new ArrayList<>();
        for (Engine.Response r : s.responses()) out.add(List.of(new Engine.Example(s.prompt(), r, null)));
        return out;
    }

    @Override public int minibatchCap(int M, int maxRows) {
        return Math.min(M, maxRows);
    }

    @Override public Map<String, Double> beginRollout(PolicyPass p, List<Engine.Example> all) {
        Kernels k = p.k;
        int n = all.size();
        float[] rewards = new float[n];
        int[] groups = new int[n];
        Map<Integer, Integer> ids = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            rewards[i] = (float) all.get(i).chosen().reward;
            groups[i] = ids.computeIfAbsent(all.get(i).prompt(), x -> ids.size());
        }
        MemorySegment r = rollout.floats(0, n), a = rollout.floats(1, n), g = rollout.ints(0, n);
        k.write(r, rewards);
        k.writeInts(g, groups);
        Map<String, Double> m = loss.advantages(k, new GrpoBatch(null, null, null, null, r, g, a, n, 0, ids.size(),
                maxCompletion, Double.NaN));
        float[] adv = new float[n];
        k.read(a, adv);
        for (int i = 0; i < n; i++) all.get(i).chosen().advantage = adv[i];
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("reward_std", m.get("reward_std"));
        out.put("frac_reward_zero_std", m.get("frac_reward_zero_std"));
        rolloutMetrics = out;
        return out;
    }

    @Override public LossResult lossAndBackward(PolicyPass p, List<Engine.Example> mb) {
        Kernels k = p.k;
        int n = mb.size();
        List<Sequences.Seq> seqs = p.seqs(mb, false);
        p.forward(seqs);
        int B = p.packed.B, T = p.packed.T;
        MemorySegment logp = p.policy.tokenLogpBuffer();
        MemorySegment old = logp;
        List<float[]> rows = new ArrayList<>();
        if (reuse > 1) {
            for (Engine.Example e : mb) rows.add(e.chosen().oldTok);
            old = p.tokenFloats(0);
            k.write(old, p.perToken(seqs, rows));
        }
        MemorySegment ref = null;
        if (loss.needsReference()) {
            rows.clear();
            for (Engine.Example e : mb) rows.add(e.chosen().refTok);
            ref = p.tokenFloats(1);
            k.write(ref, p.perToken(seqs, rows));
        }
        MemorySegment mask = p.tokenInts(0);
        k.writeInts(mask, p.mask(seqs));
        float[] adv = new float[n];
        for (int i = 0; i < n; i++) adv[i] = mb.get(i).chosen().advantage;
        k.write(p.seqReward, adv);
        LossResult res = loss.compute(k, new GrpoBatch(logp, old, ref, mask, null, null, p.seqReward, B, T, 0,
                maxCompletion, p.meanEntropy()), p.tokDlogp);
        p.policy.backwardFromBuffers(p.tokDlogp, null, null);
        Map<String, Double> m = new LinkedHashMap<>(res.metrics());
        m.putAll(rolloutMetrics);
        return new LossResult(res.loss(), m);
    }
}
