package io.pref4j.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import io.pref4j.config.TrainConfig;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.reward.RewardFunction;
import io.pref4j.text.ByteTokenizer;
import io.pref4j.train.run.Checkpoint;
import io.pref4j.train.run.Checkpoints;
import io.pref4j.train.run.MetricsLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The objectives that joined through the objective layer (grpo, kto, simpo, orpo), PPO's rollout statistics, and runs without signal. */
class ObjectivesTest {

    static final String ITERS = System.getProperty("iters", "30"), LR = System.getProperty("lr", "0.03");

    private static List<ObjectNode> steps(Path out) {
        return MetricsLog.read(out.resolve("metrics.jsonl")).stream().filter(l -> l.has("loss")).toList();
    }

    @Test
    void grpoRaisesTheBanditReward(@TempDir Path dir) throws Exception {
        // R1 peaks at token id 70: three seeds, all must improve
        try (CpuKernels k = new CpuKernels(2)) {
            for (long seed = 1; seed <= 3; seed++) {
                Path out = dir.resolve("s" + seed);
                EngineTest.run(k, EngineTest.config(out, "run.seed=" + seed, "loop.iterations=20", "loop.prompt_batch=8",
                        "loop.responses_per_prompt=4", "loop.minibatch=16", "loop.reuse=2", "loss.type=grpo", "loss.beta=0",
                        "optim.lr=0.02", "checkpoint.every=0"), null, null, List.of());
                List<ObjectNode> m = steps(out);
                double first = m.get(0).get("reward_mean").asDouble(), last = m.get(m.size() - 1).get("reward_mean").asDouble();
                assertTrue(last > 1.5 * first, "seed " + seed + ": reward " + first + " -> " + last);
                assertTrue(m.get(0).has("clip_ratio") && m.get(0).has("frac_reward_zero_std") && m.get(0).has("entropy"), m.get(0).toString());
                assertFalse(m.get(0).has("kl"), "beta 0: no reference pass, no kl");
            }
        }
    }

    /** Offline: train on pairs whose chosen responses are 'F' (id 70) runs; the policy's samples must score higher. */
    private static void offlineRaisesTheReward(Path dir, String... sets) throws Exception {
        List<Engine.OfflinePair> data = EngineTest.pairs(8, 4);
        try (CpuKernels k = new CpuKernels(2)) {
            for (long seed = 1; seed <= 3; seed++) {
                Path out = dir.resolve("s" + seed);
                List<String> all = new ArrayList<>(List.of("run.seed=" + seed, "loop.mode=offline", "loop.iterations=" + ITERS,
                        "loop.prompt_batch=8", "loop.minibatch=8", "loop.eval_every=1", "optim.lr=" + LR, "checkpoint.every=0"));
                all.addAll(List.of(sets));
                EngineTest.run(k, EngineTest.config(out, all.toArray(String[]::new)), null, null, data);
                List<ObjectNode> m = steps(out).stream().filter(l -> l.has("eval_reward")).toList();
                double first = m.get(0).get("eval_reward").asDouble(), last = m.get(m.size() - 1).get("eval_reward").asDouble();
                assertTrue(last > 1.5 * first && last > 0.2, sets[0] + " seed " + seed + ": eval reward " + first + " -> " + last);
                assertFalse(m.get(0).has("reward_mean"), "offline: no reward_mean");
                assertFalse(m.get(0).has("time_generation"), "offline: no generation timings");
            }
        }
    }

    @Test
    void simpoRaisesTheReward(@TempDir Path dir) throws Exception {
        offlineRaisesTheReward(dir, "loss.type=simpo", "loss.beta=2");
    }

    @Test
    void orpoRaisesTheReward(@TempDir Path dir) throws Exception {
        offlineRaisesTheReward(dir, "loss.type=orpo");
    }

    @Test
    void ktoRaisesTheReward(@TempDir Path dir) throws Exception {
        offlineRaisesTheReward(dir, "loss.type=kto", "loss.beta=0.5");
    }

