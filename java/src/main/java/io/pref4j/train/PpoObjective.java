package io.pref4j.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import io.pref4j.config.LoopSection;
import io.pref4j.config.TrainConfig;
import io.pref4j.kernel.Kernels;
import io.pref4j.loss.LossResult;
import io.pref4j.loss.PpoBatch;
import io.pref4j.loss.PpoLoss;
import io.pref4j.model.CausalLm;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * PPO: once per rollout (iteration) the per-token rewards, GAE, returns and the advantage
 * whitening run over every response of the rollout ({@link PpoLoss#advantages}), and each
 * response keeps its per-token advantages and returns; then loop.reuse epochs of shuffled
 * row minibatches use them unchanged ({@link PpoLoss#compute}); after the epochs the KL
 * controller sees the rollout's KL.
 */
final class PpoObjective implements Objective {
    private final PpoLoss loss;
    private final GrowBuffers rollout;
    private Map<String, Double> rolloutMetrics = Map.of();

    PpoObjective(PpoLoss loss, Kernels k) {
        this.loss = loss;
        this.rollout = new GrowBuffers(k, 6, 1);
    }

    @Override public boolean needsReference() { return true; }
    @Override public boolean needsReferenceTokens() { return true; }
    @Override public boolean needsOldTokens() { return true; }
    @Override public boolean needsOldValues() { return true; }

    @Override public void check(TrainConfig cfg, CausalLm policy, boolean hasOfflineData) {
        if (!policy.hasHead()) throw new IllegalArgumentException("PPO needs a policy with a value head");
        if (cfg.loop().mode() == LoopSection.Mode.OFFLINE || cfg.loop().mixing() > 0)
            throw new UserInputException("loss.type = ppo learns from its own rollouts: it needs loop.mode = online and loop.mixing = 0");
    }

    @Override public List<List<Engine.Example>> units(Engine.Stored s, boolean offline) {
        List<List<Engine.Example>> out = new ArrayList<>();
        for (Engine.Response r : s.responses()) out.add(List.of(new Engine.Example(s.prompt(), r, null)));
        return out;
    }

    @Override public int minibatchCap(int M, int maxRows) {
        return Math.min(M, maxRows);
    }

    /** GAE, returns and whitening over the whole rollout: each response's advTok and retTok. */
    @Override public Map<String, Double> beginRollout(PolicyPass p, List<Engine.Example> all) {
        Kernels k = p.k;
        int n = all.size(), T = 1;
        for (Engine.Example e : all) T = Math.max(T, e.chosen().ids.length);
        long nt = (long) n * T;
        float[] old = new float[(int) nt], ref = new float[(int) nt], val = new float[(int) nt], scores = new float[n];
        int[] mask = new int[(int) nt];
        for (int r = 0; r < n; r++) {
            Engine.Response resp = all.get(r).chosen();
            scores[r] = (float) resp.reward;
            for (int j = 0; j < resp.ids.length; j++) {
                old[r * T + j] = resp.oldTok[j];
                ref[r * T + j] = resp.refTok[j];
                val[r * T + j] = resp.oldValues[j];
                mask[r * T + j] = 1;
            }
        }
        MemorySegment bOld = rollout.floats(0, nt), bRef = rollout.floats(1, nt), bVal = rollout.floats(2, nt),
                bScores = rollout.floats(3, n), bAdv = rollout.floats(4, nt), bRet = rollout.floats(5, nt),
                bMask = rollout.ints(0, nt);
        k.write(bOld, old);
        k.write(bRef, ref);
        k.write(bVal, val);
        k.write(bScores, scores);
        k.writeInts(bMask, mask);
        Map<String, Double> adv = loss.advantages(k, new PpoBatch(null, bOld, bRef, null, bVal, bScores, bMask, bAdv, bRet,
                n, T, Double.NaN));
        float[] a = new float[(int) nt], ret = new float[(int) nt];
        k.read(bAdv, a);
        k.read(bRet, ret);
        for (int r = 0; r < n; r++) {
            Engine.Response resp = all.get(r).chosen();
            int len = resp.ids.length;
            resp.advTok = java.util.Arrays.copyOfRange(a, r * T, r * T + len);
            resp.retTok = java.util.Arrays.copyOfRange(ret, r * T, r * T + len);
        }
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("rollout_reward", adv.get("reward"));
        m.put("kl", adv.get("kl"));
        m.put("kl_coef", adv.get("kl_coef"));
        rolloutMetrics = m;
        return m;
    }

    @Override public LossResult lossAndBackward(PolicyPass p, List<Engine.Example> mb) {
        Kernels k = p.k;
        List<Sequences.Seq> seqs = p.seqs(mb, false);
        p.forward(seqs);
        int B = p.packed.B, T = p.packed.T;
        float[] scores = new float[B];
        List<float[]> old = new ArrayList<>(), ref = new ArrayList<>(), val = new ArrayList<>(), adv = new ArrayList<>(),
                ret = new ArrayList<>();
        for (int r = 0; r < B; r++) {
            Engine.Response resp = mb.get(r).chosen();
            scores[r] = (float) resp.reward;
            old.add(resp.oldTok);
            ref.add(resp.refTok);
            val.add(resp.oldValues);
            adv.add(resp.advTok);
            ret.add(resp.retTok);
        }
        MemorySegment bOld = p.tokenFloats(0), bRef = p.tokenFloats(1), bVal = p.tokenFloats(2), bAdv = p.tokenFloats(3),
                bRet = p.tokenFloats(4), bMask = p.tokenInts(0);
        k.write(bOld, p.perToken(seqs, old));
        k.write(bRef, p.perToken(seqs, ref));
        k.write(bVal, p.perToken(seqs, val));
        k.write(bAdv, p.perToken(seqs, adv));
        k.write(bRet, p.perToken(seqs, ret));
        k.writeInts(bMask, p.mask(seqs));
        k.write(p.seqReward, scores);
        PpoBatch b = new PpoBatch(p.policy.tokenLogpBuffer(), bOld, bRef, p.policy.headBuffer(), bVal, p.seqReward, bMask,
                bAdv, bRet, B, T, p.meanEntropy());
        LossResult res = loss.compute(k, b, p.tokDlogp, p.tokDvalue);
        p.policy.backwardFromBuffers(p.tokDlogp, null, p.tokDvalue);
        Map<String, Double> m = new LinkedHashMap<>(res.metrics());
        m.putAll(rolloutMetrics);
        return new LossResult(res.loss(), m);
    }

    @Override public void endRollout(List<Engine.Example> all) {
        double kl = 0;
        for (Engine.Example e : all) {
            double sum = 0;
            for (int j = 0; j < e.chosen().ids.length; j++) sum += e.chosen().oldTok[j] - e.chosen().refTok[j];
            kl += sum / all.size();
        }
        loss.klController().update(kl, all.size());
    }

    @Override public void save(ObjectNode state) {
        state.put("kl_coef", loss.klController().coef());
    }

    @Override public void restore(Kernels k, ObjectNode s) {
        if (s.has("kl_coef")) loss.klController().setCoef(s.get("kl_coef").asDouble());
    }
}
