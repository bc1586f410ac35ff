package io.pref4j.experiment.length;

import io.pref4j.io.ModelFiles;
import io.pref4j.model.CausalLm;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.config.TrainConfig;
import io.pref4j.kernel.Kernels;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.reward.RewardSource;
import io.pref4j.sample.Generator;
import io.pref4j.text.ByteTokenizer;
import io.pref4j.train.Engine;
import io.pref4j.train.TrainingRun;
import io.pref4j.train.run.MetricsLog;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs one method of a length experiment with {@link TrainingRun} (the engine of SPEC §3)
 * and measures the gold reward on the held-out prompts every few iterations, from π_ref
 * (iteration 0) to the end. Each run gets its own CPU backend (the backend owns the model
 * buffers, so closing it frees them). The engine's console output goes to
 * {@code OUT/train.log}; its checkpoints are deleted after the run (the curves are what the
 * experiment keeps).
 */
public final class MethodRunner {
    private MethodRunner() {}

    /** Rows of the policy's activations: generation chunks and minibatches are at most this. */
    public static final int ROWS = 64;

    /** What every run of one (seed, task) shares. */
    public record Setup(int threads, Path baseModel, List<Engine.Prompt> pool, List<Engine.Prompt> heldOut,
                        int evalPerPrompt, int maxNew, LengthTasks.Task task, int mode, long seed) {}

    /** One method: a name and the config keys that make it (on top of the experiment's common keys). */
    public record Method(String name, List<String> sets) {
        public boolean offline() { return sets.contains("loop.mode=offline"); }

        public boolean ppo() { return sets.contains("loss.type=ppo"); }
    }

    /** A gold-reward measurement: after iteration (0 = π_ref), prompts seen, training wall clock so far. */
    public record Point(int iteration, long prompts, double wallS, double gold, double length) {}

    /**
     * What a run produced.
     *
     * @param rewardQueries proxy reward-model queries during training (online), or for offline
     *                      methods the gold labels of the dataset pairs it consumed (2 per pair)
     * @param regenerated   prompts whose responses were (re)generated, summed over iterations
     */
    public record Outcome(String method, long seed, List<Point> points, double wallS, double tGeneration,
                          double tReward, double tReference, double tTrain, long rewardQueries, long regenerated,
                          int iterations, int steps) {
        public double finalGold() { return points.getLast().gold(); }

        /** Mean gold reward over the measurements after π_ref (area under the curve: speed and level). */
        public double meanGold() {
            return points.stream().skip(1).mapToDouble(Point::gold).average().orElse(Double.NaN);
        }
    }

    /** Gold reward (mean over evalPerPrompt samples of each held-out prompt) and mean length of the model's responses. */
    public static double[] goldEval(Generator gen, Setup s, int evalIndex) {
        int n = s.heldOut().size() * s.evalPerPrompt();
        int[][] prompts = new int[n][];
        for (int i = 0; i < n; i++) prompts[i] = s.heldOut().get(i % s.heldOut().size()).ids();
        double gold = 0, len = 0;
        int eos = ByteTokenizer.INSTANCE.eosId();
        // common random numbers: the same sampling seed for every method at the same measurement
        long seed = s.seed() * 0x9E3779B97F4A7C15L + 7919L * evalIndex + 0xE7A1L;
        for (int start = 0; start < n; start += ROWS) {
            int[][] b = Arrays.copyOfRange(prompts, start, Math.min(n, start + ROWS));
            Generator.Sample[] got = gen.generate(b, new Generator.Options(s.maxNew(), 1f, 0, 1f, eos, seed + start));
            for (Generator.Sample g : got) {
                int l = LengthTasks.content(g).length;
                gold += s.task().gold(l, s.mode()) / n;
                len += (double) l / n;
            }
        }
        return new double[]{gold, len};
    }

    /** π_ref's gold reward (the iteration-0 point every run starts from). */
    public static Point referencePoint(Setup s) {
        try (Kernels k = new CpuKernels(s.threads());
             CausalLm ref = ModelFiles.load(k, s.baseModel(), ROWS, ReferenceModel.MAX_T)) {
            double[] g = goldEval(new Generator(ref), s, 0);
            return new Point(0, 0, 0, g[0], g[1]);
        }
    }

