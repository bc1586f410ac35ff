package io.pref4j.reward;

import io.pref4j.UserInputException;
import io.pref4j.io.HfCheckpoint;
import io.pref4j.io.TokenizedPair;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.model.CausalLm;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;
import io.pref4j.model.ParameterLayout;
import io.pref4j.text.ByteTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The Bradley–Terry reward-model trainer on a tiny GPT: it learns a synthetic preference
 * (shorter responses chosen) well above chance for several seeds, is deterministic in its
 * seed, its gradient matches a finite difference, and a saved model scores the same as the
 * one in memory.
 */
class RewardModelTrainerTest {

    static final GptConfig TINY = new GptConfig(32, ByteTokenizer.VOCAB_SIZE, 1, 2, 16);
    static final ByteTokenizer TOK = ByteTokenizer.INSTANCE;

    @TempDir
    Path dir;

    /** Pairs of random lowercase responses of different lengths (1..10) to short prompts; the shorter is chosen. */
    static List<TokenizedPair> shorterIsBetter(int n, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        List<TokenizedPair> pairs = new ArrayList<>();
        while (pairs.size() < n) {
            int a = 1 + rng.nextInt(10), b = 1 + rng.nextInt(10);
            if (a == b) continue;
            String prompt = word(rng, 1 + rng.nextInt(3)) + ":";
            String shorter = word(rng, Math.min(a, b)), longer = word(rng, Math.max(a, b));
            pairs.add(new TokenizedPair(TOK.encode(prompt), TOK.encode(shorter), TOK.encode(longer)));
        }
        return pairs;
    }

    static String word(SplittableRandom rng, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.append((char) ('a' + rng.nextInt(26)));
        return sb.toString();
    }

    static Gpt base(CpuKernels k, long seed) {
        Gpt m = new Gpt(k, TINY, 1, TINY.maxSeqLen());
        m.initRandom(seed);
        return m;
    }

    static final RewardModelTrainer.Options OPT = RewardModelTrainer.Options.defaults()
            .withEpochs(4).withBatchPairs(16).withLr(3e-3f).withEvalFraction(0.25).withLogEvery(1000);

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void learnsShorterIsBetterAboveChance(long seed) {
        try (CpuKernels k = new CpuKernels(1)) {
            List<TokenizedPair> pairs = shorterIsBetter(384, 100 + seed);
            RewardModelTrainer.Split split = RewardModelTrainer.split(pairs, 0.25, seed);
            CausalLm model = RewardModelTrainer.withHead(base(k, seed), 32, 16, seed, 0.02);
            RewardModelTrainer t = new RewardModelTrainer(model, TOK.eosId(), OPT.withSeed(seed));
            List<String> lines = new ArrayList<>();
            RewardModelTrainer.Result r = t.train(split.train(), split.eval(), null, lines::add);
            assertEquals(72, r.steps());
            assertEquals(5, r.evals().size());
            assertTrue(lines.getLast().startsWith("epoch 4/4  step 72  train loss"), lines.getLast());
            RewardModelTrainer.Eval before = r.evals().getFirst(), after = r.finalEval();
            assertEquals(96, after.pairs());
            assertTrue(after.accuracy() >= 0.8, "held-out accuracy " + after.accuracy() + " (before " + before.accuracy() + ")");
            assertTrue(after.loss() < before.loss() - 0.2, "held-out loss " + before.loss() + " -> " + after.loss());
        }
    }

    @Test
    void deterministicInTheSeed() {
        List<TokenizedPair> pairs = shorterIsBetter(64, 7);
        List<Map<String, Object>> a = run(pairs, 5), b = run(pairs, 5), c = run(pairs, 6);
        assertEquals(8, a.size()); // 2 epochs of 48 training pairs / 12 per step
        assertEquals(strip(a), strip(b));
        assertNotEquals(strip(a), strip(c));
        Map<String, Object> last = a.getLast();
        for (String key : List.of("step", "epoch", "loss", "accuracy", "margin", "lr", "grad_norm", "eval_loss", "eval_accuracy"))
            assertTrue(last.containsKey(key), key + " missing from " + last);
        assertFalse(a.getFirst().containsKey("eval_loss"));
        assertTrue(a.get(3).containsKey("eval_loss")); // the end of epoch 1
    }

