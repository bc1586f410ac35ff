package io.pref4j.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.config.TrainConfig;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;
import io.pref4j.model.ParameterLayout;
import io.pref4j.reward.RewardFunction;
import io.pref4j.text.ByteTokenizer;
import io.pref4j.train.run.Checkpoint;
import io.pref4j.train.run.Checkpoints;
import io.pref4j.train.run.MetricsLog;
import io.pref4j.train.run.NonFiniteException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** The training loop end to end on a tiny random GPT with the byte tokenizer. */
class EngineTest {

    static final GptConfig TINY = new GptConfig(32, ByteTokenizer.VOCAB_SIZE, 1, 2, 16);
    /** R1's bump exp(−((id − 70)/10)²) averaged over the response tokens (any id), as a Java RewardFunction. */
    static final RewardFunction PEAK_70 = c -> {
        double s = 0;
        for (int id : c.responseIds()) s += Math.exp(-Math.pow((id - 70) / 10.0, 2));
        return c.responseIds().length == 0 ? 0 : s / c.responseIds().length;
    };

    static final PrintStream QUIET = new PrintStream(java.io.OutputStream.nullOutputStream());

    static List<Engine.Prompt> prompts(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Engine.Prompt> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            StringBuilder s = new StringBuilder();
            int len = 2 + r.nextInt(4);
            for (int j = 0; j < len; j++) s.append((char) ('a' + r.nextInt(26)));
            out.add(new Engine.Prompt(s.toString(), ByteTokenizer.INSTANCE.encode(s.toString())));
        }
        return out;
    }

    static List<Engine.OfflinePair> pairs(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Engine.OfflinePair> out = new ArrayList<>();
        for (Engine.Prompt p : prompts(n, seed)) {
            String c = "F".repeat(1 + r.nextInt(3)), rj = "xyz".substring(0, 1 + r.nextInt(3)) + "qq";
            out.add(new Engine.OfflinePair(p, c, ByteTokenizer.INSTANCE.encode(c), rj, ByteTokenizer.INSTANCE.encode(rj)));
        }
        return out;
    }

    static TrainConfig config(Path out, String... sets) {
        List<String> all = new ArrayList<>(List.of("run.out=" + out, "run.seed=3", "loop.iterations=4",
                "loop.prompt_batch=4", "loop.responses_per_prompt=3", "loop.minibatch=4", "sampling.max_new_tokens=8",
                "checkpoint.every=2", "log.progress=never", "optim.lr=0.003", "optim.warmup=1"));
        all.addAll(List.of(sets));
        return TrainConfig.load(null, all);
    }

    /** Runs a config with fresh models initialised from the same seed. */
    static TrainingRun.Result run(CpuKernels k, TrainConfig cfg, Checkpoint resume, java.util.function.IntPredicate stop,
                                  List<Engine.OfflinePair> offline) throws Exception {
        return run(k, cfg, resume, stop, offline, PEAK_70);
    }

    static TrainingRun.Result run(CpuKernels k, TrainConfig cfg, Checkpoint resume, java.util.function.IntPredicate stop,
                                  List<Engine.OfflinePair> offline, RewardFunction reward) throws Exception {
        int maxB = 16;
        Gpt policy = new Gpt(k, TINY, maxB, 32);
        policy.initRandom(11);
        Gpt ref = new Gpt(k, TINY, maxB, 32);
        ref.initRandom(11);
        if (cfg.loss().type().equals("ppo")) policy = policy.withHead(maxB, 32, 5, 0.02);
        List<Engine.Prompt> prompts = offline.isEmpty() ? prompts(8, 1) : offline.stream().map(Engine.OfflinePair::prompt).toList();
        return TrainingRun.run(cfg, k, ByteTokenizer.INSTANCE, policy, ref, prompts, offline,
                Path.of(cfg.run().out()), resume, QUIET, stop, reward.asSource("test reward"));
    }

    /** metrics.jsonl without the wall-clock fields, which differ between runs. */
    static List<String> metricsWithoutTimes(Path out) {
        List<String> lines = new ArrayList<>();
        for (ObjectNode n : MetricsLog.read(out.resolve("metrics.jsonl"))) {
            n.remove(List.of("time_generation", "time_reward", "time_reference", "time_train"));
            lines.add(n.toString());
        }
        return lines;
    }

    @Test
    void resumedRunContinuesBitForBit(@TempDir Path dir) throws Exception {
        try (CpuKernels k = new CpuKernels(2)) {
            String[] sets = {"loop.iterations=6", "optune.enabled=true", "optune.rho=0.5", "loss.type=wdpo"};
            TrainingRun.Result a = run(k, config(dir.resolve("a"), sets), null, null, List.of());
            assertEquals(6, a.iterations());

            Path b = dir.resolve("b");
            TrainingRun.Result killed = run(k, config(b, sets), null, it -> it < 5, List.of());
            assertEquals(5, killed.iterations(), "the first process stops after iteration 5");
            Checkpoint c = Checkpoints.latest(b.resolve("checkpoints")).orElseThrow();
            assertEquals(4, c.state().get("iteration").asInt(), "the newest checkpoint is iteration 4's");
            TrainingRun.Result resumed = run(k, c.config(TrainConfig.class), c, null, List.of());
            assertEquals(6, resumed.iterations());
            assertEquals(a.steps(), resumed.steps());

            List<String> ma = metricsWithoutTimes(dir.resolve("a")), mb = metricsWithoutTimes(b);
            assertEquals(a.steps(), ma.size());
            assertEquals(ma, mb, "metrics after the resume equal the uninterrupted run's");
            try (var sa = Checkpoints.latest(dir.resolve("a").resolve("checkpoints")).orElseThrow().openModel();
                 var sb = Checkpoints.latest(b.resolve("checkpoints")).orElseThrow().openModel()) {
                for (String name : sa.names()) assertArrayEquals(sa.floats(name), sb.floats(name), name);
            }
        }
    }

    @Test
    void onPolicyDpoRaisesTheBanditReward(@TempDir Path dir) throws Exception {
        // R1 peaks at token id 70; a random policy rarely emits it. Three seeds, all must improve.
        try (CpuKernels k = new CpuKernels(2)) {
            for (long seed = 1; seed <= 3; seed++) {
                Path out = dir.resolve("s" + seed);
                run(k, config(out, "run.seed=" + seed, "loop.iterations=20", "loop.prompt_batch=8",
                        "loop.responses_per_prompt=4", "loop.minibatch=8", "loss.type=dpo", "loss.beta=1.0",
                        "optim.lr=0.05", "checkpoint.every=0"), null, null, List.of());
                List<ObjectNode> m = MetricsLog.read(out.resolve("metrics.jsonl"));
                double first = m.get(0).get("reward_mean").asDouble();
                double last = m.get(m.size() - 1).get("reward_mean").asDouble();
                assertTrue(last > 1.5 * first, "seed " + seed + ": reward " + first + " -> " + last);
            }
        }
    }

    @Test
    void everyTrainerRuns(@TempDir Path dir) throws Exception {
        List<Engine.OfflinePair> data = pairs(8, 4);
        String[][] trainers = {
                {"sft", "loop.mode=offline", "loss.type=sft"},
                {"offline-dpo", "loop.mode=offline", "loss.type=dpo"},
                {"offline-ipo", "loop.mode=offline", "loss.type=ipo"},
                {"offline-hinge", "loop.mode=offline", "loss.type=hinge"},
                {"offline-wdpo", "loop.mode=offline", "loss.type=wdpo"},
                {"offline-rwr", "loop.mode=offline", "loss.type=rwr"},
                {"offline-bon", "loop.mode=offline", "loss.type=bon", "loss.bon_negative=worst"},
                {"online-dpo", "loss.type=dpo"},
                {"online-ipo", "loss.type=ipo", "loop.pairs=all"},
                {"online-wdpo-mixed", "loss.type=wdpo", "loop.mixing=0.5"},
                {"online-bon", "loss.type=bon", "loss.bon_negative=average_over_worse"},
                {"online-rwr", "loss.type=rwr", "loss.rwr_mode=filter"},
                {"reinforce", "loss.type=reinforce", "loss.baseline=moving_average", "loss.kl_coef=0.1"},
                {"rloo", "loss.type=reinforce", "loss.baseline=rloo"},
                {"ppo", "loss.type=ppo", "loop.reuse=2"},
                {"optune", "loss.type=wdpo", "optune.enabled=true", "optune.rho=0.5", "optune.selection=random"},
        };
        try (CpuKernels k = new CpuKernels(2)) {
            for (String[] t : trainers) {
                Path out = dir.resolve(t[0]);
                String[] sets = Arrays.copyOfRange(t, 1, t.length);
                sets = Arrays.copyOf(sets, sets.length + 1);
                sets[sets.length - 1] = "loop.iterations=2";
                TrainingRun.Result r = run(k, config(out, sets), null, null, data);
                assertEquals(2, r.iterations(), t[0]);
                List<ObjectNode> m = MetricsLog.read(out.resolve("metrics.jsonl"));
                assertFalse(m.isEmpty(), t[0] + ": metrics written");
                for (ObjectNode line : m) {
                    assertTrue(line.get("loss").isNumber() && Double.isFinite(line.get("loss").asDouble()), t[0] + ": " + line);
                    assertTrue(line.get("grad_norm").asDouble() > 0, t[0] + ": gradients flow: " + line);
                }
                assertTrue(Files.size(out.resolve("reward.png")) > 1000, t[0] + ": plot");
                assertTrue(Files.exists(out.resolve("samples.jsonl")), t[0]);
                assertTrue(Files.exists(out.resolve("config.json")), t[0]);
            }
        }
    }

    @Test
    void nonFiniteLossStopsAndKeepsTheLastGoodCheckpoint(@TempDir Path dir) throws Exception {
        try (CpuKernels k = new CpuKernels(2)) {
            Path out = dir.resolve("nan");
            // from the 4th batch of rewards on, one response gets +Inf: wdpo's linear weight becomes Inf
            TrainConfig cfg = config(out, "loss.type=wdpo", "loss.wdpo_mode=linear", "checkpoint.every=1", "loop.iterations=6");
            int[] calls = {0};
            List<Double> seen = new ArrayList<>();
            RewardFunction poisoned = c -> {
                double r = PEAK_70.reward(c);
                seen.add(r);
                return seen.size() > 36 && seen.size() % 3 == 0 ? Double.POSITIVE_INFINITY : r;
            };
            NonFiniteException e = assertThrows(NonFiniteException.class, () -> run(k, cfg, null, null, List.of(), poisoned));
            assertTrue(e.getMessage().contains("step"), e.getMessage());
            Checkpoint c = Checkpoints.latest(out.resolve("checkpoints")).orElseThrow();
            assertEquals(c.dir(), e.lastCheckpoint(), "the diagnostic names the last good checkpoint");
            try (var st = c.openModel()) {
                for (String n : st.names()) for (float v : st.floats(n)) assertTrue(Float.isFinite(v), n);
            }
            for (ObjectNode line : MetricsLog.read(out.resolve("metrics.jsonl"))) assertNotNull(line.get("step"));
        }
    }
}
