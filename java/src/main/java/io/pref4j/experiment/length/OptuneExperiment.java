package io.pref4j.experiment.length;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.pref4j.UserInputException;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.awt.Color;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code optune}: OPTune (Chen et al., SPEC §6.4) on a length task with the learned proxy
 * reward: online DPO against OPTune at ρ ∈ {1.0, 0.7, 0.5, 0.3} (lowest-reward selection,
 * wdpo), random selection and plain DPO at ρ = 0.5. The prompt pool has as many slots as the
 * prompt batch, so every iteration visits every prompt (as in the paper's iterations over the
 * prompt set) and OPTune regenerates ⌈ρB⌉ of them, reusing the stored pairs of the rest.
 * Measures the gold reward per iteration and per second of training wall clock, the
 * wall-clock split (generation, reward, reference, training), and the speed-up to reach 90% of
 * online DPO's final improvement. Writes DIR/summary.json and DIR/*.png; prints a table.
 */
@Command(name = "optune", mixinStandardHelpOptions = true,
        description = {"OPTune vs online DPO on a length task with a learned proxy reward (SPEC 6.4):",
                "gold reward per iteration and per second, wall-clock split, speed-up."})
public final class OptuneExperiment implements Callable<Integer> {

    @Option(names = "--seed", defaultValue = "1", description = "First seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--seeds", defaultValue = "3", description = "Number of seeds (default: ${DEFAULT-VALUE}).")
    int seeds;

    @Option(names = "--out", defaultValue = "runs/optune", description = "Output folder (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--quick", description = "CI size (well under a minute per seed).")
    boolean quick;

    @Option(names = "--full", description = "Larger size, and random / dpo at every ρ.")
    boolean full;

