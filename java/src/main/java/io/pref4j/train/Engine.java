package io.pref4j.train;

import io.pref4j.model.CausalLm;
import io.pref4j.config.LoopSection;
import io.pref4j.config.OptimSection;
import io.pref4j.config.OptuneSection;
import io.pref4j.config.TrainConfig;
import io.pref4j.kernel.CounterRng;
import io.pref4j.kernel.Kernels;
import io.pref4j.loss.LossResult;
import io.pref4j.loss.PairBatch;
import io.pref4j.loss.PairwiseLoss;
import io.pref4j.loss.PpoBatch;
import io.pref4j.loss.PpoLoss;
import io.pref4j.loss.SampleBatch;
import io.pref4j.loss.SampleLoss;
import io.pref4j.reward.Completion;
import io.pref4j.reward.RewardSource;
import io.pref4j.sample.Generator;
import io.pref4j.text.Tokenizer;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * The one loop behind every trainer (SPEC §3). Each iteration: take B prompts; obtain C
 * responses per prompt (sampled from the current policy online — with OPTune only for the
 * lowest-ranked ⌈ρB⌉ prompts, the others keeping their stored responses — or taken from the
 * preference data offline, with a mixing ratio between the two); score them with the reward
 * source; build the examples the loss needs; compute reference log-probs once per new
 * response; then T passes of shuffled minibatches with gradient accumulation, clipping and
 * AdamW. All randomness is a function of (seed, iteration), so a run resumed from a
 * checkpoint continues exactly as if never stopped.
 */
public final class Engine {

    /** A prompt of the pool. */
    public record Prompt(String text, int[] ids) {}

    /** A preference pair of the offline data (token ids; responses without end-of-text). */
    public record OfflinePair(Prompt prompt, String chosen, int[] chosenIds, String rejected, int[] rejectedIds) {}

    /**
     * A response with everything computed once: its tokens (ending with end-of-text when the
     * policy stopped), reward, reference log-prob sum, and for PPO the rollout's per-token
     * log-probs, reference log-probs and values over the response tokens.
     */
    public static final class Response {
        final int[] ids;
        final boolean eos;
        double reward = Double.NaN;
        double refLogp = Double.NaN;
        float[] oldTok, refTok, oldValues;

        Response(int[] ids, boolean eos) {
            this.ids = ids;
            this.eos = eos;
        }

        public int[] ids() { return ids; }
        public boolean eos() { return eos; }
        public double reward() { return reward; }
        public double refLogp() { return refLogp; }

        /** Response tokens without the trailing end-of-text (what rewards measure). */
        int[] content(int eosId) {
            return eos && ids.length > 0 ? Arrays.copyOf(ids, ids.length - 1) : ids;
        }
    }

    /** A prompt's current responses and the pairs built from them (OPTune's stored set). */
    public record Stored(int prompt, Response[] responses, List<Pairs.Pair> pairs) {
        /** OPTune's rank statistic: the reward of the chosen response (or the mean of the pair). */
        double rank(boolean mean) {
            if (pairs.isEmpty()) return Double.NEGATIVE_INFINITY;
            Pairs.Pair p = pairs.get(0);
            double c = responses[p.chosen()].reward;
            return mean ? 0.5 * (c + responses[p.rejected()].reward) : c;
        }
    }

    /** One training example: a pair (rejected ≠ null) or a sample in a prompt group. */
    record Example(int prompt, Response chosen, Response rejected) {}

    /** What one iteration did. */
    public record IterationStats(int iteration, int steps, double rewardMean, int regenerated, int examples,
                                 double tGeneration, double tReward, double tReference, double tTrain,
                                 Map<String, Double> lastMetrics) {}

    /** Receives one line of metrics per optimiser step and the iteration summaries. */
    public interface Listener {
        void step(Map<String, Object> metrics);

        default void iteration(IterationStats stats) {}
    }

