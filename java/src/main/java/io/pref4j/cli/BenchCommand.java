package io.pref4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.pref4j.UserInputException;
import io.pref4j.kernel.Backends;
import io.pref4j.kernel.Kernels;
import io.pref4j.loss.LossConfig;
import io.pref4j.loss.Losses;
import io.pref4j.loss.PairBatch;
import io.pref4j.loss.PairwiseLoss;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;
import io.pref4j.sample.Generator;
import io.pref4j.train.AdamW;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code pref4j bench}: times, on the chosen backend, (a) one DPO training step (policy
 * forward + backward on chosen and rejected, reference log-probs given, fused DPO loss,
 * AdamW), (b) batched generation with the {@link Generator} (prefill + decode), (c) causal
 * attention forward + backward. Warm-up runs first, then the median of {@code --steps}
 * timed runs; every timed region ends with {@link Kernels#synchronize()} before the clock
 * is read. Inputs are random and rotate among several sets. Prints a table and, with
 * {@code --json}, writes every number.
 *
 * <p>FLOP counts: DPO step = 6·N_params·tokens + 12·L·C·T·tokens (the attention score and
 * value products, forward + backward, PaLM's convention, not halved for causality).
 * Attention = FlashAttention's convention: forward 4·B·NH·T²·HS / 2 (causal), forward +
 * backward 3.5× that. MFU = achieved FLOP/s over {@code --peak-tflops}. Generation's
 * bandwidth floor: for each new token, the weights plus the KV cache so far read once
 * ({@code --floor-bytes} bytes per value, default 2 = bf16), over {@code --peak-gbps}.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Time a DPO training step, batched generation and attention forward+backward on the chosen backend.",
                "Prints a table; --json FILE writes every number."})