    /**
     * Runs the method for cfg's iterations, measuring the gold reward after every
     * {@code evalEvery}-th iteration and the last.
     *
     * @param common  the experiment's config keys (loop sizes, optimiser, sampling)
     * @param proxy   the proxy reward model (online methods), or null
     * @param offline the task's preference pairs (offline methods)
     */
    public static Outcome run(Setup s, Method m, List<String> common, ProxyReward.Model proxy,
                              List<Engine.OfflinePair> offline, int evalEvery, Point ref, Path out) throws IOException {
        List<String> sets = new ArrayList<>(common);
        sets.addAll(m.sets());
        sets.addAll(List.of("run.name=" + m.name(), "run.out=" + out, "run.seed=" + s.seed(), "run.threads=" + s.threads(),
                "checkpoint.every=0", "checkpoint.keep=1", "loop.eval_every=0", "log.progress=never", "log.every=1000000",
                "sampling.max_new_tokens=" + s.maxNew()));
        TrainConfig cfg = TrainConfig.load(null, sets);
        int B = cfg.loop().promptBatch(), C = cfg.loop().responsesPerPrompt();
        List<Point> points = new ArrayList<>();
        points.add(ref);
        Files.createDirectories(out);
        PrintStream console = System.out;
        try (Kernels k = new CpuKernels(s.threads());
             PrintStream log = new PrintStream(Files.newOutputStream(out.resolve("train.log")), true);
             RewardSource reward = proxy != null ? ProxyReward.source(k, proxy)
                     : io.pref4j.reward.RewardFunction.of("unused", c -> 0.0)) {
            CausalLm policy = ModelFiles.load(k, s.baseModel(), ROWS, ReferenceModel.MAX_T);
            CausalLm refModel = ModelFiles.load(k, s.baseModel(), ROWS, ReferenceModel.MAX_T);
            if (m.ppo()) policy = policy.withHead(ROWS, ReferenceModel.MAX_T, s.seed(), 0.02);
            Generator gen = new Generator(policy);
            int total = cfg.loop().iterations();
            Map<Integer, double[]> evals = new TreeMap<>();
            int[] evalIndex = {1};
            System.setOut(log);
            try {
                TrainingRun.run(cfg, k, ByteTokenizer.INSTANCE, policy, refModel, s.pool(), m.offline() ? offline : List.of(),
                        out, null, log, it -> {
                            if (it % evalEvery == 0 || it == total) evals.put(it, goldEval(gen, s, evalIndex[0]++));
                            return true;
                        }, reward);
            } finally {
                System.setOut(console);
            }
            // the wall clock from the engine's own split (generation, reward, reference, training), per iteration
            TreeMap<Integer, ObjectNode> lastOfIteration = new TreeMap<>();
            List<ObjectNode> rows = MetricsLog.read(out.resolve(MetricsLog.FILE));
            rows.sort(Comparator.comparingLong(r -> r.get(MetricsLog.STEP).asLong()));
            for (ObjectNode r : rows) lastOfIteration.put(r.get("iteration").asInt(), r);
            double gen0 = 0, rew = 0, refT = 0, train = 0;
            long regenerated = 0;
            double[] cumWall = new double[total + 1];
            for (int it = 0; it < total; it++) {
                ObjectNode r = lastOfIteration.get(it);
                double g = 0, w = 0, f = 0, t = 0;
                if (r != null) {
                    g = r.path("time_generation").asDouble();
                    w = r.path("time_reward").asDouble();
                    f = r.path("time_reference").asDouble();
                    t = r.path("time_train").asDouble();
                    regenerated += r.path("regenerated").asLong();
                }
                gen0 += g;
                rew += w;
                refT += f;
                train += t;
                cumWall[it + 1] = cumWall[it] + g + w + f + t;
            }
            for (var e : evals.entrySet()) {
                int it = e.getKey();
                points.add(new Point(it, (long) it * B, cumWall[it], e.getValue()[0], e.getValue()[1]));
            }
            long queries = m.offline() ? 2L * total * B : regenerated * C;
            deleteRecursively(out.resolve("checkpoints"));
            return new Outcome(m.name(), s.seed(), List.copyOf(points), cumWall[total], gen0, rew, refT, train,
                    queries, regenerated, total, rows.size());
        }
    }

    static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (var walk = Files.walk(p)) {
            for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }

    /** A stream that drops everything. */
    static PrintStream nullStream() {
        return new PrintStream(OutputStream.nullOutputStream());
    }
}