    private final TrainConfig cfg;
    private final Kernels k;
    private final Tokenizer tok;
    private final CausalLm policy, ref;
    private final RewardSource reward;
    private final io.pref4j.loss.Loss loss;
    private final AdamW opt;
    private final io.pref4j.train.run.NanGuard nanGuard = new io.pref4j.train.run.NanGuard();
    private final Generator gen;
    private final List<Prompt> prompts;
    private final List<OfflinePair> offline;
    private final int eos;
    private final long seed;

    // state that a checkpoint must carry
    private int iteration;
    private int step;
    private final TreeMap<Integer, Stored> store = new TreeMap<>();
    private final Map<Integer, double[]> offlineCache = new java.util.HashMap<>();

    // per-minibatch buffers, allocated once
    private final int maxRows, maxT;
    private final Sequences.Packed packed;
    private final MemorySegment seqLogp, seqRef, seqReward, seqDlogp, chosenIdx, rejectedIdx, lengthsBuf, groupsBuf;
    private final MemorySegment tokDlogp, tokDvalue, ppoOldLogp, ppoRef, ppoOldValues, ppoScores, ppoMask, ppoAdv, ppoRet;
    private long tokensSinceStep;

    /**
     * @param policy   the model being trained (with a head for PPO's value head)
     * @param ref      the frozen reference model (may be the same object only if it is never trained: not here)
     * @param prompts  the prompt pool (online)
     * @param offline  the preference data (offline mode and mixing), may be empty
     */
    public Engine(TrainConfig cfg, Kernels k, Tokenizer tok, CausalLm policy, CausalLm ref, RewardSource reward,
                  io.pref4j.loss.Loss loss, List<Prompt> prompts, List<OfflinePair> offline) {
        this.cfg = cfg;
        this.k = k;
        this.tok = tok;
        this.policy = policy;
        this.ref = ref;
        this.reward = reward;
        this.loss = loss;
        this.prompts = prompts;
        this.offline = offline;
        this.eos = tok.eosId();
        this.seed = cfg.run().seed();
        OptimSection o = cfg.optim();
        this.opt = new AdamW(k, policy.layout(), policy.params(), policy.grads(),
                (float) o.beta1(), (float) o.beta2(), (float) o.eps(), (float) o.weightDecay());
        this.gen = new Generator(policy);
        this.maxRows = policy.maxBatch();
        this.maxT = policy.maxT();
        this.packed = new Sequences.Packed(maxRows, maxT);
        seqLogp = k.allocFloats(maxRows);
        seqRef = k.allocFloats(maxRows);
        seqReward = k.allocFloats(maxRows);
        seqDlogp = k.allocFloats(maxRows);
        chosenIdx = k.allocInts(maxRows);
        rejectedIdx = k.allocInts(maxRows);
        lengthsBuf = k.allocInts(maxRows);
        groupsBuf = k.allocInts(maxRows);
        long nt = (long) maxRows * maxT;
        tokDlogp = k.allocFloats(nt);
        tokDvalue = k.allocFloats(nt);
        boolean ppo = loss instanceof PpoLoss;
        ppoOldLogp = ppo ? k.allocFloats(nt) : null;
        ppoRef = ppo ? k.allocFloats(nt) : null;
        ppoOldValues = ppo ? k.allocFloats(nt) : null;
        ppoScores = ppo ? k.allocFloats(maxRows) : null;
        ppoMask = ppo ? k.allocInts(nt) : null;
        ppoAdv = ppo ? k.allocFloats(nt) : null;
        ppoRet = ppo ? k.allocFloats(nt) : null;
        if (ppo && !policy.hasHead()) throw new IllegalArgumentException("PPO needs a policy with a value head");
    }

    public int iteration() { return iteration; }
    public int step() { return step; }
    public AdamW optimizer() { return opt; }
    /** Stops the run on a NaN or Inf loss or gradient norm (before the update is applied). */
    public io.pref4j.train.run.NanGuard nanGuard() { return nanGuard; }
    public CausalLm policy() { return policy; }
    /** The policy's generator (its buffers are reused by every generation of the run). */
    public Generator generator() { return gen; }
    public TreeMap<Integer, Stored> store() { return store; }