    @Test
    void ktoReadsUnpairedData(@TempDir Path dir) throws Exception {
        List<Engine.OfflinePair> data = new ArrayList<>();
        for (Engine.OfflinePair p : EngineTest.pairs(8, 4)) {
            data.add(Engine.OfflinePair.unpaired(p.prompt(), p.chosen(), p.chosenIds(), true));
            data.add(Engine.OfflinePair.unpaired(p.prompt(), p.rejected(), p.rejectedIds(), false));
        }
        try (CpuKernels k = new CpuKernels(2)) {
            Path out = dir.resolve("kto");
            EngineTest.run(k, EngineTest.config(out, "loop.mode=offline", "loss.type=kto", "loop.iterations=2", "loop.minibatch=4"),
                    null, null, data);
            List<ObjectNode> m = steps(out);
            assertEquals(2, m.size(), "4 unpaired examples an iteration in one minibatch of 4, 2 iterations");
            for (ObjectNode l : m) {
                assertTrue(l.get("kl").asDouble() >= 0 && Double.isFinite(l.get("loss").asDouble()), l.toString());
                assertEquals(4, l.get("count").asInt(), l.toString());
            }
            UserInputException e = assertThrows(UserInputException.class, () -> EngineTest.run(k,
                    EngineTest.config(dir.resolve("dpo"), "loop.mode=offline", "loss.type=dpo"), null, null, data));
            assertTrue(e.getMessage().contains("unpaired"), e.getMessage());
        }
    }

    @Test
    void methodsRefuseTheModesTheyCannotTrainIn(@TempDir Path dir) throws Exception {
        try (CpuKernels k = new CpuKernels(2)) {
            var e = assertThrows(UserInputException.class, () -> EngineTest.run(k,
                    EngineTest.config(dir.resolve("a"), "loss.type=kto"), null, null, List.of()));
            assertTrue(e.getMessage().contains("loop.mode = offline"), e.getMessage());
            e = assertThrows(UserInputException.class, () -> EngineTest.run(k,
                    EngineTest.config(dir.resolve("b"), "loss.type=grpo", "loop.mode=offline"), null, null, EngineTest.pairs(4, 1)));
            assertTrue(e.getMessage().contains("online"), e.getMessage());
            e = assertThrows(UserInputException.class, () -> EngineTest.run(k,
                    EngineTest.config(dir.resolve("c"), "loss.type=grpo", "loop.responses_per_prompt=1"), null, null, List.of()));
            assertTrue(e.getMessage().contains("num_generations"), e.getMessage());
        }
    }

    @Test
    void grpoWithReferenceAndReuseResumesBitForBit(@TempDir Path dir) throws Exception {
        try (CpuKernels k = new CpuKernels(2)) {
            String[] sets = {"loop.iterations=4", "loss.type=grpo", "loss.beta=0.04", "loop.reuse=2", "loss.epsilon_high=0.28",
                    "loss.loss_type=dapo"};
            TrainingRun.Result a = EngineTest.run(k, EngineTest.config(dir.resolve("a"), sets), null, null, List.of());
            Path b = dir.resolve("b");
            EngineTest.run(k, EngineTest.config(b, sets), null, null, List.of(), EngineTest.PEAK_70);
            Path b2 = dir.resolve("b2");
            EngineTest.run(k, EngineTest.config(b2, sets), null, it -> it < 3, List.of());
            Checkpoint c = Checkpoints.latest(b2.resolve("checkpoints")).orElseThrow();
            EngineTest.run(k, c.config(TrainConfig.class), c, null, List.of());
            assertEquals(EngineTest.metricsWithoutTimes(dir.resolve("a")), EngineTest.metricsWithoutTimes(b2));
            List<ObjectNode> m = steps(dir.resolve("a"));
            assertEquals(a.steps(), m.size());
            assertTrue(m.stream().allMatch(l -> l.has("kl") && l.get("kl").asDouble() >= 0), "beta > 0: the k3 KL is reported");
        }
    }

    @Test
    void ppoAdvantagesAreOneRolloutStatistic(@TempDir Path dir) throws Exception {
        // 12 rows in minibatches of 2: GAE, whitening and the rollout metrics come from the whole
        // rollout, so every step of an iteration reports the same rollout_reward and kl, equal
        // to the iteration's reward mean (per-minibatch advantages gave each minibatch its own)
        try (CpuKernels k = new CpuKernels(2)) {
            Path out = dir.resolve("ppo");
            EngineTest.run(k, EngineTest.config(out, "loss.type=ppo", "loop.minibatch=2", "loop.reuse=2", "loop.iterations=2"),
                    null, null, List.of());
            List<ObjectNode> m = steps(out);
            assertEquals(2 * 2 * 6, m.size());
            for (int it = 0; it < 2; it++) {
                final int i = it;
                List<ObjectNode> lines = m.stream().filter(l -> l.get("iteration").asInt() == i).toList();
                double mean = lines.get(0).get("reward_mean").asDouble();
                for (ObjectNode l : lines) {
                    assertEquals(mean, l.get("rollout_reward").asDouble(), 1e-6, l.toString());
                    assertEquals(lines.get(0).get("kl").asDouble(), l.get("kl").asDouble(), 0.0, l.toString());
                }
            }
        }
    }

