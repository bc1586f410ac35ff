package io.pref4j.experiment.length;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.pref4j.UserInputException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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
 * {@code length}: the length tasks of Tajwar et al. (SPEC §6.3). For each seed: pretrain
 * π_ref (cached), build the Min / Mode / Skew Length preference datasets from π_ref samples,
 * train the proxy reward model of each, then run offline DPO, Pref-FT, on-policy DPO, PPO,
 * on-policy RWR and REINFORCE, and the prompt-batch (B) sweep of RWR and REINFORCE at a fixed
 * number of prompts and gradient steps; the gold reward (the length function) is measured on
 * held-out prompts. Writes DIR/summary.json, DIR/*.png and the runs under DIR/seed-S/, and
 * prints a table.
 */
@Command(name = "length", mixinStandardHelpOptions = true,
        description = {"Length tasks (Min, Mode, Skew Length): on-policy vs offline, negative gradient or not,",
                "and the prompt-batch sweep (SPEC 6.3). Default size: a few minutes per seed on 2 CPU cores."})
public final class LengthExperiment implements Callable<Integer> {

    @Option(names = "--seed", defaultValue = "1", description = "First seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--seeds", defaultValue = "3", description = "Number of seeds: seed, seed+1, ... (default: ${DEFAULT-VALUE}).")
    int seeds;

    @Option(names = "--out", defaultValue = "runs/length", description = "Output folder (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--quick", description = "CI size (well under a minute per seed).")
    boolean quick;

    @Option(names = "--full", description = "Larger size: longer pretraining, more data, more iterations.")
    boolean full;

    @Option(names = "--tasks", split = ",", defaultValue = "min,mode,skew", description = "Tasks (default: ${DEFAULT-VALUE}).")
    List<String> tasks;

    @Option(names = "--methods", split = ",", description = "Only these methods (default: all).")
    List<String> methods;