    /** Restores the counters a checkpoint saved (weights and moments are restored by the caller). */
    public void restore(int iteration, int step) {
        this.iteration = iteration;
        this.step = step;
    }

    /** The randomness of one iteration and purpose: a pure function of (seed, iteration, purpose). */
    private SplittableRandom rng(int it, int purpose) {
        return new SplittableRandom(CounterRng.mix(CounterRng.mix(seed ^ 0x5DEECE66DL) + it * 0x9E3779B97F4A7C15L + purpose));
    }

    /** Index of the n-th prompt drawn: the pool in a fresh permutation every epoch. */
    int promptAt(long n, int poolSize) {
        int epoch = (int) (n / poolSize), pos = (int) (n % poolSize);
        int[] perm = permutation(poolSize, rng(-1 - epoch, 7));
        return perm[pos];
    }

    private static int[] permutation(int n, SplittableRandom r) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /**
     * The learning rate of optimiser step s in iteration it: linear warm-up over the first
     * optim.warmup steps, then constant, or a cosine over the iterations down to
     * min_lr_fraction. A function of (step, iteration) only, so a resumed run follows the
     * same schedule.
     */
    private float lr(int s, int it) {
        OptimSection o = cfg.optim();
        if (s < o.warmup()) return (float) (o.lr() * (s + 1) / o.warmup());
        if (o.schedule() == OptimSection.Schedule.CONSTANT) return (float) o.lr();
        double progress = (double) it / Math.max(1, cfg.loop().iterations());
        double cos = 0.5 * (1 + Math.cos(Math.PI * progress));
        return (float) (o.lr() * (o.minLrFraction() + (1 - o.minLrFraction()) * cos));
    }

    // ------------------------------------------------------------------ the loop

    /** Runs iterations until loop.iterations, calling the listener; returns the last iteration's stats. */
    public IterationStats run(Listener listener, java.util.function.IntPredicate afterIteration) {
        IterationStats last = null;
        while (iteration < cfg.loop().iterations()) {
            last = iterate(listener);
            listener.iteration(last);
            if (afterIteration != null && !afterIteration.test(iteration)) break;
        }
        return last;
    }