    @Test
    void aRunWithoutSignalSaysWhy(@TempDir Path dir) throws Exception {
        RewardFunction tied = c -> 1.0;
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        try (CpuKernels k = new CpuKernels(2)) {
            Path out = dir.resolve("tied");
            TrainConfig cfg = EngineTest.config(out, "loss.type=dpo", "loop.iterations=3", "checkpoint.every=0");
            var policy = new io.pref4j.model.Gpt(k, EngineTest.TINY, 16, 32);
            policy.initRandom(11);
            var ref = new io.pref4j.model.Gpt(k, EngineTest.TINY, 16, 32);
            ref.initRandom(11);
            TrainingRun.Result r = TrainingRun.run(cfg, k, ByteTokenizer.INSTANCE, policy, ref, EngineTest.prompts(8, 1), List.of(),
                    out, null, new PrintStream(log, true), null, tied.asSource("tied"));
            assertEquals(0, r.steps());
            List<ObjectNode> lines = MetricsLog.read(out.resolve("metrics.jsonl"));
            assertEquals(3, lines.size(), "one line per iteration without signal");
            for (ObjectNode l : lines) assertTrue(l.get("no_signal").asText().contains("rewards tied"), l.toString());
            assertTrue(log.toString().contains("3 of 3 iterations had no training signal")
                    && log.toString().contains("same reward"), log.toString());

            // grpo: tied groups give zero advantages; the steps run, and the run still says why
            Path g = dir.resolve("grpo-tied");
            ByteArrayOutputStream glog = new ByteArrayOutputStream();
            var p2 = new io.pref4j.model.Gpt(k, EngineTest.TINY, 16, 32);
            p2.initRandom(11);
            var r2 = new io.pref4j.model.Gpt(k, EngineTest.TINY, 16, 32);
            r2.initRandom(11);
            TrainingRun.run(EngineTest.config(g, "loss.type=grpo", "loss.beta=0", "loop.iterations=2", "checkpoint.every=0"), k,
                    ByteTokenizer.INSTANCE, p2, r2, EngineTest.prompts(8, 1), List.of(), g, null, new PrintStream(glog, true), null,
                    tied.asSource("tied"));
            List<ObjectNode> gl = MetricsLog.read(g.resolve("metrics.jsonl"));
            assertEquals(2, gl.stream().filter(l -> l.has("no_signal")).count(), gl.toString());
            assertTrue(gl.stream().filter(l -> l.has("loss")).allMatch(l -> l.get("frac_reward_zero_std").asDouble() == 1.0), gl.toString());
            assertTrue(glog.toString().contains("2 of 2 iterations had no training signal"), glog.toString());
        }
    }

    @Test
    void theEndOfRunSamplesAreAConfigKey(@TempDir Path dir) throws Exception {
        try (CpuKernels k = new CpuKernels(2)) {
            Path none = dir.resolve("none"), some = dir.resolve("some");
            EngineTest.run(k, EngineTest.config(none, "loop.iterations=1", "log.final_samples=0"), null, null, List.of());
            assertFalse(java.nio.file.Files.exists(none.resolve("samples.jsonl")), "final_samples 0 skips the step");
            EngineTest.run(k, EngineTest.config(some, "loop.iterations=1", "log.final_samples=3"), null, null, List.of());
            assertEquals(3, java.nio.file.Files.readAllLines(some.resolve("samples.jsonl")).size());
        }
    }

    @Test
    void maxPromptLengthKeepsTheLastTokens() {
        var tok = ByteTokenizer.INSTANCE;
        List<Engine.Prompt> p = List.of(new Engine.Prompt("abcdef", tok.encode("abcdef")), new Engine.Prompt("ab", tok.encode("ab")));
        List<Engine.Prompt> t = TrainingData.truncatePrompts(p, 3, tok);
        assertArrayEquals(tok.encode("def"), t.get(0).ids());
        assertEquals("def", t.get(0).text());
        assertSame(p.get(1), t.get(1));
        assertSame(p, TrainingData.truncatePrompts(p, 0, tok), "0: no limit");
    }
}