    @Option(names = "--no-sweep", description = "Skip the prompt-batch sweep.")
    boolean noSweep;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0 = all cores).")
    int threads;

    /** The experiment's size. */
    record Size(String name, TaskData.Prep prep, int iterations, int batch, int responses, int evalEvery, double lr,
                int[] sweepFactors, List<String> sweepTasks) {}

    static Size size(boolean quick, boolean full) {
        if (quick && full) throw new UserInputException("--quick and --full exclude each other");
        if (quick) return new Size("quick",
                new TaskData.Prep(new ReferenceModel.Settings(2, 4, 64, 300, 16, 3e-3f, 8192, 0), 256,
                        new ProxyReward.Settings(1, 16, 1e-3f, 101), 16, 8, 56),
                8, 8, 4, 4, 3e-4, new int[]{-2, 4}, List.of("min"));
        if (full) return new Size("full",
                new TaskData.Prep(new ReferenceModel.Settings(2, 4, 64, 1500, 16, 3e-3f, 16384, 0), 2048,
                        new ProxyReward.Settings(2, 16, 1e-3f, 101), 16, 32, 56),
                120, 16, 4, 8, 3e-4, new int[]{-2, 4}, List.of("min", "skew"));
        return new Size("default",
                new TaskData.Prep(new ReferenceModel.Settings(2, 4, 64, 600, 16, 3e-3f, 8192, 0), 512,
                        new ProxyReward.Settings(2, 16, 1e-3f, 101), 16, 16, 56),
                40, 16, 4, 4, 3e-4, new int[]{-2, 4}, List.of("min"));
    }

    /** The six methods of the comparison (B, C, iterations and the optimiser come from the size). */
    static List<MethodRunner.Method> methods() {
        return List.of(
                new MethodRunner.Method("offline-dpo", List.of("loop.mode=offline", "loss.type=dpo", "loop.minibatch=16")),
                new MethodRunner.Method("pref-ft", List.of("loop.mode=offline", "loss.type=sft", "loop.minibatch=16")),
                new MethodRunner.Method("onpolicy-dpo", List.of("loss.type=dpo", "loop.minibatch=16")),
                new MethodRunner.Method("ppo", List.of("loss.type=ppo", "loop.reuse=2", "loop.minibatch=32")),
                new MethodRunner.Method("onpolicy-rwr", List.of("loss.type=rwr", "loop.reuse=2", "loop.minibatch=32")),
                new MethodRunner.Method("reinforce", List.of("loss.type=reinforce", "loss.baseline=rloo", "loop.minibatch=32")));
    }

    /** Keys every run shares. */
    static List<String> common(Size z, int batch, int iterations) {
        return List.of("loop.prompt_batch=" + batch, "loop.responses_per_prompt=" + z.responses(), "loop.iterations=" + iterations,
                "optim.lr=" + z.lr(), "optim.schedule=constant", "optim.beta2=0.95", "optim.warmup=2", "optim.weight_decay=0", "loss.beta=0.1",
                "sampling.temperature=1.0");
    }

    /** Prompt batch of a sweep factor: f > 0 multiplies B, f < 0 divides it. */
    static int sweepBatch(int b, int f) {
        return f > 0 ? b * f : b / -f;
    }

    @Override
    public Integer call() throws IOException {
        if (seeds < 1) throw new UserInputException("--seeds must be >= 1, got " + seeds);
        if (threads < 0) throw new UserInputException("--threads must be >= 0, got " + threads);
        if (threads == 0) threads = Runtime.getRuntime().availableProcessors();
        Size z = size(quick, full);
        List<LengthTasks.Task> taskList = new ArrayList<>();
        for (String t : tasks) taskList.add(LengthTasks.Task.of(t));
        List<MethodRunner.Method> ms = new ArrayList<>();
        for (MethodRunner.Method m : methods()) if (methods == null || methods.contains(m.name())) ms.add(m);
        if (methods != null) for (String m : methods)
            if (methods().stream().noneMatch(x -> x.name().equals(m)))
                throw new UserInputException("unknown method " + m + "; known: " + methods().stream().map(MethodRunner.Method::name).toList());
        PrintStream log = System.out;
        Files.createDirectories(out);
        long t0 = System.nanoTime();
        String started = Instant.now().toString();
        Map<String, Object> machine = Report.machine(threads);
        // task -> method -> runs over seeds; sweep: task -> method -> B -> runs
        Map<LengthTasks.Task, Map<String, List<MethodRunner.Outcome>>> results = new LinkedHashMap<>();
        Map<LengthTasks.Task, Map<String, Map<Integer, List<MethodRunner.Outcome>>>> sweep = new LinkedHashMap<>();
        Map<LengthTasks.Task, List<TaskData>> data = new LinkedHashMap<>();
        for (int si = 0; si < seeds; si++) {
            long s = seed + si;
            log.printf(Locale.ROOT, "== seed %d (%d/%d), size %s ==%n", s, si + 1, seeds, z.name());
            Path seedDir = out.resolve("seed-" + s);
            Map<LengthTasks.Task, TaskData> prepared = TaskData.prepare(s, z.prep(), taskList, seedDir, threads, log);
            if (si == 0) {
                // untimed warm-up, so that JIT compilation does not count against the first timed run
                TaskData td = prepared.get(taskList.getFirst());
                MethodRunner.run(td.setup(), new MethodRunner.Method("warmup", List.of("loss.type=dpo", "loop.iterations=3")),
                        common(z, z.batch(), z.iterations()), td.proxy(), td.offline(), 1_000, td.reference(), seedDir.resolve("warmup"));
            }
            for (LengthTasks.Task task : taskList) {
                TaskData td = prepared.get(task);
                data.computeIfAbsent(task, x -> new ArrayList<>()).add(td);
                log.printf(Locale.ROOT, "task %s: π_ref gold %.2f (length %.1f)%n", task.id, td.reference().gold(), td.reference().length());
                for (MethodRunner.Method m : ms) {
                    MethodRunner.Outcome o = MethodRunner.run(td.setup(), m, common(z, z.batch(), z.iterations()), m.offline() ? null : td.proxy(),
                            td.offline(), z.evalEvery(), td.reference(), seedDir.resolve(task.id).resolve(m.name()));
                    results.computeIfAbsent(task, x -> new LinkedHashMap<>()).computeIfAbsent(m.name(), x -> new ArrayList<>()).add(o);
                    log.printf(Locale.ROOT, "  %-14s gold %8.2f -> %8.2f  (mean %8.2f)  %5.1fs  [%.0fs elapsed]%n", m.name(),
                            td.reference().gold(), o.finalGold(), o.meanGold(), o.wallS(), (System.nanoTime() - t0) / 1e9);
                }
                if (!noSweep && z.sweepTasks().contains(task.id)) {
                    for (MethodRunner.Method m : ms) {
                        if (!m.name().equals("onpolicy-rwr") && !m.name().equals("reinforce")) continue;
                        var byB = sweep.computeIfAbsent(task, x -> new LinkedHashMap<>()).computeIfAbsent(m.name(), x -> new java.util.TreeMap<>());
                        byB.computeIfAbsent(z.batch(), x -> new ArrayList<>()).add(results.get(task).get(m.name()).getLast());
                        for (int f : z.sweepFactors()) {
                            int b = sweepBatch(z.batch(), f);
                            int its = (int) ((long) z.iterations() * z.batch() / b), every = Math.max(1, z.evalEvery() * z.batch() / b);
                            MethodRunner.Outcome o = MethodRunner.run(td.setup(), m, common(z, b, its), td.proxy(), td.offline(), every,
                                    td.reference(), seedDir.resolve(task.id).resolve(m.name() + "-B" + b));
                            byB.computeIfAbsent(b, x -> new ArrayList<>()).add(o);
                            log.printf(Locale.ROOT, "  %-14s B=%-3d gold %8.2f -> %8.2f  (mean %8.2f)  %5.1fs%n", m.name(), b,
                                    td.reference().gold(), o.finalGold(), o.meanGold(), o.wallS());
                        }
                    }
                }
            }
        }
        double elapsed = (System.nanoTime() - t0) / 1e9;
        Map<String, Object> summary = summary(z, taskList, data, results, sweep, machine, started, elapsed);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        Files.writeString(out.resolve("summary.json"), json.writeValueAsString(summary) + "\n");
        plots(taskList, results, sweep);
        printTable(log, taskList, data, results, sweep, summary);
        log.printf(Locale.ROOT, "wrote %s/summary.json and plots (%.0fs)%n", out, elapsed);
        return 0;
    }

    private Map<String, Object> summary(Size z, List<LengthTasks.Task> taskList, Map<LengthTasks.Task, List<TaskData>> data,
                                        Map<LengthTasks.Task, Map<String, List<MethodRunner.Outcome>>> results,
                                        Map<LengthTasks.Task, Map<String, Map<Integer, List<MethodRunner.Outcome>>>> sweep,
                                        Map<String, Object> machine, String started, double elapsed) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("experiment", "length");
        s.put("size", z.name());
        List<Long> seedList = new ArrayList<>();
        for (int i = 0; i < seeds; i++) seedList.add(seed + i);
        s.put("seeds", seedList);
        s.put("started", started);
        s.put("elapsed_s", elapsed);
        s.put("machine", machine);
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("pretrain", z.prep().pretrain().toString());
        settings.put("dataset_pairs_sampled", z.prep().datasetPairs());
        settings.put("reward_model", z.prep().rm().toString());
        settings.put("iterations", z.iterations());
        settings.put("prompt_batch", z.batch());
        settings.put("responses_per_prompt", z.responses());
        settings.put("eval_every", z.evalEvery());
        settings.put("eval_samples", LengthCorpus.heldOutPrompts().size() * z.prep().evalPerPrompt());
        settings.put("common_config", common(z, z.batch(), z.iterations()));
        Map<String, Object> mcfg = new LinkedHashMap<>();
        for (MethodRunner.Method m : methods()) mcfg.put(m.name(), m.sets());
        settings.put("methods", mcfg);
        s.put("settings", settings);
        Map<String, Object> tasksOut = new LinkedHashMap<>();
        for (LengthTasks.Task task : taskList) {
            Map<String, Object> t = new LinkedHashMap<>();
            List<TaskData> tds = data.get(task);
            t.put("mode", tds.stream().map(d -> d.setup().mode()).toList());
            t.put("reference_gold", Report.stat(tds.stream().mapToDouble(d -> d.reference().gold()).toArray()));
            t.put("reference_length", Report.stat(tds.stream().mapToDouble(d -> d.reference().length()).toArray()));
            t.put("dataset_pairs", tds.stream().map(d -> d.pairs().size()).toList());
            t.put("dataset_overlap_with_ref", Report.stat(tds.stream().mapToDouble(TaskData::overlap).toArray()));
            t.put("rm_eval_accuracy", Report.stat(tds.stream().mapToDouble(d -> d.proxy().evalAccuracy()).toArray()));
            t.put("rm_gold_correlation_on_ref", Report.stat(tds.stream().mapToDouble(d -> d.proxy().refGoldCorrelation()).toArray()));
            Map<String, Object> mm = new LinkedHashMap<>();
            for (var e : results.getOrDefault(task, Map.of()).entrySet()) mm.put(e.getKey(), Report.method(e.getValue()));
            t.put("methods", mm);
            if (sweep.containsKey(task)) {
                Map<String, Object> sw = new LinkedHashMap<>();
                for (var e : sweep.get(task).entrySet()) {
                    Map<String, Object> byB = new LinkedHashMap<>();
                    for (var b : e.getValue().entrySet()) byB.put("B=" + b.getKey(), Report.method(b.getValue()));
                    sw.put(e.getKey(), byB);
                }
                t.put("batch_sweep", sw);
            }
            tasksOut.put(task.id, t);
        }
        s.put("tasks", tasksOut);
        s.put("checks", checks(taskList, results, sweep));
        return s;
    }

    /** The findings as measured comparisons of seed means (final gold and mean gold over the run). */
    static List<Map<String, Object>> checks(List<LengthTasks.Task> taskList,
                                            Map<LengthTasks.Task, Map<String, List<MethodRunner.Outcome>>> results,
                                            Map<LengthTasks.Task, Map<String, Map<Integer, List<MethodRunner.Outcome>>>> sweep) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (LengthTasks.Task task : taskList) {
            Map<String, List<MethodRunner.Outcome>> r = results.getOrDefault(task, Map.of());
            String[][] pairs = task == LengthTasks.Task.MODE
                    ? new String[][]{{"offline-dpo", "pref-ft"}}
                    : new String[][]{{"onpolicy-dpo", "offline-dpo"}, {"offline-dpo", "ppo"}, {"ppo", "onpolicy-rwr"}, {"offline-dpo", "pref-ft"}};
            for (String[] p : pairs) {
                if (!r.containsKey(p[0]) || !r.containsKey(p[1])) continue;
                out.add(compare(task.id, p[0], p[1], r.get(p[0]), r.get(p[1])));
            }
            if (task == LengthTasks.Task.MODE && !r.isEmpty()) {
                double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
                for (var e : r.entrySet()) {
                    double f = Stats.mean(e.getValue().stream().mapToDouble(MethodRunner.Outcome::finalGold).toArray());
                    lo = Math.min(lo, f);
                    hi = Math.max(hi, f);
                }
                Map<String, Object> c = new LinkedHashMap<>();
                c.put("task", task.id);
                c.put("comparison", "range of the methods' final gold means");
                c.put("range", hi - lo);
                out.add(c);
            }
            for (var e : sweep.getOrDefault(task, Map.of()).entrySet()) {
                var byB = e.getValue();
                if (byB.size() < 2) continue;
                int small = ((java.util.TreeMap<Integer, ?>) byB).firstKey(), large = ((java.util.TreeMap<Integer, ?>) byB).lastKey();
                out.add(compare(task.id, e.getKey() + " B=" + small, e.getKey() + " B=" + large, byB.get(small), byB.get(large)));
            }
        }
        return out;
    }

    static Map<String, Object> compare(String task, String a, String b, List<MethodRunner.Outcome> ra, List<MethodRunner.Outcome> rb) {
        double[] fa = ra.stream().mapToDouble(MethodRunner.Outcome::finalGold).toArray(), fb = rb.stream().mapToDouble(MethodRunner.Outcome::finalGold).toArray();
        double[] ma = ra.stream().mapToDouble(MethodRunner.Outcome::meanGold).toArray(), mb = rb.stream().mapToDouble(MethodRunner.Outcome::meanGold).toArray();
        int wins = 0;
        for (int i = 0; i < Math.min(fa.length, fb.length); i++) if (fa[i] > fb[i]) wins++;
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("task", task);
        c.put("comparison", a + " > " + b);
        c.put("final_gold", List.of(Stats.mean(fa), Stats.mean(fb)));
        c.put("mean_gold", List.of(Stats.mean(ma), Stats.mean(mb)));
        c.put("final_holds", Stats.mean(fa) > Stats.mean(fb));
        c.put("mean_holds", Stats.mean(ma) > Stats.mean(mb));
        c.put("seeds_won_final", wins + "/" + Math.min(fa.length, fb.length));
        return c;
    }

    private void plots(List<LengthTasks.Task> taskList, Map<LengthTasks.Task, Map<String, List<MethodRunner.Outcome>>> results,
                       Map<LengthTasks.Task, Map<String, Map<Integer, List<MethodRunner.Outcome>>>> sweep) {
        for (LengthTasks.Task task : taskList) {
            Map<String, Charts.Series> series = Charts.ordered();
            for (var e : results.getOrDefault(task, Map.of()).entrySet()) series.put(e.getKey(), Report.curve(e.getValue(), false));
            if (!series.isEmpty())
                Charts.write(out.resolve("length-" + task.id + ".png"), task.id + " length: gold reward on held-out prompts (mean ± sd over seeds)",
                        "prompts seen", "gold reward", series);
            if (sweep.containsKey(task)) {
                Map<String, Charts.Series> sw = Charts.ordered();
                for (var e : sweep.get(task).entrySet())
                    for (var b : e.getValue().entrySet()) sw.put(e.getKey() + " B=" + b.getKey(), Report.curve(b.getValue(), false));
                Charts.write(out.resolve("sweep-" + task.id + ".png"), task.id + " length: prompt batch B (equal prompts and gradient steps)",
                        "prompts seen", "gold reward", sw);
            }
        }
    }

    private void printTable(PrintStream log, List<LengthTasks.Task> taskList, Map<LengthTasks.Task, List<TaskData>> data,
                            Map<LengthTasks.Task, Map<String, List<MethodRunner.Outcome>>> results,
                            Map<LengthTasks.Task, Map<String, Map<Integer, List<MethodRunner.Outcome>>>> sweep,
                            Map<String, Object> summary) {
        log.println();
        log.printf(Locale.ROOT, "Length tasks: gold reward on held-out prompts, mean ± sd over %d seed(s)%n", seeds);
        for (LengthTasks.Task task : taskList) {
            List<TaskData> tds = data.get(task);
            log.printf(Locale.ROOT, "%n%s length  (π_ref gold %s, length %s; %s pairs, overlap with π_ref %s; RM accuracy %s, RM–gold corr. on π_ref %s)%n",
                    task.id, Stats.fmt(tds.stream().mapToDouble(d -> d.reference().gold()).toArray(), 2),
                    Stats.fmt(tds.stream().mapToDouble(d -> d.reference().length()).toArray(), 1),
                    tds.stream().map(d -> String.valueOf(d.pairs().size())).toList(),
                    Stats.fmt(tds.stream().mapToDouble(TaskData::overlap).toArray(), 2),
                    Stats.fmt(tds.stream().mapToDouble(d -> d.proxy().evalAccuracy()).toArray(), 2),
                    Stats.fmt(tds.stream().mapToDouble(d -> d.proxy().refGoldCorrelation()).toArray(), 2));
            log.printf(Locale.ROOT, "  %-20s %-18s %-18s %-14s %9s %8s%n", "method", "final gold", "mean gold (AUC)", "final length", "queries", "wall s");
            for (var e : results.getOrDefault(task, Map.of()).entrySet()) row(log, e.getKey(), e.getValue());
            for (var e : sweep.getOrDefault(task, Map.of()).entrySet())
                for (var b : e.getValue().entrySet()) row(log, e.getKey() + " B=" + b.getKey(), b.getValue());
        }
        log.println();
        log.println("Checks (seed means):");
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> checks = (List<Map<String, Object>>) summary.get("checks");
        for (Map<String, Object> c : checks) {
            if (c.containsKey("range")) {
                log.printf(Locale.ROOT, "  %-5s %-44s %.2f%n", c.get("task"), c.get("comparison"), (Double) c.get("range"));
            } else {
                log.printf(Locale.ROOT, "  %-5s %-44s final: %-5s mean: %-5s seeds won (final) %s%n", c.get("task"), c.get("comparison"),
                        c.get("final_holds"), c.get("mean_holds"), c.get("seeds_won_final"));
            }
        }
    }

    private static void row(PrintStream log, String name, List<MethodRunner.Outcome> runs) {
        log.printf(Locale.ROOT, "  %-20s %-18s %-18s %-14s %9.0f %8.1f%n", name,
                Stats.fmt(runs.stream().mapToDouble(MethodRunner.Outcome::finalGold).toArray(), 2),
                Stats.fmt(runs.stream().mapToDouble(MethodRunner.Outcome::meanGold).toArray(), 2),
                Stats.fmt(runs.stream().mapToDouble(o -> o.points().getLast().length()).toArray(), 1),
                Stats.mean(runs.stream().mapToDouble(MethodRunner.Outcome::rewardQueries).toArray()),
                Stats.mean(runs.stream().mapToDouble(MethodRunner.Outcome::wallS).toArray()));
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new LengthExperiment()).execute(args));
    }
}