    /** One iteration of SPEC §3. */
    public IterationStats iterate(Listener listener) {
        LoopSection loop = cfg.loop();
        int it = iteration;
        int B = loop.promptBatch();
        boolean online = loop.mode() == LoopSection.Mode.ONLINE;
        int nOffline = online ? (int) Math.round(loop.mixing() * B) : B;
        if (nOffline > 0 && offline.isEmpty())
            throw new io.pref4j.UserInputException("loop.mode = offline or loop.mixing > 0 needs data.preferences");
        int nOnline = B - nOffline;
        double tGen = 0, tRew = 0, tRef = 0;
        int regenerated = 0;
        List<Stored> batch = new ArrayList<>();
        List<Response> fresh = new ArrayList<>();

        // 1-2. online prompts: regenerate (all, or OPTune's selection), reuse the rest
        if (nOnline > 0) {
            int[] idx = new int[nOnline];
            for (int i = 0; i < nOnline; i++) idx[i] = promptAt((long) it * nOnline + i, prompts.size());
            OptuneSection ot = cfg.optune();
            double[] rank = new double[nOnline];
            for (int i = 0; i < nOnline; i++) {
                Stored s = store.get(idx[i]);
                rank[i] = s == null ? Double.NaN : s.rank(ot.rankBy() == OptuneSection.RankBy.MEAN);
            }
            int[] regen = ot.enabled()
                    ? OptuneSelector.select(rank, ot.rho(), OptuneSelector.Selection.valueOf(ot.selection().name()), rng(it, 1))
                    : OptuneSelector.select(rank, 1.0, OptuneSelector.Selection.ALL, null);
            regenerated = regen.length;
            long t0 = System.nanoTime();
            Response[][] responses = generate(idx, regen, it);
            tGen = secs(t0);
            t0 = System.nanoTime();
            List<Completion> toScore = new ArrayList<>();
            for (int r = 0; r < regen.length; r++) {
                Prompt p = prompts.get(idx[regen[r]]);
                for (Response resp : responses[r]) {
                    int[] content = resp.content(eos);
                    toScore.add(new Completion(p.text(), tok.decode(content), p.ids(), content));
                    fresh.add(resp);
                }
            }
            double[] scores = toScore.isEmpty() ? new double[0] : reward.score(toScore);
            for (int i = 0; i < scores.length; i++) fresh.get(i).reward = scores[i];
            tRew = secs(t0);
            for (int r = 0; r < regen.length; r++) {
                int pi = idx[regen[r]];
                double[] rw = Arrays.stream(responses[r]).mapToDouble(x -> x.reward).toArray();
                store.put(pi, new Stored(pi, responses[r], Pairs.build(rw, pairMode(), loop.threshold())));
            }
            for (int i = 0; i < nOnline; i++) batch.add(store.get(idx[i]));
            // 4. reference log-probs of the new responses only
            t0 = System.nanoTime();
            List<Sequences.Seq> seqs = new ArrayList<>();
            List<Response> owners = new ArrayList<>();
            for (int r = 0; r < regen.length; r++) {
                Prompt p = prompts.get(idx[regen[r]]);
                for (Response resp : responses[r]) {
                    seqs.add(new Sequences.Seq(p.ids(), resp.ids));
                    owners.add(resp);
                }
            }
            referenceLogps(seqs, owners);
            tRef = secs(t0);
        }

        // offline part: pairs from the preference data (reference log-probs cached per pair)
        List<Stored> offBatch = new ArrayList<>();
        if (nOffline > 0) {
            long t0 = System.nanoTime();
            for (int i = 0; i < nOffline; i++) {
                int di = promptAt((long) it * nOffline + i, offline.size());
                offBatch.add(offlineStored(di));
            }
            tRef += secs(t0);
        }

        // 3. examples
        List<Example> examples = new ArrayList<>();
        List<List<Example>> groups = new ArrayList<>();
        double rewardSum = 0;
        int rewardCount = 0;
        for (Stored s : batch) {
            for (Response r : s.responses()) {
                rewardSum += r.reward;
                rewardCount++;
            }
        }
        for (List<Stored> part : List.of(batch, offBatch)) {
            for (Stored s : part) {
                if (loss instanceof PairwiseLoss) {
                    for (Pairs.Pair p : s.pairs()) examples.add(new Example(s.prompt(), s.responses()[p.chosen()], s.responses()[p.rejected()]));
                } else {
                    List<Example> g = new ArrayList<>();
                    boolean sftOnChosen = part == offBatch && isSft();
                    Response[] rs = sftOnChosen ? new Response[]{s.responses()[0]} : s.responses();
                    for (Response r : rs) g.add(new Example(s.prompt(), r, null));
                    groups.add(g);
                }
            }
        }
        // 5. T passes of shuffled minibatches
        long t0 = System.nanoTime();
        int steps0 = step;
        Map<String, Double> last = Map.of();
        double rewardMean = rewardCount == 0 ? Double.NaN : rewardSum / rewardCount;
        if (loss instanceof PpoLoss ppo) {
            last = trainPpo(ppo, groups, it, listener, rewardMean, t0, tGen, tRew, tRef, regenerated);
        } else {
            SplittableRandom shuffle = rng(it, 2);
            for (int pass = 0; pass < loop.reuse(); pass++) {
                List<List<Example>> minibatches = minibatches(examples, groups, shuffle);
                int accum = 0;
                for (List<Example> mb : minibatches) {
                    if (accum == 0) policy.zeroGrad();
                    LossResult res = lossAndBackward(mb);
                    last = res.metrics();
                    accum++;
                    if (accum == loop.gradAccum() || mb == minibatches.get(minibatches.size() - 1)) {
                        optimizerStep(res, accum, listener, it, rewardMean, t0, tGen, tRew, tRef, regenerated);
                        accum = 0;
                    }
                }
            }
        }
        double tTrain = secs(t0);
        iteration = it + 1;
        int n = loss instanceof PairwiseLoss ? examples.size() : groups.stream().mapToInt(List::size).sum();
        return new IterationStats(it, step - steps0, rewardMean, regenerated, n, tGen, tRew, tRef, tTrain, last);
    }

