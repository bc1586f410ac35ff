package io.pref4j.experiment.bandit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The results of a bandit experiment over seeds: per setting and reward the mean reward
 * curve over reward queries, the final reward (mean, sample standard deviation, min, max
 * and per seed), the reward queries, the queries needed to reach a reward of
 * {@link #THRESHOLD}, and the wall clock. Writes summary.json and PNG plots, prints a table.
 */
public final class BanditReport {
    /** The reward level whose first crossing measures speed. */
    public static final double THRESHOLD = 0.9;

    /** One setting and reward over all seeds. */
    public record Row(BanditMethod method, Reward reward, List<RunResult> runs) {
        public double[] finals() {
            return runs.stream().mapToDouble(RunResult::finalReward).toArray();
        }

        public double mean() {
            return BanditReport.mean(finals());
        }

        public double std() {
            return BanditReport.std(finals());
        }

        public long[] queries() {
            return runs.getFirst().queries();
        }

        /** The mean curve over seeds (the seeds share the query grid). */
        public double[] meanCurve() {
            double[] c = new double[runs.getFirst().rewardCurve().length];
            for (RunResult r : runs) for (int i = 0; i < c.length; i++) c[i] += r.rewardCurve()[i] / runs.size();
            return c;
        }

        /** Per seed: the first reward queries at which the reward reached the threshold, or -1. */
        public long[] queriesToThreshold() {
            long[] out = new long[runs.size()];
            for (int s = 0; s < out.length; s++) {
                RunResult r = runs.get(s);
                out[s] = -1;
                for (int i = 0; i < r.rewardCurve().length; i++) {
                    if (r.rewardCurve()[i] >= THRESHOLD) {
                        out[s] = r.queries()[i];
                        break;
                    }
                }
            }
            return out;
        }

        public double wallMean() {
            return runs.stream().mapToDouble(RunResult::wallSeconds).average().orElse(0);
        }
    }

    private final String experiment;
    private final Size size;
    private final List<Long> seeds;
    private final Map<String, Object> info = new LinkedHashMap<>();
    private final Map<String, Row> rows = new LinkedHashMap<>();

    public BanditReport(String experiment, Size size, List<Long> seeds) {
        this.experiment = experiment;
        this.size = size;
        this.seeds = List.copyOf(seeds);
    }

    /** A value recorded under "info" in summary.json (reference expectations, init KL, ...). */
    public void info(String key, Object value) {
        info.put(key, value);
    }

    public void add(RunResult r) {
        rows.computeIfAbsent(r.method().name() + "|" + r.reward(), x -> new Row(r.method(), r.reward(), new ArrayList<>()))
                .runs().add(r);
    }

    public List<Row> rows() {
        return List.copyOf(rows.values());
    }

    /** The row of a setting and reward, or null. */
    public Row row(String setting, Reward reward) {
        return rows.get(setting + "|" + reward);
    }

    // ---------------------------------------------------------------- outputs

    public void writeSummary(Path file) {
        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = om.createObjectNode();
        root.put("experiment", experiment);
        root.put("size", size.key());
        ArrayNode sa = root.putArray("seeds");
        seeds.forEach(sa::add);
        root.put("threshold", THRESHOLD);
        root.set("info", om.valueToTree(info));
        ArrayNode res = root.putArray("results");
        for (Row row : rows.values()) {
            BanditMethod m = row.method();
            ObjectNode o = res.addObject();
            o.put("setting", m.name());
            o.put("method", m.family());
            o.put("group", m.group());
            o.put("reward", row.reward().key());
            o.put("online", m.online());
            o.put("loss", m.lossSummary());
            o.put("lr", m.lr());
            o.put("states", m.states());
            o.put("n", m.n());
            o.put("rounds", m.rounds());
            o.put("steps_per_round", m.stepsPerRound());
            o.put("reuse", m.reuse());
            o.put("reward_queries", m.queries());
            ArrayNode q = o.putArray("queries");
            for (long x : row.queries()) q.add(x);
            ArrayNode c = o.putArray("reward_per_round");
            for (double x : row.meanCurve()) c.add(round(x));
            ArrayNode ps = o.putArray("reward_per_round_per_seed");
            for (RunResult r : row.runs()) {
                ArrayNode a = ps.addArray();
                for (double x : r.rewardCurve()) a.add(round(x));
            }
            ObjectNode f = o.putObject("final_reward");
            double[] fin = row.finals();
            f.put("mean", round(row.mean()));
            f.put("std", round(row.std()));
            f.put("min", round(java.util.Arrays.stream(fin).min().orElse(Double.NaN)));
            f.put("max", round(java.util.Arrays.stream(fin).max().orElse(Double.NaN)));
            ArrayNode per = f.putArray("per_seed");
            for (double x : fin) per.add(round(x));
            ArrayNode kl = o.putArray("final_kl_per_seed");
            for (RunResult r : row.runs()) kl.add(round(r.finalKl()));
            ArrayNode qt = o.putArray("queries_to_threshold_per_seed");
            for (long x : row.queriesToThreshold()) qt.add(x);
            ArrayNode w = o.putArray("wall_s_per_seed");
            for (RunResult r : row.runs()) w.add(Math.round(r.wallSeconds() * 1000) / 1000.0);
        }
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            om.writeValue(tmp.toFile(), root);
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }

    private static double round(double x) {
        return Double.isFinite(x) ? Math.round(x * 1e5) / 1e5 : x;
    }

    /** The table: one line per setting and reward. */
    public void printTable(PrintStream out) {
        out.printf(Locale.ROOT, "%-24s %-3s %8s  %-26s %-22s %8s%n", "setting", "R", "queries",
                "final reward mean ± sd", "[min, max]", "wall s");
        Reward last = null;
        String lastGroup = null;
        for (Reward rw : Reward.values()) {
            for (Row row : rows.values()) {
                if (row.reward() != rw) continue;
                if (last != null && (rw != last || !row.method().group().equals(lastGroup))) out.println();
                last = rw;
                lastGroup = row.method().group();
                double[] f = row.finals();
                out.printf(Locale.ROOT, "%-24s %-3s %8d  %-26s %-22s %8.2f%n", row.method().name(), rw.name(), row.method().queries(),
                        String.format(Locale.ROOT, "%.3f ± %.3f", row.mean(), row.std()),
                        String.format(Locale.ROOT, "[%.3f, %.3f]", java.util.Arrays.stream(f).min().orElse(0),
                                java.util.Arrays.stream(f).max().orElse(0)),
                        row.wallMean());
            }
        }
    }

    /**
     * Plots, per reward: PREFIX_r1.png with the mean reward against reward queries of every
     * setting in the groups "main" and "offline-size" (on-policy methods as curves, offline
     * methods as one point per dataset size), and PREFIX_reuse_r1.png for the reuse group.
     */
    public List<Path> writePlots(Path dir, String prefix) {
        List<Path> out = new ArrayList<>();
        for (Reward rw : Reward.values()) {
            Map<String, double[][]> main = new LinkedHashMap<>(), reuse = new LinkedHashMap<>();
            Map<String, List<double[]>> offline = new LinkedHashMap<>();
            for (Row row : rows.values()) {
                if (row.reward() != rw) continue;
                BanditMethod m = row.method();
                long[] q = row.queries();
                double[] c = row.meanCurve();
                if (m.group().equals("offline-size") || !m.online()) {
                    offline.computeIfAbsent(m.family(), x -> new ArrayList<>()).add(new double[]{m.queries(), row.mean()});
                } else {
                    double[][] xy = {new double[q.length], c};
                    for (int i = 0; i < q.length; i++) xy[0][i] = Math.max(1, q[i]);
                    (m.group().equals("reuse") ? reuse : main).put(m.name(), xy);
                }
            }
            for (var e : offline.entrySet()) {
                List<double[]> pts = e.getValue();
                pts.sort(java.util.Comparator.comparingDouble(p -> p[0]));
                double[][] xy = {new double[pts.size()], new double[pts.size()]};
                for (int i = 0; i < pts.size(); i++) {
                    xy[0][i] = pts.get(i)[0];
                    xy[1][i] = pts.get(i)[1];
                }
                main.put(e.getKey() + " (final, per dataset size)", xy);
            }
            if (!main.isEmpty()) {
                Path p = dir.resolve(prefix + "_" + rw.key() + ".png");
                chart(p, experiment + ": " + rw + ", mean over " + seeds.size() + " seeds", main);
                out.add(p);
            }
            if (!reuse.isEmpty()) {
                Path p = dir.resolve(prefix + "_reuse_" + rw.key() + ".png");
                chart(p, experiment + " sample reuse (fixed queries and steps): " + rw, reuse);
                out.add(p);
            }
        }
        return out;
    }

    private static void chart(Path file, String title, Map<String, double[][]> series) {
        System.setProperty("java.awt.headless", "true");
        var chart = new org.knowm.xchart.XYChartBuilder().width(1000).height(650).title(title)
                .xAxisTitle("reward queries").yAxisTitle("mean reward (held-out states)").build();
        var st = chart.getStyler();
        st.setXAxisLogarithmic(true);
        st.setYAxisMin(0.0);
        st.setYAxisMax(1.05);
        st.setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideE);
        st.setChartBackgroundColor(java.awt.Color.WHITE);
        st.setPlotBackgroundColor(java.awt.Color.WHITE);
        st.setPlotGridLinesColor(new java.awt.Color(225, 225, 225));
        st.setAntiAlias(true);
        for (var e : series.entrySet()) {
            double[][] xy = e.getValue();
            var s = chart.addSeries(e.getKey(), xy[0], xy[1]);
            boolean points = e.getKey().contains("per dataset size");
            s.setMarker(points ? org.knowm.xchart.style.markers.SeriesMarkers.DIAMOND
                    : org.knowm.xchart.style.markers.SeriesMarkers.NONE);
            if (points) s.setLineStyle(new java.awt.BasicStroke(1f, java.awt.BasicStroke.CAP_BUTT,
                    java.awt.BasicStroke.JOIN_MITER, 10f, new float[]{4f, 4f}, 0f));
        }
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            org.knowm.xchart.BitmapEncoder.saveBitmap(chart, file.toString(), org.knowm.xchart.BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write plot: " + e.getMessage(), e);
        }
    }

    static double mean(double[] x) {
        double s = 0;
        for (double v : x) s += v;
        return x.length == 0 ? Double.NaN : s / x.length;
    }

    /** Sample standard deviation (n − 1); 0 for one value. */
    static double std(double[] x) {
        if (x.length < 2) return 0;
        double m = mean(x), s = 0;
        for (double v : x) s += (v - m) * (v - m);
        return Math.sqrt(s / (x.length - 1));
    }
}