    @Option(names = "--task", defaultValue = "min", description = "Length task: min, mode or skew (default: ${DEFAULT-VALUE}).")
    String task;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0 = all cores).")
    int threads;

    /** Fraction of online DPO's gold improvement (over π_ref) that defines "the same reward". */
    static final double TARGET_FRACTION = 0.9;

    record Size(String name, TaskData.Prep prep, int iterations, int slots, int responses, int minibatch, int evalEvery, double lr) {}

    static Size size(boolean quick, boolean full) {
        if (quick && full) throw new UserInputException("--quick and --full exclude each other");
        ReferenceModel.Settings small = new ReferenceModel.Settings(2, 4, 64, 300, 16, 3e-3f, 8192, 0);
        if (quick) return new Size("quick", new TaskData.Prep(small, 256, new ProxyReward.Settings(1, 16, 1e-3f, 101), 1, 8, 56),
                8, 12, 4, 12, 2, 3e-4);
        if (full) return new Size("full", new TaskData.Prep(new ReferenceModel.Settings(2, 4, 64, 1500, 16, 3e-3f, 16384, 0), 2048,
                new ProxyReward.Settings(2, 16, 1e-3f, 101), 2, 32, 56), 80, 24, 4, 12, 4, 3e-4);
        return new Size("default", new TaskData.Prep(new ReferenceModel.Settings(2, 4, 64, 600, 16, 3e-3f, 8192, 0), 512,
                new ProxyReward.Settings(2, 16, 1e-3f, 101), 2, 16, 56), 30, 24, 4, 12, 2, 3e-4);
    }

    /** The settings compared: name → config keys. */
    static Map<String, List<String>> settings(boolean full) {
        Map<String, List<String>> s = new LinkedHashMap<>();
        s.put("online-dpo", List.of("loss.type=dpo"));
        for (double rho : new double[]{1.0, 0.7, 0.5, 0.3})
            s.put(String.format(Locale.ROOT, "optune-rho%.1f", rho), optune(rho, "lowest", "wdpo"));
        for (double rho : full ? new double[]{0.7, 0.5, 0.3} : new double[]{0.5}) {
            s.put(String.format(Locale.ROOT, "random-rho%.1f", rho), optune(rho, "random", "wdpo"));
            s.put(String.format(Locale.ROOT, "dpo-rho%.1f", rho), optune(rho, "lowest", "dpo"));
        }
        return s;
    }

    static List<String> optune(double rho, String selection, String loss) {
        return List.of("optune.enabled=true", "optune.rho=" + rho, "optune.selection=" + selection, "loss.type=" + loss);
    }

    @Override
    public Integer call() throws IOException {
        if (seeds < 1) throw new UserInputException("--seeds must be >= 1, got " + seeds);
        if (threads < 0) throw new UserInputException("--threads must be >= 0, got " + threads);
        if (threads == 0) threads = Runtime.getRuntime().availableProcessors();
        Size z = size(quick, full);
        LengthTasks.Task t = LengthTasks.Task.of(task);
        PrintStream log = System.out;
        Files.createDirectories(out);
        long t0 = System.nanoTime();
        String started = Instant.now().toString();
        Map<String, Object> machine = Report.machine(threads);
        Map<String, List<String>> settings = settings(full);
        Map<String, List<MethodRunner.Outcome>> results = new LinkedHashMap<>();
        List<TaskData> data = new ArrayList<>();
        List<String> common = List.of("loop.prompt_batch=" + z.slots(), "loop.responses_per_prompt=" + z.responses(),
                "loop.iterations=" + z.iterations(), "loop.minibatch=" + z.minibatch(), "optim.lr=" + z.lr(),
                "optim.schedule=constant", "optim.beta2=0.95", "optim.warmup=2", "optim.weight_decay=0", "loss.beta=0.1", "loss.beta2=1.0",
                "sampling.temperature=1.0");
        for (int si = 0; si < seeds; si++) {
            long s = seed + si;
            log.printf(Locale.ROOT, "== seed %d (%d/%d), size %s, task %s ==%n", s, si + 1, seeds, z.name(), t.id);
            Path seedDir = out.resolve("seed-" + s);
            TaskData td = TaskData.prepare(s, z.prep(), List.of(t), seedDir, threads, log).get(t);
            data.add(td);
            log.printf(Locale.ROOT, "π_ref gold %.2f (length %.1f)%n", td.reference().gold(), td.reference().length());
            if (si == 0) {
                // untimed warm-up, so that the JIT compilation of the first timed run does not count against it
                MethodRunner.run(td.setup(), new MethodRunner.Method("warmup", List.of("loss.type=dpo", "loop.iterations=4")),
                        common, td.proxy(), td.offline(), 1_000, td.reference(), seedDir.resolve("warmup"));
            }
            for (var e : settings.entrySet()) {
                MethodRunner.Method m = new MethodRunner.Method(e.getKey(), e.getValue());
                MethodRunner.Outcome o = MethodRunner.run(td.setup(), m, common, td.proxy(), td.offline(), z.evalEvery(),
                        td.reference(), seedDir.resolve(m.name()));
                results.computeIfAbsent(m.name(), x -> new ArrayList<>()).add(o);
                log.printf(Locale.ROOT, "  %-14s gold %8.2f -> %8.2f  regenerated %4d  wall %5.1fs (generation %.1fs)  [%.0fs elapsed]%n",
                        m.name(), td.reference().gold(), o.finalGold(), o.regenerated(), o.wallS(), o.tGeneration(),
                        (System.nanoTime() - t0) / 1e9);
            }
        }
        double elapsed = (System.nanoTime() - t0) / 1e9;
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("experiment", "optune");
        summary.put("size", z.name());
        summary.put("task", t.id);
        List<Long> seedList = new ArrayList<>();
        for (int i = 0; i < seeds; i++) seedList.add(seed + i);
        summary.put("seeds", seedList);
        summary.put("started", started);
        summary.put("elapsed_s", elapsed);
        summary.put("machine", machine);
        Map<String, Object> st = new LinkedHashMap<>();
        st.put("pretrain", z.prep().pretrain().toString());
        st.put("dataset_pairs_sampled", z.prep().datasetPairs());
        st.put("reward_model", z.prep().rm().toString());
        st.put("prompt_slots_per_iteration", z.slots());
        st.put("eval_every", z.evalEvery());
        st.put("common_config", common);
        st.put("settings", settings);
        st.put("target_fraction_of_online_dpo_improvement", TARGET_FRACTION);
        summary.put("settings", st);
        summary.put("reference_gold", Report.stat(data.stream().mapToDouble(d -> d.reference().gold()).toArray()));
        summary.put("rm_eval_accuracy", Report.stat(data.stream().mapToDouble(d -> d.proxy().evalAccuracy()).toArray()));
        Map<String, Object> ms = new LinkedHashMap<>();
        Map<String, double[]> speedups = speedups(results);
        for (var e : results.entrySet()) {
            Map<String, Object> m = Report.method(e.getValue());
            m.put("regenerated_per_iteration", (Double) m.get("regenerated_prompts") / z.iterations());
            m.put("generation_s_per_iteration", Stats.mean(e.getValue().stream().mapToDouble(o -> o.tGeneration() / o.iterations()).toArray()));
            double[] sp = speedups.get(e.getKey());
            m.put("time_to_target_s", Report.stat(timesToTarget(results, e.getKey())));
            m.put("speedup_vs_online_dpo", Report.stat(finite(sp)));
            m.put("seeds_reaching_target", finite(timesToTarget(results, e.getKey())).length + "/" + e.getValue().size());
            ms.put(e.getKey(), m);
        }
        summary.put("methods", ms);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        Files.writeString(out.resolve("summary.json"), json.writeValueAsString(summary) + "\n");
        plots(results);
        printTable(log, z, data, results, speedups);
        log.printf(Locale.ROOT, "wrote %s/summary.json and plots (%.0fs)%n", out, elapsed);
        return 0;
    }

    static double[] finite(double[] x) {
        return java.util.Arrays.stream(x).filter(Double::isFinite).toArray();
    }

    /**
     * Per seed: the training wall clock at which the setting's gold reward first reaches
     * π_ref + 90% of that seed's online-DPO improvement (linear interpolation between
     * measurements; NaN when never reached).
     */
    static double[] timesToTarget(Map<String, List<MethodRunner.Outcome>> results, String name) {
        List<MethodRunner.Outcome> dpo = results.get("online-dpo"), runs = results.get(name);
        double[] out = new double[runs.size()];
        for (int i = 0; i < runs.size(); i++) {
            MethodRunner.Outcome d = dpo.get(i);
            double ref = d.points().getFirst().gold();
            double target = ref + TARGET_FRACTION * (d.finalGold() - ref);
            out[i] = timeTo(runs.get(i).points(), target, d.finalGold() > ref);
        }
        return out;
    }

    /** First wall-clock time the curve reaches the target (from below when rising), interpolated. */
    static double timeTo(List<MethodRunner.Point> pts, double target, boolean rising) {
        if (!rising) return Double.NaN;
        for (int j = 1; j < pts.size(); j++) {
            MethodRunner.Point a = pts.get(j - 1), b = pts.get(j);
            if (b.gold() >= target) {
                if (a.gold() >= target) return a.wallS();
                double f = (target - a.gold()) / (b.gold() - a.gold());
                return a.wallS() + f * (b.wallS() - a.wallS());
            }
        }
        return Double.NaN;
    }

    /** Per seed: online DPO's time to the target over the setting's. */
    static Map<String, double[]> speedups(Map<String, List<MethodRunner.Outcome>> results) {
        double[] base = timesToTarget(results, "online-dpo");
        Map<String, double[]> out = new LinkedHashMap<>();
        for (String name : results.keySet()) {
            double[] t = timesToTarget(results, name), sp = new double[t.length];
            for (int i = 0; i < t.length; i++) sp[i] = base[i] / t[i];
            out.put(name, sp);
        }
        return out;
    }

    private void plots(Map<String, List<MethodRunner.Outcome>> results) {
        Map<String, Charts.Series> byIt = Charts.ordered(), byWall = Charts.ordered();
        for (var e : results.entrySet()) {
            Charts.Series c = Report.curve(e.getValue(), false);
            double[] its = e.getValue().getFirst().points().stream().mapToDouble(MethodRunner.Point::iteration).toArray();
            byIt.put(e.getKey(), new Charts.Series(its, c.y(), c.err()));
            byWall.put(e.getKey(), Report.curve(e.getValue(), true));
        }
        Charts.write(out.resolve("optune-gold-per-iteration.png"), "OPTune: gold reward per iteration (mean ± sd over seeds)",
                "iteration", "gold reward", byIt);
        Charts.write(out.resolve("optune-gold-per-second.png"), "OPTune: gold reward per second of training wall clock (mean over seeds)",
                "training wall clock (s)", "gold reward", byWall);
        CategoryChart bars = new CategoryChartBuilder().width(900).height(560).title("OPTune: wall-clock split (mean over seeds)")
                .xAxisTitle("setting").yAxisTitle("seconds").build();
        bars.getStyler().setStacked(true);
        bars.getStyler().setChartBackgroundColor(Color.WHITE);
        bars.getStyler().setPlotBackgroundColor(Color.WHITE);
        List<String> names = new ArrayList<>(results.keySet());
        String[] parts = {"generation", "reward", "reference", "train"};
        for (int p = 0; p < parts.length; p++) {
            List<Double> ys = new ArrayList<>();
            for (String n : names) {
                final int q = p;
                ys.add(Stats.mean(results.get(n).stream().mapToDouble(o -> switch (q) {
                    case 0 -> o.tGeneration();
                    case 1 -> o.tReward();
                    case 2 -> o.tReference();
                    default -> o.tTrain();
                }).toArray()));
            }
            bars.addSeries(parts[p], names, ys);
        }
        try {
            BitmapEncoder.saveBitmap(bars, out.resolve("optune-wall-split.png").toString(), BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private void printTable(PrintStream log, Size z, List<TaskData> data, Map<String, List<MethodRunner.Outcome>> results,
                            Map<String, double[]> speedups) {
        log.println();
        log.printf(Locale.ROOT, "OPTune on %s length (proxy RM; gold on held-out prompts), %d iterations of %d prompts x %d responses, mean ± sd over %d seed(s); π_ref gold %s%n",
                task, z.iterations(), z.slots(), z.responses(), seeds, Stats.fmt(data.stream().mapToDouble(d -> d.reference().gold()).toArray(), 2));
        log.printf(Locale.ROOT, "  %-14s %-16s %-16s %7s %-36s %-15s %s%n", "setting", "final gold", "mean gold (AUC)", "regen/it",
                "wall s: total (gen/reward/ref/train)", "time to target", "speed-up vs online DPO");
        for (var e : results.entrySet()) {
            List<MethodRunner.Outcome> r = e.getValue();
            double[] tt = timesToTarget(results, e.getKey());
            log.printf(Locale.ROOT, "  %-14s %-16s %-16s %7.1f %-36s %-15s %s (%d/%d seeds reach)%n", e.getKey(),
                    Stats.fmt(r.stream().mapToDouble(MethodRunner.Outcome::finalGold).toArray(), 2),
                    Stats.fmt(r.stream().mapToDouble(MethodRunner.Outcome::meanGold).toArray(), 2),
                    Stats.mean(r.stream().mapToDouble(o -> (double) o.regenerated() / o.iterations()).toArray()),
                    String.format(Locale.ROOT, "%.1f (%.1f/%.1f/%.1f/%.1f)",
                            Stats.mean(r.stream().mapToDouble(MethodRunner.Outcome::wallS).toArray()),
                            Stats.mean(r.stream().mapToDouble(MethodRunner.Outcome::tGeneration).toArray()),
                            Stats.mean(r.stream().mapToDouble(MethodRunner.Outcome::tReward).toArray()),
                            Stats.mean(r.stream().mapToDouble(MethodRunner.Outcome::tReference).toArray()),
                            Stats.mean(r.stream().mapToDouble(MethodRunner.Outcome::tTrain).toArray())),
                    finite(tt).length == 0 ? "not reached" : Stats.fmt(finite(tt), 1) + "s",
                    finite(speedups.get(e.getKey())).length == 0 ? "-" : Stats.fmt(finite(speedups.get(e.getKey())), 2) + "x",
                    finite(tt).length, tt.length);
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new OptuneExperiment()).execute(args));
    }
}