    private boolean isSft() {
        String t = loss.config().type();
        return t.equals("sft") || t.equals("nll");
    }

    private Pairs.Mode pairMode() {
        return cfg.loop().pairs() == LoopSection.Pairs.ALL ? Pairs.Mode.ALL : Pairs.Mode.BEST_WORST;
    }

    private static double secs(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    /**
     * Samples C responses for each regenerated prompt (positions regen in idx), in
     * generation batches of at most the model's batch size. Row seeds derive from
     * (seed, iteration, prompt index, replica), so a prompt's samples do not depend on
     * which other prompts share its batch.
     */
    private Response[][] generate(int[] idx, int[] regen, int it) {
        int C = cfg.loop().responsesPerPrompt();
        var s = cfg.sampling();
        Response[][] out = new Response[regen.length][C];
        List<int[]> rowsPrompt = new ArrayList<>();
        List<int[]> rowsWhere = new ArrayList<>();
        for (int r = 0; r < regen.length; r++) {
            for (int c = 0; c < C; c++) {
                rowsPrompt.add(prompts.get(idx[regen[r]]).ids());
                rowsWhere.add(new int[]{r, c});
            }
        }
        for (int start = 0; start < rowsPrompt.size(); start += maxRows) {
            int end = Math.min(rowsPrompt.size(), start + maxRows);
            int[][] batch = rowsPrompt.subList(start, end).toArray(new int[0][]);
            long genSeed = CounterRng.mix(seed * 31 + it) ^ start;
            int maxNew = Math.min(s.maxNewTokens(), maxT - Arrays.stream(batch).mapToInt(a -> a.length).max().orElse(1));
            Generator.Sample[] got = gen.generate(batch, new Generator.Options(Math.max(1, maxNew),
                    (float) s.temperature(), s.topK(), (float) s.topP(), eos, genSeed, tok.eosIds().stream().mapToInt(Integer::intValue).sorted().toArray()));
            for (int i = 0; i < got.length; i++) {
                int[] w = rowsWhere.get(start + i);
                Response resp = new Response(got[i].tokens(), got[i].endedWithEos());
                if (loss instanceof PpoLoss) resp.oldTok = got[i].logps();
                out[w[0]][w[1]] = resp;
            }
        }
        return out;
    }

    /** Fills refLogp (and PPO's per-token reference log-probs) of new responses with π_ref. */
    private void referenceLogps(List<Sequences.Seq> seqs, List<Response> owners) {
        if (seqs.isEmpty()) return;
        boolean ppo = loss instanceof PpoLoss;
        int rows = ref.maxBatch();
        Sequences.Packed p = new Sequences.Packed(rows, ref.maxT());
        for (int start = 0; start < seqs.size(); start += rows) {
            List<Sequences.Seq> b = seqs.subList(start, Math.min(seqs.size(), start + rows));
            Sequences.pack(b, eos, p);
            ref.forward(p.tokens(), p.lengths(), p.targets(), p.B, p.T);
            float[] lp = ref.tokenLogp();
            for (int r = 0; r < p.B; r++) {
                Response resp = owners.get(start + r);
                double sum = 0;
                int prompt = Math.max(1, b.get(r).prompt().length);
                float[] tokRef = ppo ? new float[resp.ids.length] : null;
                for (int t = 0; t < p.T; t++) {
                    if (p.targets[r * p.T + t] >= 0) {
                        sum += lp[r * p.T + t];
                        if (ppo) tokRef[t - (prompt - 1)] = lp[r * p.T + t];
                    }
                }
                resp.refLogp = sum;
                resp.refTok = tokRef;
            }
        }
        if (ppo) {
            // the rollout's values: the current policy's value head (before any update)
            for (int start = 0; start < seqs.size(); start += maxRows) {
                List<Sequences.Seq> b = seqs.subList(start, Math.min(seqs.size(), start + maxRows));
                Sequences.pack(b, eos, packed);
                policy.forward(packed.tokens(), packed.lengths(), packed.targets(), packed.B, packed.T);
                float[] v = policy.headValues();
                for (int r = 0; r < packed.B; r++) {
                    Response resp = owners.get(start + r);
                    int prompt = Math.max(1, b.get(r).prompt().length);
                    resp.oldValues = new float[resp.ids.length];
                    for (int j = 0; j < resp.ids.length; j++) resp.oldValues[j] = v[r * packed.T + prompt - 1 + j];
                }
            }
        }
    }

    /** The stored pair for offline datum di, with rewards and reference log-probs computed once. */
    private Stored offlineStored(int di) {
        OfflinePair d = offline.get(di);
        Response c = new Response(withEos(d.chosenIds()), true), r = new Response(withEos(d.rejectedIds()), true);
        double[] cached = offlineCache.get(di);
        if (cached == null) {
            double[] rw = {Double.NaN, Double.NaN};
            if (needsRewards()) {
                rw = reward.score(List.of(new Completion(d.prompt().text(), d.chosen(), d.prompt().ids(), d.chosenIds()),
                        new Completion(d.prompt().text(), d.rejected(), d.prompt().ids(), d.rejectedIds())));
            }
            double[] refs = Sequences.logp(ref, List.of(new Sequences.Seq(d.prompt().ids(), c.ids),
                    new Sequences.Seq(d.prompt().ids(), r.ids)), eos);
            cached = new double[]{rw[0], rw[1], refs[0], refs[1]};
            offlineCache.put(di, cached);
        }
        c.reward = cached[0];
        r.reward = cached[1];
        c.refLogp = cached[2];
        r.refLogp = cached[3];
        // the data's order is the preference: chosen first
        return new Stored(-1 - di, new Response[]{c, r}, List.of(new Pairs.Pair(0, 1)));
    }

    private boolean needsRewards() {
        if (loss instanceof PairwiseLoss pl) return pl.needsRewards();
        return !isSft();
    }

    private int[] withEos(int[] ids) {
        int[] out = Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = eos;
        return out;
    }

    /** Shuffled minibatches: M pairs, or whole prompt groups of about M samples. */
    private List<List<Example>> minibatches(List<Example> pairs, List<List<Example>> groups, SplittableRandom r) {
        int M = cfg.loop().minibatch();
        List<List<Example>> out = new ArrayList<>();
        if (loss instanceof PairwiseLoss) {
            int cap = Math.min(M, maxRows / 2);
            int[] perm = permutation(pairs.size(), r);
            for (int s = 0; s < perm.length; s += cap) {
                List<Example> mb = new ArrayList<>();
                for (int i = s; i < Math.min(perm.length, s + cap); i++) mb.add(pairs.get(perm[i]));
                out.add(mb);
            }
        } else {
            int[] perm = permutation(groups.size(), r);
            List<Example> mb = new ArrayList<>();
            for (int gi : perm) {
                List<Example> g = groups.get(gi);
                if (!mb.isEmpty() && (mb.size() + g.size() > Math.min(M, maxRows))) {
                    out.add(mb);
                    mb = new ArrayList<>();
                }
                mb.addAll(g);
            }
            if (!mb.isEmpty()) out.add(mb);
        }
        return out;
    }

    /** Forward of the minibatch's sequences, the fused loss, and the backward (accumulating gradients). */
    private LossResult lossAndBackward(List<Example> mb) {
        List<Sequences.Seq> seqs = new ArrayList<>();
        boolean pairwise = loss instanceof PairwiseLoss;
        int n = mb.size();
        float[] refs = new float[pairwise ? 2 * n : n], rewards = new float[refs.length];
        int[] lens = new int[refs.length], grp = new int[refs.length];
        Map<Integer, Integer> groupIds = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            Example e = mb.get(i);
            int[] p = promptIds(e.prompt());
            seqs.add(new Sequences.Seq(p, e.chosen().ids));
            refs[i] = (float) e.chosen().refLogp;
            rewards[i] = (float) e.chosen().reward;
            lens[i] = e.chosen().ids.length;
            grp[i] = groupIds.computeIfAbsent(e.prompt(), x -> groupIds.size());
        }
        if (pairwise) {
            for (int i = 0; i < n; i++) {
                Example e = mb.get(i);
                seqs.add(new Sequences.Seq(promptIds(e.prompt()), e.rejected().ids));
                refs[n + i] = (float) e.rejected().refLogp;
                rewards[n + i] = (float) e.rejected().reward;
                lens[n + i] = e.rejected().ids.length;
            }
        }
        int S = seqs.size();
        Sequences.pack(seqs, eos, packed);
        int B = packed.B, T = packed.T;
        for (int b = 0; b < B; b++) tokensSinceStep += packed.lengths[b];
        policy.forward(packed.tokens(), packed.lengths(), packed.targets(), B, T);
        k.rowSum(seqLogp, policy.tokenLogpBuffer(), B, T);
        k.write(seqRef, refs);
        k.write(seqReward, rewards);
        LossResult res;
        if (loss instanceof PairwiseLoss pl) {
            int[] ci = new int[n], ri = new int[n];
            for (int i = 0; i < n; i++) {
                ci[i] = i;
                ri[i] = n + i;
            }
            k.writeInts(chosenIdx, ci);
            k.writeInts(rejectedIdx, ri);
            res = pl.compute(k, new PairBatch(seqLogp, seqRef, seqReward, chosenIdx, rejectedIdx, S, n), seqDlogp);
        } else {
            SampleLoss sl = (SampleLoss) loss;
            k.writeInts(lengthsBuf, lens);
            k.writeInts(groupsBuf, grp);
            res = sl.compute(k, new SampleBatch(seqLogp, seqRef, lengthsBuf, seqReward, groupsBuf, S, groupIds.size(),
                    meanEntropy(B, T)), seqDlogp);
        }
        // per-sequence gradient → every response token of the row (the log-prob gather ignores the rest)
        k.rowBroadcast(tokDlogp, seqDlogp, B, T);
        policy.backwardFromBuffers(tokDlogp, null, null);
        return res;
    }

