package io.pref4j.experiment.length;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Pieces of the experiments' summary.json: per-method aggregates over seeds and the machine. */
final class Report {
    private Report() {}

    static Map<String, Object> stat(double[] values) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mean", Stats.mean(values));
        m.put("std", Stats.std(values));
        List<Double> v = new ArrayList<>();
        for (double x : values) v.add(x);
        m.put("values", v);
        return m;
    }

    /** Aggregates one method's runs over seeds: final and mean gold, curves, queries, wall clock and its split. */
    static Map<String, Object> method(List<MethodRunner.Outcome> runs) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("final_gold", stat(runs.stream().mapToDouble(MethodRunner.Outcome::finalGold).toArray()));
        m.put("mean_gold", stat(runs.stream().mapToDouble(MethodRunner.Outcome::meanGold).toArray()));
        m.put("final_length", stat(runs.stream().mapToDouble(o -> o.points().getLast().length()).toArray()));
        m.put("reward_queries", Stats.mean(runs.stream().mapToDouble(MethodRunner.Outcome::rewardQueries).toArray()));
        m.put("regenerated_prompts", Stats.mean(runs.stream().mapToDouble(MethodRunner.Outcome::regenerated).toArray()));
        m.put("iterations", runs.getFirst().iterations());
        m.put("steps", runs.getFirst().steps());
        m.put("wall_s", stat(runs.stream().mapToDouble(MethodRunner.Outcome::wallS).toArray()));
        Map<String, Object> split = new LinkedHashMap<>();
        split.put("generation", Stats.mean(runs.stream().mapToDouble(MethodRunner.Outcome::tGeneration).toArray()));
        split.put("reward", Stats.mean(runs.stream().mapToDouble(MethodRunner.Outcome::tReward).toArray()));
        split.put("reference", Stats.mean(runs.stream().mapToDouble(MethodRunner.Outcome::tReference).toArray()));
        split.put("train", Stats.mean(runs.stream().mapToDouble(MethodRunner.Outcome::tTrain).toArray()));
        m.put("wall_split_s", split);
        Charts.Series c = curve(runs, false);
        Map<String, Object> curve = new LinkedHashMap<>();
        List<Integer> its = new ArrayList<>();
        List<Long> prompts = new ArrayList<>();
        for (MethodRunner.Point p : runs.getFirst().points()) {
            its.add(p.iteration());
            prompts.add(p.prompts());
        }
        curve.put("iteration", its);
        curve.put("prompts", prompts);
        curve.put("gold_mean", list(c.y()));
        curve.put("gold_std", c.err() == null ? null : list(c.err()));
        curve.put("wall_s_mean", list(curve(runs, true).x()));
        m.put("curve", curve);
        List<Object> perSeed = new ArrayList<>();
        for (MethodRunner.Outcome o : runs) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("seed", o.seed());
            List<List<Double>> pts = new ArrayList<>();
            for (MethodRunner.Point p : o.points())
                pts.add(List.of((double) p.iteration(), (double) p.prompts(), p.wallS(), p.gold(), p.length()));
            s.put("points", pts);
            s.put("points_columns", List.of("iteration", "prompts", "wall_s", "gold", "length"));
            perSeed.add(s);
        }
        m.put("per_seed", perSeed);
        return m;
    }

    /** Mean curve over seeds: x = prompts seen (or training wall clock), y = gold reward. */
    static Charts.Series curve(List<MethodRunner.Outcome> runs, boolean wallClock) {
        List<double[]> xs = new ArrayList<>(), ys = new ArrayList<>();
        for (MethodRunner.Outcome o : runs) {
            xs.add(o.points().stream().mapToDouble(p -> wallClock ? p.wallS() : p.prompts()).toArray());
            ys.add(o.points().stream().mapToDouble(MethodRunner.Point::gold).toArray());
        }
        return Charts.meanCurve(xs, ys);
    }

    static List<Double> list(double[] a) {
        List<Double> l = new ArrayList<>();
        for (double x : a) l.add(x);
        return l;
    }

    /** The machine: processors the JVM sees, the CPU model, OS, Java version, and the load when the run started. */
    static Map<String, Object> machine(int threads) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cpu", cpuModel());
        m.put("available_processors", Runtime.getRuntime().availableProcessors());
        m.put("threads", threads > 0 ? threads : Runtime.getRuntime().availableProcessors());
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        m.put("java", System.getProperty("java.vm.name") + " " + Runtime.version());
        m.put("load_average_at_start", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        return m;
    }

    static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo")))
                if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).strip();
        } catch (Exception ignored) {
            // not Linux
        }
        return System.getProperty("os.arch");
    }
}
