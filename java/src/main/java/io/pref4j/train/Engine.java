package io.pref4j.train;

import io.pref4j.model.CausalLm;
import io.pref4j.config.LoopSection;
import io.pref4j.config.OptimSection;
import io.pref4j.config.OptuneSection;
import io.pref4j.config.TrainConfig;
import io.pref4j.kernel.CounterRng;
import io.pref4j.kernel.Kernels;
import io.pref4j.loss.LossResult;
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
 * source; compute reference log-probs once per new response (when the objective reads
 * them); build the objective's training units; then T passes of shuffled minibatches with
 * gradient accumulation, clipping and AdamW. Everything that depends on the loss is in its
 * {@link Objective} ({@link Objectives#create}); the stored responses are the
 * {@link RolloutStore}. All randomness is a function of (seed, iteration), so a run resumed
 * from a checkpoint continues exactly as if never stopped.
 */
public final class Engine {

    /** A prompt of the pool. */
    public record Prompt(String text, int[] ids) {}

    /**
     * A datum of the offline data (token ids; responses without end-of-text): a preference
     * pair, or (label 0 or 1, rejected null) one labelled completion, KTO's unpaired form.
     */
    public record OfflinePair(Prompt prompt, String chosen, int[] chosenIds, String rejected, int[] rejectedIds, int label) {
        /** A preference pair. */
        public OfflinePair(Prompt prompt, String chosen, int[] chosenIds, String rejected, int[] rejectedIds) {
            this(prompt, chosen, chosenIds, rejected, rejectedIds, -1);
        }

        /** An unpaired completion with its label (desirable or not). */
        public static OfflinePair unpaired(Prompt prompt, String completion, int[] ids, boolean desirable) {
            return new OfflinePair(prompt, completion, ids, null, null, desirable ? 1 : 0);
        }

        public boolean isUnpaired() {
            return label >= 0;
        }
    }

    /**
     * A response with everything computed once: its tokens (ending with end-of-text when the
     * policy stopped), reward, reference log-prob sum, per-token log-probs of the sampling
     * policy and of the reference (PPO, GRPO), the rollout's values (PPO), its KTO label, and
     * what the objective computed once per rollout (GRPO's advantage, PPO's per-token
     * advantages and returns).
     */
    public static final class Response {
        final int[] ids;
        final boolean eos;
        double reward = Double.NaN;
        double refLogp = Double.NaN;
        float[] oldTok, refTok, oldValues;
        int label = -1;
        float advantage;
        float[] advTok, retTok;

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
    /**
     * What one iteration did. online: it sampled responses. idle: why it had no training
     * signal (no example at all; for GRPO, every group's rewards tied), else null. unfinishedFraction: the fraction of the
     * iteration's online responses that ran to sampling.max_new_tokens without end-of-text;
     * tiedFraction: the fraction of its online prompts whose responses all had one reward.
     */
    public record IterationStats(int iteration, int steps, double rewardMean, int regenerated, int examples,
                                 double tGeneration, double tReward, double tReference, double tTrain,
                                 Map<String, Double> lastMetrics, boolean online, String idle,
                                 double unfinishedFraction, double tiedFraction) {}

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
    private final Objective objective;
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
    private final RolloutStore store = new RolloutStore();
    private final Map<Integer, double[]> offlineCache = new java.util.HashMap<>();

    private final int maxRows, maxT;
    private final PolicyPass pass;

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
        this.objective = Objectives.create(loss, cfg, k);
        this.prompts = prompts;
        this.offline = offline;
        this.eos = tok.eosId();
        this.seed = cfg.run().seed();
        objective.check(cfg, policy, !offline.isEmpty());
        if (!objective.acceptsUnpaired() && offline.stream().anyMatch(OfflinePair::isUnpaired))
            throw new io.pref4j.UserInputException("data.preferences holds unpaired {\"prompt\", \"completion\", \"label\"} lines, which only loss.type = kto reads; "
                    + "loss.type = " + loss.config().type() + " needs preference pairs");
        OptimSection o = cfg.optim();
        this.opt = new AdamW(k, policy.layout(), policy.params(), policy.grads(),
                (float) o.beta1(), (float) o.beta2(), (float) o.eps(), (float) o.weightDecay());
        this.gen = new Generator(policy);
        this.maxRows = policy.maxBatch();
        this.maxT = policy.maxT();
        this.pass = new PolicyPass(k, policy, ref, eos, this::promptIds);
    }

    public int iteration() { return iteration; }
    public int step() { return step; }
    public AdamW optimizer() { return opt; }
    /** Stops the run on a NaN or Inf loss or gradient norm (before the update is applied). */
    public io.pref4j.train.run.NanGuard nanGuard() { return nanGuard; }
    public CausalLm policy() { return policy; }
    /** The policy's generator (its buffers are reused by every generation of the run). */
    public Generator generator() { return gen; }
    /** The rollout store (OPTune's stored responses; a checkpoint carries it). */
    public RolloutStore store() { return store; }

    /** Restores the counters a checkpoint saved (weights and moments are restored by the caller). */
    public void restore(int iteration, int step) {
        this.iteration = iteration;
        this.step = step;
    }

    /** Writes the objective's state (baselines, KL coefficients) into a checkpoint's state. */
    public void saveObjective(com.fasterxml.jackson.databind.node.ObjectNode state) {
        objective.save(state);
    }

    /** Restores {@link #saveObjective}'s state. */
    public void restoreObjective(com.fasterxml.jackson.databind.node.ObjectNode state) {
        objective.restore(k, state);
    }

    /** Whether cfg's objective trains a value head (PPO). */
    public static boolean needsValueHead(TrainConfig cfg) {
        return Objectives.create(io.pref4j.loss.Losses.create(cfg.loss()), cfg, null).needsOldValues();
    }

    /** Examples one prompt gives per iteration (progress estimate). */
    public static int examplesPerPrompt(TrainConfig cfg) {
        return Objectives.examplesPerPrompt(cfg);
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
     * The learning rate of optimiser step s in iteration it ({@link AdamW#cosineLr}): linear
     * warm-up over the first optim.warmup steps, then constant, or a cosine over the
     * iterations (progress it / loop.iterations) down to min_lr_fraction. A function of
     * (step, iteration) only, so a resumed run follows the same schedule.
     */
    private float lr(int s, int it) {
        OptimSection o = cfg.optim();
        double min = o.schedule() == OptimSection.Schedule.CONSTANT ? 1 : o.minLrFraction();
        int iters = Math.max(1, cfg.loop().iterations());
        // during warm-up the step counts; after it the iteration does
        return s < o.warmup() ? AdamW.cosineLr(s, o.warmup(), o.warmup() + iters, o.lr(), min)
                : AdamW.cosineLr(o.warmup() + it, o.warmup(), o.warmup() + iters, o.lr(), min);
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
                store.put(new Stored(pi, responses[r], Pairs.build(rw, pairMode(), loop.threshold())));
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

        // 3. examples: the objective's units of each prompt's stored responses
        List<List<Example>> units = new ArrayList<>();
        double rewardSum = 0;
        int rewardCount = 0, unfinished = 0, tied = 0, onlinePrompts = 0;
        for (Stored s : batch) {
            double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
            for (Response r : s.responses()) {
                rewardSum += r.reward;
                rewardCount++;
                if (!r.eos) unfinished++;
                lo = Math.min(lo, r.reward);
                hi = Math.max(hi, r.reward);
            }
            onlinePrompts++;
            if (s.responses().length > 1 && !(hi > lo)) tied++;
        }
        for (Stored s : batch) units.addAll(objective.units(s, false));
        for (Stored s : offBatch) units.addAll(objective.units(s, true));
        List<Example> all = new ArrayList<>();
        for (List<Example> u : units) all.addAll(u);

        // 4b. once per rollout (GRPO's advantages, PPO's GAE and whitening); 5. T passes of shuffled minibatches
        long t0 = System.nanoTime();
        int steps0 = step;
        Map<String, Double> last = Map.of();
        double rewardMean = rewardCount == 0 ? Double.NaN : rewardSum / rewardCount;
        if (!all.isEmpty()) {
            objective.beginRollout(pass, all);
            SplittableRandom shuffle = rng(it, 2);
            int cap = Math.max(1, objective.minibatchCap(loop.minibatch(), maxRows));
            for (int p = 0; p < loop.reuse(); p++) {
                List<List<Example>> minibatches = minibatches(units, cap, shuffle);
                int accum = 0;
                for (List<Example> mb : minibatches) {
                    if (accum == 0) policy.zeroGrad();
                    LossResult res = objective.lossAndBackward(pass, mb);
                    last = res.metrics();
                    accum++;
                    if (accum == loop.gradAccum() || mb == minibatches.get(minibatches.size() - 1)) {
                        optimizerStep(res, accum, listener, it, rewardMean, t0, tGen, tRew, tRef, regenerated);
                        accum = 0;
                    }
                }
            }
            objective.endRollout(all);
        }
        double tTrain = secs(t0);
        iteration = it + 1;
        String idle = null;
        if (!all.isEmpty() && objective.needsRewardSpread() && onlinePrompts > 0 && tied == onlinePrompts && offBatch.isEmpty()) {
            idle = "all rewards tied within every prompt (every advantage is 0)"
                    + (unfinished == rewardCount ? "; no response finished (every one ran to sampling.max_new_tokens)" : "");
        } else if (all.isEmpty()) {
            int responses = rewardCount;
            idle = onlinePrompts == 0 ? "no examples" : tied == onlinePrompts
                    ? "all rewards tied within every prompt (no pair differs)" + (unfinished == responses ? "; no response finished (every one ran to sampling.max_new_tokens)" : "")
                    : unfinished == responses ? "no response finished (every one ran to sampling.max_new_tokens)" : "no example passed loop.threshold";
        }
        return new IterationStats(it, step - steps0, rewardMean, regenerated, all.size(), tGen, tRew, tRef, tTrain, last,
                nOnline > 0, idle, rewardCount == 0 ? 0 : (double) unfinished / rewardCount,
                onlinePrompts == 0 ? 0 : (double) tied / onlinePrompts);
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
                if (objective.needsOldTokens()) resp.oldTok = got[i].logps();
                out[w[0]][w[1]] = resp;
            }
        }
        return out;
    }

    /** Fills refLogp (and PPO's per-token reference log-probs) of new responses with π_ref. */
    private void referenceLogps(List<Sequences.Seq> seqs, List<Response> owners) {
        if (seqs.isEmpty() || !objective.needsReference()) return;
        boolean ppo = objective.needsReferenceTokens();
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
        if (objective.needsOldValues()) {
            // the rollout's values: the current policy's value head (before any update)
            for (int start = 0; start < seqs.size(); start += maxRows) {
                List<Sequences.Seq> b = seqs.subList(start, Math.min(seqs.size(), start + maxRows));
                Sequences.Packed packed = Sequences.pack(b, eos, pass.packed);
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
        if (d.isUnpaired()) {
            Response c = new Response(withEos(d.chosenIds()), true);
            double[] cached = offlineCache.get(di);
            if (cached == null) {
                double rw = objective.scoresOfflineData()
                        ? reward.score(List.of(new Completion(d.prompt().text(), d.chosen(), d.prompt().ids(), d.chosenIds())))[0]
                        : Double.NaN;
                double refs = objective.needsReference()
                        ? Sequences.logp(ref, List.of(new Sequences.Seq(d.prompt().ids(), c.ids)), eos)[0] : Double.NaN;
                cached = new double[]{rw, refs};
                offlineCache.put(di, cached);
            }
            c.reward = cached[0];
            c.refLogp = cached[1];
            c.label = d.label();
            return new Stored(-1 - di, new Response[]{c}, List.of());
        }
        Response c = new Response(withEos(d.chosenIds()), true), r = new Response(withEos(d.rejectedIds()), true);
        double[] cached = offlineCache.get(di);
        if (cached == null) {
            double[] rw = {Double.NaN, Double.NaN};
            if (objective.scoresOfflineData()) {
                rw = reward.score(List.of(new Completion(d.prompt().text(), d.chosen(), d.prompt().ids(), d.chosenIds()),
                        new Completion(d.prompt().text(), d.rejected(), d.prompt().ids(), d.rejectedIds())));
            }
            double[] refs = objective.needsReference() ? Sequences.logp(ref, List.of(new Sequences.Seq(d.prompt().ids(), c.ids),
                    new Sequences.Seq(d.prompt().ids(), r.ids)), eos) : new double[]{Double.NaN, Double.NaN};
            cached = new double[]{rw[0], rw[1], refs[0], refs[1]};
            offlineCache.put(di, cached);
        }
        c.reward = cached[0];
        r.reward = cached[1];
        c.refLogp = cached[2];
        r.refLogp = cached[3];
        c.label = 1;   // KTO reads a pair as a desirable and an undesirable completion
        r.label = 0;
        // the data's order is the preference: chosen first
        return new Stored(-1 - di, new Response[]{c, r}, List.of(new Pairs.Pair(0, 1)));
    }

    private int[] withEos(int[] ids) {
        int[] out = Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = eos;
        return out;
    }

    /** Shuffled minibatches of whole units, each of at most cap examples (a unit larger than cap is alone). */
    private static List<List<Example>> minibatches(List<List<Example>> units, int cap, SplittableRandom r) {
        List<List<Example>> out = new ArrayList<>();
        int[] perm = permutation(units.size(), r);
        List<Example> mb = new ArrayList<>();
        for (int ui : perm) {
            List<Example> u = units.get(ui);
            if (!mb.isEmpty() && mb.size() + u.size() > cap) {
                out.add(mb);
                mb = new ArrayList<>();
            }
            mb.addAll(u);
        }
        if (!mb.isEmpty()) out.add(mb);
        return out;
    }

    private int[] promptIds(int prompt) {
        return prompt >= 0 ? prompts.get(prompt).ids() : offline.get(-1 - prompt).prompt().ids();
    }

    /** Gradient scaling for accumulation, the NaN guard, clipping and one AdamW step; reports the step's metrics. */
    private void optimizerStep(LossResult res, int accum, Listener listener, int it, double rewardMean,
                               long trainStart, double tGen, double tRew, double tRef, int regenerated) {
        if (accum > 1) k.scale(policy.grads(), policy.layout().size(), 1f / accum);
        nanGuard.check(step, "loss", res.loss());
        double norm = nanGuard.check(step, "grad_norm", opt.clipGradNorm(cfg.optim().clip()));
        float rate = lr(step, it);
        opt.step(rate);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", step);
        m.put("iteration", it);
        m.putAll(res.metrics());
        boolean online = cfg.loop().mode() == LoopSection.Mode.ONLINE;
        if (online) m.put("reward_mean", rewardMean);
        m.put("lr", (double) rate);
        m.put("grad_norm", norm);
        if (online) {
            m.put("regenerated", regenerated);
            m.put("time_generation", tGen);
            m.put("time_reward", tRew);
        }
        m.put("time_reference", tRef);
        m.put("time_train", secs(trainStart));
        m.put("tokens", pass.takeTokens());
        step++;
        listener.step(m);
    }
}