    /** Mean per-token entropy of the policy over the packed batch's response tokens (the last forward's). */
    private double meanEntropy(int B, int T) {
        float[] h = policy.tokenEntropy();
        double sum = 0;
        int n = 0;
        for (int i = 0; i < B * T; i++) {
            if (packed.targets[i] >= 0) {
                sum += h[i];
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    private int[] promptIds(int prompt) {
        return prompt >= 0 ? prompts.get(prompt).ids() : offline.get(-1 - prompt).prompt().ids();
    }

    /** Clipping (with the NaN guard) and one AdamW step; reports the step's metrics. */
    private void optimizerStep(LossResult res, int accum, Listener listener, int it, double rewardMean,
                               long trainStart, double tGen, double tRew, double tRef, int regenerated) {
        if (accum > 1) k.scale(policy.grads(), policy.layout().size(), 1f / accum);
        nanGuard.check(step, "loss", res.loss());
        double norm = nanGuard.check(step, "grad_norm", opt.gradNorm());
        double clip = cfg.optim().clip();
        if (clip > 0 && norm > clip) k.scale(policy.grads(), policy.layout().size(), (float) (clip / (norm + 1e-6)));
        float rate = lr(step, it);
        opt.step(rate);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", step);
        m.put("iteration", it);
        m.putAll(res.metrics());
        m.put("reward_mean", rewardMean);
        m.put("lr", (double) rate);
        m.put("grad_norm", norm);
        m.put("regenerated", regenerated);
        m.put("time_generation", tGen);
        m.put("time_reward", tRew);
        m.put("time_reference", tRef);
        m.put("time_train", secs(trainStart));
        m.put("tokens", tokensSinceStep);
        tokensSinceStep = 0;
        step++;
        listener.step(m);
    }

    /** PPO: advantages over the whole rollout once, then T epochs of minibatches. */
    private Map<String, Double> trainPpo(PpoLoss ppo, List<List<Example>> groups, int it, Listener listener,
                                         double rewardMean, long t0, double tGen, double tRew, double tRef, int regenerated) {
        List<Example> rows = new ArrayList<>();
        for (List<Example> g : groups) rows.addAll(g);
        Map<String, Double> last = Map.of();
        SplittableRandom shuffle = rng(it, 3);
        int M = Math.min(cfg.loop().minibatch(), maxRows);
        for (int pass = 0; pass < cfg.loop().reuse(); pass++) {
            int[] perm = permutation(rows.size(), shuffle);
            for (int s = 0; s < perm.length; s += M) {
                List<Example> mb = new ArrayList<>();
                for (int i = s; i < Math.min(perm.length, s + M); i++) mb.add(rows.get(perm[i]));
                policy.zeroGrad();
                LossResult res = ppoMinibatch(ppo, mb);
                last = res.metrics();
                optimizerStep(res, 1, listener, it, rewardMean, t0, tGen, tRew, tRef, regenerated);
            }
        }
        double kl = 0;
        for (Example e : rows) {
            double sum = 0;
            for (int j = 0; j < e.chosen().ids.length; j++) sum += e.chosen().oldTok[j] - e.chosen().refTok[j];
            kl += sum / rows.size();
        }
        ppo.klController().update(kl, rows.size());
        return last;
    }

    private LossResult ppoMinibatch(PpoLoss ppo, List<Example> mb) {
        List<Sequences.Seq> seqs = new ArrayList<>();
        for (Example e : mb) seqs.add(new Sequences.Seq(promptIds(e.prompt()), e.chosen().ids));
        Sequences.pack(seqs, eos, packed);
        int B = packed.B, T = packed.T;
        float[] old = new float[B * T], refT = new float[B * T], oldV = new float[B * T], scores = new float[B];
        int[] mask = new int[B * T];
        for (int r = 0; r < B; r++) {
            Response resp = mb.get(r).chosen();
            int prompt = Math.max(1, seqs.get(r).prompt().length);
            scores[r] = (float) resp.reward;
            for (int j = 0; j < resp.ids.length; j++) {
                int t = r * T + prompt - 1 + j;
                old[t] = resp.oldTok[j];
                refT[t] = resp.refTok[j];
                oldV[t] = resp.oldValues[j];
                mask[t] = 1;
            }
        }
        k.write(ppoOldLogp, old);
        k.write(ppoRef, refT);
        k.write(ppoOldValues, oldV);
        k.write(ppoScores, scores);
        k.writeInts(ppoMask, mask);
        for (int r = 0; r < B; r++) tokensSinceStep += packed.lengths[r];
        policy.forward(packed.tokens(), packed.lengths(), packed.targets(), B, T);
        PpoBatch b = new PpoBatch(policy.tokenLogpBuffer(), ppoOldLogp, ppoRef, policy.headBuffer(), ppoOldValues,
                ppoScores, ppoMask, ppoAdv, ppoRet, B, T, meanEntropy(B, T));
        Map<String, Double> adv = ppo.advantages(k, b);
        LossResult res = ppo.compute(k, b, tokDlogp, tokDvalue);
        policy.backwardFromBuffers(tokDlogp, null, tokDvalue);
        Map<String, Double> m = new LinkedHashMap<>(res.metrics());
        m.put("rollout_reward", adv.get("reward"));
        m.put("kl", adv.get("kl"));
        m.put("kl_coef", adv.get("kl_coef"));
        return new LossResult(res.loss(), m);
    }
}
