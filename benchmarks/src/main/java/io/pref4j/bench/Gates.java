package io.pref4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Performance gates: runs a short JMH pass over the benchmarks named in gates.json, takes
 * for each gate the ratio of a benchmark's work rate (its {@code gflop} or {@code gbyte}
 * counter) to a baseline's, prints floor / measured / pass, and exits 1 when a ratio is
 * below its floor (2 when the gates could not be run).
 * <pre>java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *     -cp benchmarks/target/benchmarks.jar io.pref4j.bench.Gates [benchmarks/gates.json]</pre>
 */
public final class Gates {

    private static final String PKG = "io.pref4j.bench.";

    record Measure(String benchmark, Map<String, String> params) {
        String label() {
            return benchmark + (params.isEmpty() ? "" : " " + params);
        }
    }

    record Gate(String name, Measure subject, Measure baseline, String metric, double floor) {}

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args.length > 0 ? args[0] : "benchmarks/gates.json");
        int code;
        try {
            code = run(file);
        } catch (IOException | RunnerException | IllegalArgumentException e) {
            System.err.println("gates: " + e.getMessage());
            code = 2;
        }
        System.exit(code);
    }

    static int run(Path file) throws IOException, RunnerException {
        JsonNode root = new ObjectMapper().readTree(Files.readString(file));
        JsonNode jmh = root.path("jmh");
        List<Gate> gates = new ArrayList<>();
        for (JsonNode g : root.path("gates")) {
            gates.add(new Gate(g.path("name").asText(),
                    measure(g.path("benchmark").asText(), g.path("params")),
                    measure(g.path("baseline").asText(), g.path("baselineParams").isMissingNode()
                            ? g.path("params") : g.path("baselineParams")),
                    g.path("metric").asText("gflop"),
                    g.path("floor").asDouble()));
        }
        if (gates.isEmpty()) throw new IllegalArgumentException(file + " lists no gates");

        // Each distinct (benchmark, params) is measured once; measurements with the same
        // params share one JMH run (params are global to a run, and names like "shape" recur).
        Map<Map<String, String>, Set<String>> byParams = new LinkedHashMap<>();
        for (Gate g : gates) {
            for (Measure m : List.of(g.subject(), g.baseline())) {
                byParams.computeIfAbsent(m.params(), p -> new LinkedHashSet<>()).add(m.benchmark());
            }
        }
        // "best": the highest rate of any measurement iteration. On a shared machine other
        // processes only ever slow an iteration down, so the best iteration is the most
        // repeatable estimate of what the code can do; "mean" is JMH's usual score.
        boolean best = !jmh.path("statistic").asText("best").equals("mean");
        Map<Measure, Map<String, Double>> rates = new LinkedHashMap<>();
        long t0 = System.nanoTime();
        for (var e : byParams.entrySet()) {
            Map<String, String> params = e.getKey();
            ChainedOptionsBuilder ob = new OptionsBuilder()
                    .forks(jmh.path("forks").asInt(1))
                    .warmupIterations(jmh.path("warmupIterations").asInt(2))
                    .warmupTime(TimeValue.milliseconds(jmh.path("warmupMs").asInt(300)))
                    .measurementIterations(jmh.path("iterations").asInt(3))
                    .measurementTime(TimeValue.milliseconds(jmh.path("iterationMs").asInt(400)))
                    .jvmArgsAppend("--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                            "--sun-misc-unsafe-memory-access=allow")
                    .shouldFailOnError(true)
                    .verbosity(VerboseMode.SILENT);
            for (String b : e.getValue()) ob.include("^" + java.util.regex.Pattern.quote(PKG + b) + "$");
            for (var p : params.entrySet()) ob.param(p.getKey(), p.getValue());
            System.out.printf("gates: measuring %s %s%n", e.getValue(), params);
            java.util.Collection<RunResult> results;
            try {
                results = new Runner(ob.build()).run();
            } catch (RunnerException ex) {
                // a kernel that throws fails its gates (ERROR) without hiding the others
                System.out.println("gates: run failed: " + ex.getMessage().lines().findFirst().orElse(""));
                continue;
            }
            for (RunResult r : results) {
                String name = r.getParams().getBenchmark().substring(PKG.length());
                rates.put(new Measure(name, params), best ? bestOf(r) : meanOf(r));
            }
        }
        double secs = (System.nanoTime() - t0) * 1e-9;

        int failed = 0;
        System.out.println();
        System.out.printf("%-44s %10s %10s  %-6s  %s%n", "gate", "floor", "measured", "result", "rates (subject / baseline)");
        for (Gate g : gates) {
            Double a = rate(rates, g.subject(), g.metric()), b = rate(rates, g.baseline(), g.metric());
            String result;
            double ratio = Double.NaN;
            if (a == null || b == null || b <= 0) {
                result = "ERROR";
                failed++;
            } else {
                ratio = a / b;
                result = ratio >= g.floor() ? "pass" : "FAIL";
                if (ratio < g.floor()) failed++;
            }
            System.out.printf("%-44s %9.2fx %9.2fx  %-6s  %s / %s %s%n", g.name(), g.floor(), ratio, result,
                    fmt(a), fmt(b), g.metric().equals("gbyte") ? "GB/s" : g.metric().equals("gflop") ? "GFLOP/s" : g.metric());
        }
        System.out.printf("%n%d of %d gates passed (%.0f s)%n", gates.size() - failed, gates.size(), secs);
        return failed == 0 ? 0 : 1;
    }

    private static Map<String, Double> meanOf(RunResult r) {
        Map<String, Double> m = new TreeMap<>();
        m.put("score", r.getPrimaryResult().getScore());
        for (Map.Entry<String, Result> e : r.getSecondaryResults().entrySet()) m.put(e.getKey(), e.getValue().getScore());
        return m;
    }

    private static Map<String, Double> bestOf(RunResult r) {
        Map<String, Double> m = new TreeMap<>();
        for (BenchmarkResult br : r.getBenchmarkResults()) {
            for (IterationResult it : br.getIterationResults()) {
                m.merge("score", it.getPrimaryResult().getScore(), Math::max);
                for (Map.Entry<String, Result> e : it.getSecondaryResults().entrySet()) {
                    m.merge(e.getKey(), e.getValue().getScore(), Math::max);
                }
            }
        }
        return m;
    }

    private static Measure measure(String benchmark, JsonNode params) {
        if (benchmark.isEmpty()) throw new IllegalArgumentException("a gate lacks benchmark or baseline");
        Map<String, String> p = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = params.fields(); it.hasNext(); ) {
            var e = it.next();
            p.put(e.getKey(), e.getValue().asText());
        }
        return new Measure(benchmark, p);
    }

    private static Double rate(Map<Measure, Map<String, Double>> rates, Measure m, String metric) {
        Map<String, Double> r = rates.get(m);
        return r == null ? null : r.get(metric);
    }

    private static String fmt(Double x) {
        return x == null ? "-" : String.format("%.2f", x);
    }
}