    List<Map<String, Object>> run(List<TokenizedPair> pairs, long seed) {
        try (CpuKernels k = new CpuKernels(1)) {
            RewardModelTrainer.Split split = RewardModelTrainer.split(pairs, 0.25, seed);
            CausalLm model = RewardModelTrainer.withHead(base(k, 3), 24, 16, seed, 0.02);
            List<Map<String, Object>> metrics = new ArrayList<>();
            new RewardModelTrainer(model, TOK.eosId(), OPT.withEpochs(2).withBatchPairs(12).withSeed(seed))
                    .train(split.train(), split.eval(), metrics::add, null);
            return metrics;
        }
    }

    static List<Map<String, Object>> strip(List<Map<String, Object>> metrics) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Map<String, Object> m : metrics) {
            Map<String, Object> c = new java.util.LinkedHashMap<>(m);
            c.remove("elapsed_s");
            out.add(c);
        }
        return out;
    }

    @Test
    void splitIsSeededAndDisjoint() {
        List<TokenizedPair> pairs = shorterIsBetter(40, 1);
        RewardModelTrainer.Split s = RewardModelTrainer.split(pairs, 0.1, 9);
        assertEquals(4, s.eval().size());
        assertEquals(36, s.train().size());
        java.util.Set<TokenizedPair> all = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        all.addAll(s.train());
        all.addAll(s.eval());
        assertEquals(40, all.size());
        assertEquals(s.eval(), RewardModelTrainer.split(pairs, 0.1, 9).eval());
        assertEquals(0, RewardModelTrainer.split(pairs, 0, 9).eval().size());
        assertEquals(1, RewardModelTrainer.split(pairs.subList(0, 2), 0.01, 9).eval().size());
        assertEquals("reward-model training: eval fraction 0.5 of 1 pairs leaves no training pairs",
                assertThrows(UserInputException.class, () -> RewardModelTrainer.split(pairs.subList(0, 1), 0.5, 1)).getMessage());
    }

    /** d(mean BT loss)/dθ from the backward through the head equals a central difference of the loss. */
    @Test
    void gradientMatchesFiniteDifference() {
        try (CpuKernels k = new CpuKernels(1)) {
            CausalLm model = RewardModelTrainer.withHead(base(k, 11), 8, 16, 11, 0.5);
            RewardModelTrainer t = new RewardModelTrainer(model, TOK.eosId(), OPT);
            List<TokenizedPair> batch = shorterIsBetter(4, 5);
            double loss = t.lossAndGradient(batch).loss();
            assertEquals(loss, t.loss(batch), 1e-6);
            // the head's bias cancels in r_w − r_l, and so does ln_f's bias (it adds w·b to every
            // reward): their gradients are zero
            assertEquals(0, model.readGrad(ParameterLayout.HEAD_BIAS)[0], 1e-6);
            for (float x : model.readGrad("transformer.ln_f.bias")) assertEquals(0, x, 1e-6);
            for (String name : List.of(ParameterLayout.HEAD_WEIGHT, "transformer.ln_f.weight", "transformer.h.0.mlp.c_fc.weight",
                    "transformer.wpe.weight")) {
                float[] g = model.readGrad(name);
                int i = argmaxAbs(g);
                float[] w = model.readParam(name);
                float w0 = w[i];
                double eps = 1e-2 * Math.max(1, Math.abs(w0));
                w[i] = (float) (w0 + eps);
                model.writeParam(name, w);
                double up = t.loss(batch);
                w[i] = (float) (w0 - eps);
                model.writeParam(name, w);
                double down = t.loss(batch);
                w[i] = w0;
                model.writeParam(name, w);
                double fd = (up - down) / (2 * eps);
                assertTrue(Math.abs(g[i]) > 1e-3, name + ": gradient " + g[i] + " too small to test");
                assertEquals(fd, g[i], 0.02 * Math.abs(fd) + 1e-4, name + "[" + i + "]");
            }
        }
    }

    static int argmaxAbs(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (Math.abs(x[i]) > Math.abs(x[best])) best = i;
        return best;
    }

    /** A saved model, loaded as a LearnedReward, scores like the trained model in memory. */
    @Test
    void saveThenLoadScoresTheSame() throws Exception {
        try (CpuKernels k = new CpuKernels(1)) {
            List<TokenizedPair> pairs = shorterIsBetter(48, 3);
            CausalLm model = RewardModelTrainer.withHead(base(k, 2), 16, 24, 2, 0.02);
            RewardModelTrainer t = new RewardModelTrainer(model, TOK.eosId(), OPT.withEpochs(1).withBatchPairs(8));
            t.train(pairs, List.of(), null, null);
            Path out = dir.resolve("rm");
            t.save(out, TOK.name());
            assertTrue(HfCheckpoint.hasHead(out));
            assertEquals("byte", HfCheckpoint.tokenizerName(out));

            List<Completion> completions = new ArrayList<>();
            List<int[]> prompts = new ArrayList<>(), responses = new ArrayList<>();
            SplittableRandom rng = new SplittableRandom(4);
            for (int i = 0; i < 21; i++) { // more than one forward of the scorer below
                String p = i == 0 ? "" : word(rng, 1 + rng.nextInt(4)), r = word(rng, rng.nextInt(12));
                completions.add(i % 2 == 0 ? Completion.of(TOK, p, r) : new Completion(p, r, null, null));
                prompts.add(TOK.encode(p));
                responses.add(TOK.encode(r));
            }
            double[] expected = t.rewards(prompts, responses);
            try (LearnedReward rm = LearnedReward.load(k, out, "auto", 8 * 32)) {
                assertEquals(8, rm.maxBatch());
                assertEquals("byte", rm.tokenizer().name());
                double[] got = rm.score(completions);
                assertArrayEquals(expected, got, 1e-5);
                // the ranking the model learned: shorter is better
                double shortR = rm.score(List.of(Completion.of(TOK, "ab:", "xy")))[0];
                double longR = rm.score(List.of(Completion.of(TOK, "ab:", "xyzwvutsr")))[0];
                assertTrue(shortR > longR, shortR + " vs " + longR);
                // a run folder (model/ inside) loads too, and through the factory
                t.save(dir.resolve("run").resolve("model"), TOK.name());
                RewardSource viaConfig = RewardSources.create(RewardConfig.learned(dir.resolve("run").toString()), k, TOK);
                assertArrayEquals(expected, viaConfig.score(completions), 1e-5);
                assertEquals("reward.model " + dir.resolve("run") + " was trained with the 'byte' tokenizer but the policy uses 'gpt2'",
                        assertThrows(UserInputException.class, () -> RewardSources.create(
                                RewardConfig.learned(dir.resolve("run").toString()), k, io.pref4j.text.Tokenizers.byName("gpt2"))).getMessage());
            }
        }
    }

    @Test
    void tooLongSequencesAreCutFromTheFrontWhenScoring() throws Exception {
        try (CpuKernels k = new CpuKernels(1)) {
            CausalLm model = RewardModelTrainer.withHead(base(k, 2), 4, 32, 2, 0.5);
            Path out = dir.resolve("rm");
            HfCheckpoint.save((Gpt) model, out, "byte");
            try (LearnedReward rm = LearnedReward.load(k, out)) {
                String response = "the end of a long response";
                String longPrompt = "x".repeat(40);
                String keptPrompt = longPrompt.substring(longPrompt.length() - (32 - response.length() - 1));
                double[] r = rm.score(List.of(Completion.of(TOK, longPrompt, response), Completion.of(TOK, keptPrompt, response)));
                assertEquals(r[1], r[0], 1e-6);
            }
        }
    }

    @Test
    void badInputNamesThePair() throws Exception {
        try (CpuKernels k = new CpuKernels(1)) {
            Gpt plain = base(k, 1);
            Path out = dir.resolve("lm");
            HfCheckpoint.save(plain, out, "byte");
            assertEquals(out.resolve("model.safetensors") + ": no head.weight tensor, so it is not a reward model (train one with: pref4j train-rm)",
                    assertThrows(UserInputException.class, () -> LearnedReward.load(k, out)).getMessage());
            List<TokenizedPair> pairs = List.of(new TokenizedPair(new int[20], new int[5], new int[12]));
            assertEquals("pair 0: prompt + response + end-of-text is 33 tokens, longer than the model's 32 positions",
                    assertThrows(UserInputException.class, () -> RewardModelTrainer.longestSequence(pairs, 32)).getMessage());
            assertEquals("reward-model training: epochs must be >= 1, got 0",
                    assertThrows(UserInputException.class, () -> OPT.withEpochs(0)).getMessage());
            assertEquals("reward-model training: lr must be > 0, got -1.0",
                    assertThrows(UserInputException.class, () -> OPT.withLr(-1)).getMessage());
        }
    }
}