public final class BenchCommand implements Callable<Integer> {

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0 = all cores).")
    int threads;

    @Option(names = "--what", defaultValue = "dpo,generate,attention", split = ",",
            description = "Which parts: dpo, generate, attention (default: ${DEFAULT-VALUE}).")
    List<String> what;

    @Option(names = "--model", defaultValue = "gpt2-124m",
            description = "gpt2-124m (d 768, 12 layers, 12 heads, vocab 50257) or small (d 128, 2 layers, 2 heads, vocab 256). Default: ${DEFAULT-VALUE}.")
    String model;

    @Option(names = "--batch", defaultValue = "8", description = "DPO pairs per step (2× sequences). Default: ${DEFAULT-VALUE}.")
    int batch;

    @Option(names = "--seq", description = "DPO sequence length (default 512); if given, also the only attention length.")
    Integer seq;

    @Option(names = "--gen-batch", defaultValue = "64", description = "Generation rows. Default: ${DEFAULT-VALUE}.")
    int genBatch;

    @Option(names = "--new-tokens", defaultValue = "256", description = "Tokens generated per row. Default: ${DEFAULT-VALUE}.")
    int newTokens;

    @Option(names = "--prompt-len", defaultValue = "64", description = "Prompt tokens per row. Default: ${DEFAULT-VALUE}.")
    int promptLen;

    @Option(names = "--attn-batch", defaultValue = "0", description = "Attention batch (0 = 16384 / T, at least 1).")
    int attnBatch;

    @Option(names = "--attn-seqs", defaultValue = "512,1024,2048", split = ",",
            description = "Attention lengths when --seq is not given. Default: ${DEFAULT-VALUE}.")
    List<Integer> attnSeqs;

    @Option(names = "--steps", defaultValue = "5", description = "Timed runs (median). Default: ${DEFAULT-VALUE}.")
    int steps;

    @Option(names = "--warmup", defaultValue = "2", description = "Untimed runs first. Default: ${DEFAULT-VALUE}.")
    int warmup;

    @Option(names = "--peak-tflops", description = "Peak FLOP/s of the device in TFLOP/s for MFU (default: dense bf16 datasheet figure for a known GPU; none on the CPU).")
    Double peakTflops;

    @Option(names = "--peak-gbps", description = "Memory bandwidth in GB/s for the generation floor (e.g. the measured copy ceiling).")
    Double peakGbps;

    @Option(names = "--floor-bytes", defaultValue = "2", description = "Bytes per weight / KV value in the bandwidth floor (2 = bf16). Default: ${DEFAULT-VALUE}.")
    int floorBytes;

    @Option(names = "--seed", defaultValue = "1234", description = "Seed of the random weights and inputs.")
    long seed;

    @Option(names = "--json", description = "Write the results as JSON to this file.")
    Path json;

    @Spec
    CommandSpec spec;

    /** Standalone entry (before or without registration in Main): java -cp pref4j-all.jar io.pref4j.cli.BenchCommand. */
    public static void main(String[] args) {
        picocli.CommandLine cl = new picocli.CommandLine(new BenchCommand());
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            if (ex instanceof UserInputException) {
                c.getErr().println("pref4j bench: error: " + ex.getMessage());
                return Main.EXIT_USAGE;
            }
            throw ex;
        });
        System.exit(cl.execute(args));
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        check(batch >= 1, "--batch must be >= 1");
        check(genBatch >= 1, "--gen-batch must be >= 1");
        check(newTokens >= 1, "--new-tokens must be >= 1");
        check(promptLen >= 1, "--prompt-len must be >= 1");
        check(steps >= 1, "--steps must be >= 1");
        check(warmup >= 0, "--warmup must be >= 0");
        check(floorBytes >= 1, "--floor-bytes must be >= 1");
        for (String w : what) check(List.of("dpo", "generate", "attention").contains(w.trim()), "--what: unknown part '" + w + "' (dpo, generate, attention)");
        int T = seq != null ? seq : 512;
        check(T >= 2, "--seq must be >= 2");
        GptConfig base = switch (model) {
            case "gpt2-124m", "gpt2" -> GptConfig.gpt2();
            case "small" -> new GptConfig(1024, 256, 2, 2, 128);
            default -> throw new UserInputException("--model must be gpt2-124m or small; got '" + model + "'");
        };
        int maxPos = Math.max(Math.max(T, promptLen + newTokens), 2);
        GptConfig cfg = new GptConfig(Math.max(base.maxSeqLen(), maxPos), base.vocabSize(), base.numLayers(), base.numHeads(), base.channels());

        Map<String, Object> res = new LinkedHashMap<>();
        try (Kernels k = Backends.open(device, threads, s -> { out.println(s); out.flush(); })) {
            Double peak = peakTflops != null ? peakTflops : defaultPeakTflops(k.name());
            res.put("device", k.name());
            res.put("date", Instant.now().toString());
            res.put("model", model);
            res.put("params", cfg.numParameters());
            res.put("layers", cfg.numLayers());
            res.put("channels", cfg.channels());
            res.put("heads", cfg.numHeads());
            res.put("vocab", cfg.vocabSize());
            res.put("warmup", warmup);
            res.put("steps", steps);
            res.put("peak_tflops", peak);
            res.put("peak_gbps", peakGbps);
            List<String[]> rows = new ArrayList<>();
            if (what.contains("dpo")) {
                Map<String, Object> r = benchDpo(k, cfg, T, peak);
                res.put("dpo", r);
                rows.add(new String[]{"dpo step", batch + " pairs x T " + T, ms(r.get("median_s")),
                        fmt(r.get("tokens_per_s"), "%.0f tok/s"), fmt(r.get("tflops"), "%.2f TFLOP/s"),
                        r.get("mfu") == null ? "-" : fmt(100 * (double) r.get("mfu"), "%.1f%% MFU")});
            }
            if (what.contains("generate")) {
                Map<String, Object> r = benchGenerate(k, cfg);
                res.put("generate", r);
                rows.add(new String[]{"generate", genBatch + " x " + newTokens + " new (prompt " + promptLen + ")", ms(r.get("median_s")),
                        fmt(r.get("tokens_per_s"), "%.0f tok/s"), fmt(r.get("achieved_gbps"), "%.1f GB/s"),
                        r.get("floor_fraction") == null ? "-" : fmt(100 * (double) r.get("floor_fraction"), "%.1f%% of floor")});
            }
            if (what.contains("attention")) {
                List<Integer> ts = seq != null ? List.of(seq) : attnSeqs;
                List<Map<String, Object>> list = new ArrayList<>();
                for (int t : ts) {
                    check(t >= 1, "attention length must be >= 1");
                    Map<String, Object> r = benchAttention(k, cfg, t);
                    list.add(r);
                    rows.add(new String[]{"attention f+b", "B " + r.get("B") + " NH " + r.get("NH") + " T " + t + " HS 64",
                            ms(r.get("median_s")), "-", fmt(r.get("tflops"), "%.2f TFLOP/s"), "-"});
                }
                res.put("attention", list);
            }
            out.println(table(rows));
            out.flush();
        }
        if (json != null) {
            Path parent = json.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), res);
            out.println("bench: wrote " + json);
            out.flush();
        }
        return 0;
    }

    // ---------------------------------------------------------------- the three parts

    private Map<String, Object> benchDpo(Kernels k, GptConfig cfg, int T, Double peak) {
        int P = batch, S = 2 * P;
        SplittableRandom rng = new SplittableRandom(seed);
        int V = cfg.vocabSize();
        int sets = 3;
        int[][] toks = new int[sets][], tgts = new int[sets][];
        float[][] refs = new float[sets][];
        int promptTokens = Math.max(1, T / 4);
        for (int s = 0; s < sets; s++) {
            toks[s] = new int[S * T];
            tgts[s] = new int[S * T];
            refs[s] = new float[S];
            for (int i = 0; i < S * T; i++) toks[s][i] = rng.nextInt(V);
            for (int b = 0; b < S; b++) {
                for (int t = 0; t < T; t++) {
                    // response positions predict the next token; the prompt and the last position are ignored
                    tgts[s][b * T + t] = (t >= promptTokens - 1 && t < T - 1) ? toks[s][b * T + t + 1] : -1;
                }
                refs[s][b] = (float) (-(T - promptTokens) * Math.log(V) + rng.nextGaussian());
            }
        }
        int[] lens = new int[S];
        Arrays.fill(lens, T);
        int[] chosen = new int[P], rejected = new int[P];
        for (int i = 0; i < P; i++) { chosen[i] = 2 * i; rejected[i] = 2 * i + 1; }

        try (Gpt policy = new Gpt(k, cfg, S, T)) {
            policy.initRandom(seed);
            AdamW opt = new AdamW(k, policy.layout(), policy.params(), policy.grads(), 0.0f);
            PairwiseLoss loss = (PairwiseLoss) Losses.create(LossConfig.defaults("dpo"));
            MemorySegment logp = k.allocFloats(S), ref = k.allocFloats(S), dlogp = k.allocFloats(S);
            MemorySegment dtok = k.allocFloats((long) S * T);
            MemorySegment ci = k.allocInts(P), ri = k.allocInts(P);
            k.writeInts(ci, chosen);
            k.writeInts(ri, rejected);
            PairBatch pb = new PairBatch(logp, ref, null, ci, ri, S, P);
            double[] lossSeen = new double[1];
            double[] times = time(i -> {
                int s = i % sets;
                k.write(ref, refs[s]);
                policy.zeroGrad();
                policy.forward(toks[s], lens, tgts[s], S, T);
                k.rowSum(logp, policy.tokenLogpBuffer(), S, T);
                lossSeen[0] = loss.compute(k, pb, dlogp).loss();
                k.rowBroadcast(dtok, dlogp, S, T);
                policy.backwardFromBuffers(dtok, null, null);
                opt.step(1e-5f);
            }, k);
            double med = median(times);
            long tokens = (long) S * T;
            double flops = 6.0 * cfg.numParameters() * tokens + 12.0 * cfg.numLayers() * cfg.channels() * T * tokens;
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("pairs", P);
            r.put("sequences", S);
            r.put("seq", T);
            r.put("tokens_per_step", tokens);
            r.put("median_s", med);
            r.put("min_s", Arrays.stream(times).min().orElse(med));
            r.put("times_s", times);
            r.put("tokens_per_s", tokens / med);
            r.put("flops_per_step", flops);
            r.put("tflops", flops / med / 1e12);
            r.put("mfu", peak == null ? null : flops / med / (peak * 1e12));
            r.put("last_loss", lossSeen[0]);
            return r;
        }
    }

    private Map<String, Object> benchGenerate(Kernels k, GptConfig cfg) {
        int B = genBatch, maxT = promptLen + newTokens;
        SplittableRandom rng = new SplittableRandom(seed ^ 0x9e3779b97f4a7c15L);
        int V = cfg.vocabSize();
        int sets = 2;
        int[][][] prompts = new int[sets][B][promptLen];
        for (int s = 0; s < sets; s++) for (int b = 0; b < B; b++) for (int t = 0; t < promptLen; t++) prompts[s][b][t] = rng.nextInt(V);
        long[] generated = new long[1];
        try (Gpt m = new Gpt(k, cfg, B, maxT)) {
            m.initRandom(seed);
            Generator gen = new Generator(m);
            double[] times = time(i -> {
                Generator.Options o = new Generator.Options(newTokens, 1.0f, 0, 1.0f, -1, seed + i);
                Generator.Sample[] out = gen.generate(prompts[i % sets], o);
                long n = 0;
                for (Generator.Sample x : out) n += x.tokens().length;
                generated[0] = n;
            }, k);
            double med = median(times);
            long tokens = (long) B * newTokens;
            // bytes the floor must read: each new token's step reads the weights once and the KV cache so far
            double bytes = 0;
            double weights = (double) cfg.numParameters() * floorBytes;
            for (int s = 0; s < newTokens; s++) {
                long ctx = promptLen + s;
                bytes += weights + 2.0 * cfg.numLayers() * B * ctx * cfg.channels() * floorBytes;
            }
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("batch", B);
            r.put("prompt_len", promptLen);
            r.put("new_tokens", newTokens);
            r.put("generated_tokens", generated[0]);
            r.put("median_s", med);
            r.put("min_s", Arrays.stream(times).min().orElse(med));
            r.put("times_s", times);
            r.put("tokens_per_s", tokens / med);
            r.put("floor_bytes", bytes);
            r.put("floor_bytes_per_value", floorBytes);
            r.put("achieved_gbps", bytes / med / 1e9);
            r.put("floor_s", peakGbps == null ? null : bytes / (peakGbps * 1e9));
            r.put("floor_fraction", peakGbps == null ? null : bytes / (peakGbps * 1e9) / med);
            return r;
        }
    }

    private Map<String, Object> benchAttention(Kernels k, GptConfig cfg, int T) {
        int HS = 64;
        int NH = cfg.numHeads(), C = NH * HS;
        int B = attnBatch > 0 ? attnBatch : Math.max(1, 16384 / T);
        long n3 = (long) B * T * 3 * C, n1 = (long) B * T * C;
        SplittableRandom rng = new SplittableRandom(seed ^ T);
        int sets = 2;
        MemorySegment[] qkv = new MemorySegment[sets], dout = new MemorySegment[sets];
        for (int s = 0; s < sets; s++) {
            qkv[s] = k.allocFloats(n3);
            dout[s] = k.allocFloats(n1);
            k.write(qkv[s], gaussian(rng, n3));
            k.write(dout[s], gaussian(rng, n1));
        }
        MemorySegment o = k.allocFloats(n1), lse = k.allocFloats((long) B * NH * T), dqkv = k.allocFloats(n3);
        MemorySegment lengths = k.allocInts(B);
        int[] lens = new int[B];
        Arrays.fill(lens, T);
        k.writeInts(lengths, lens);
        double[] times = time(i -> {
            int s = i % sets;
            k.attentionForward(o, lse, qkv[s], lengths, B, T, C, NH);
            k.attentionBackward(dqkv, dout[s], qkv[s], o, lse, lengths, B, T, C, NH);
        }, k);
        double med = median(times);
        double flops = 3.5 * 4.0 * B * NH * (double) T * T * HS / 2;
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("T", T);
        r.put("B", B);
        r.put("NH", NH);
        r.put("HS", HS);
        r.put("median_s", med);
        r.put("min_s", Arrays.stream(times).min().orElse(med));
        r.put("times_s", times);
        r.put("flops", flops);
        r.put("tflops", flops / med / 1e12);
        return r;
    }

    // ---------------------------------------------------------------- helpers

    private interface Run { void run(int i); }

    /** warmup untimed runs, then steps timed ones; synchronises before each clock read. */
    private double[] time(Run r, Kernels k) {
        for (int i = 0; i < warmup; i++) r.run(i);
        k.synchronize();
        double[] t = new double[steps];
        for (int i = 0; i < steps; i++) {
            long t0 = System.nanoTime();
            r.run(warmup + i);
            k.synchronize();
            t[i] = (System.nanoTime() - t0) / 1e9;
        }
        return t;
    }

    private static float[] gaussian(SplittableRandom rng, long n) {
        if (n > Integer.MAX_VALUE - 8) throw new UserInputException("attention buffer too large: " + n + " values");
        float[] x = new float[(int) n];
        for (int i = 0; i < x.length; i++) x[i] = (float) rng.nextGaussian();
        return x;
    }

    static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }

    /** Dense bf16 tensor-core peak (TFLOP/s, datasheet, SXM parts) for GPUs we know; null otherwise. */
    static Double defaultPeakTflops(String deviceName) {
        String n = deviceName.toUpperCase(Locale.ROOT);
        if (!n.contains("CUDA") && !n.contains("NVIDIA")) return null;
        if (n.contains("H100") && n.contains("PCIE")) return 756.0;
        if (n.contains("H100") || n.contains("H200") || n.contains("GH200")) return 989.4;
        if (n.contains("A100")) return 312.0;
        if (n.contains("L40S")) return 362.0;
        if (n.contains("A10G") || n.contains(" A10")) return 125.0;
        return null;
    }

    private static void check(boolean ok, String msg) {
        if (!ok) throw new UserInputException(msg);
    }

    private static String ms(Object seconds) {
        return String.format(Locale.ROOT, "%.3f ms", 1e3 * (double) seconds);
    }

    private static String fmt(Object v, String f) {
        return v == null ? "-" : String.format(Locale.ROOT, f, ((Number) v).doubleValue());
    }

    private static String table(List<String[]> rows) {
        String[] head = {"part", "shape", "median", "rate", "throughput", "fraction"};
        int[] w = new int[head.length];
        for (int i = 0; i < head.length; i++) w[i] = head[i].length();
        for (String[] r : rows) for (int i = 0; i < r.length; i++) w[i] = Math.max(w[i], r[i].length());
        StringBuilder sb = new StringBuilder();
        List<String[]> all = new ArrayList<>();
        all.add(head);
        all.addAll(rows);
        for (String[] r : all) {
            for (int i = 0; i < r.length; i++) sb.append(String.format(Locale.ROOT, "%-" + w[i] + "s", r[i])).append(i + 1 < r.length ? "  " : "");
            sb.append('\n');
        }
        return sb.toString().stripTrailing();
    }
}
