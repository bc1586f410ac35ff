package io.pref4j.bench;

import io.pref4j.io.SafeTensors;
import io.pref4j.kernel.Kernels;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.loss.LossConfig;
import io.pref4j.loss.Losses;
import io.pref4j.loss.PairBatch;
import io.pref4j.loss.PairwiseLoss;
import io.pref4j.model.Llama;
import io.pref4j.model.LlamaConfig;
import io.pref4j.model.ParameterLayout;
import io.pref4j.train.AdamW;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * The pref4j side of the Llama-family CPU side-by-side (SPEC §7; tools/bench/torch_llama_cpu.py
 * is the PyTorch side, tools/bench/llama_side_by_side.sh runs both): times, outside JMH, the
 * forward + backward of a Llama-family model ({@link Llama} on {@link CpuKernels}) or, with
 * {@code --dpo}, a DPO step.
 *
 * <ul>
 * <li>default: random tokens, all sequences full length, loss = −mean log-prob of the next
 *     token over the B·(T−1) positions that have one (CausalLm.forward with targets, backward
 *     with dlogp = −1/count); zero_grad + forward + backward, no optimiser step.</li>
 * <li>{@code --dpo}: {@code --batch} sequences = batch/2 pairs (chosen = even rows, rejected =
 *     odd rows), the first T/4 tokens a prompt without targets; per-sequence log-prob sums, the
 *     fused sigmoid DPO loss (β 0.1) against given reference log-probs, backward, AdamW (lr 1e-5,
 *     β (0.9, 0.95), eps 1e-8, no weight decay). Three input sets rotate.</li>
 * </ul>
 *
 * Defaults: the SmolLM2-135M shape (30 layers, d 576, 9 heads, 3 kv heads, head dim 64,
 * intermediate 1536, vocabulary 49152, tied head, rope θ 1e5, RMSNorm eps 1e-5), batch 4, T 256.
 * The first step is untimed and its loss and gradient norm are printed (loss0, gnorm0: on the
 * initial weights and input set 0); then warm-up, then the timed steps. Prints the BLAS
 * libraries mapped into the process (none: the kernels are Java), the process CPU time ÷ wall
 * time over the timed steps (flagged above threads × 1.1), the peak RSS (VmHWM), a human line
 * and a {@code RESULT} line.
 * <pre>java ... -cp benchmarks.jar io.pref4j.bench.LlamaStepMain [--threads 1] [--layers 30] [--hidden 576]
 *     [--heads 9] [--kv-heads 3] [--head-dim 64] [--intermediate 1536] [--vocab 49152] [--seq 256]
 *     [--batch 4] [--rope-theta 1e5] [--eps 1e-5] [--untied] [--dpo] [--warmup 2] [--runs 5]
 *     [--seed 1234] [--save DIR] [--construct-only]</pre>
 * {@code --save DIR} writes the initial weights (DIR/model.safetensors, F32, Hugging Face
 * names), DIR/config.json and the inputs (DIR/inputs.json) before the first step, for
 * {@code torch_llama_cpu.py --weights DIR}. {@code --construct-only} stops after building the
 * model (and saving).
 */
public final class LlamaStepMain {

    public static void main(String[] args) throws IOException {
        Locale.setDefault(Locale.ROOT);
        int threads = 1, layers = 30, hidden = 576, heads = 9, kvHeads = 3, headDim = 0, inter = 1536,
                vocab = 49152, seq = 256, batch = 4, warmup = 2, runs = 5;
        double ropeTheta = 1e5, eps = 1e-5;
        long seed = 1234;
        boolean dpo = false, untied = false, constructOnly = false;
        Path save = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--dpo" -> { dpo = true; continue; }
                case "--untied" -> { untied = true; continue; }
                case "--construct-only" -> { constructOnly = true; continue; }
                default -> { }
            }
            if (i + 1 >= args.length) usage("missing value after " + a);
            String v = args[++i];
            switch (a) {
                case "--threads" -> threads = intArg(a, v);
                case "--layers" -> layers = intArg(a, v);
                case "--hidden" -> hidden = intArg(a, v);
                case "--heads" -> heads = intArg(a, v);
                case "--kv-heads" -> kvHeads = intArg(a, v);
                case "--head-dim" -> headDim = intArg(a, v);
                case "--intermediate" -> inter = intArg(a, v);
                case "--vocab" -> vocab = intArg(a, v);
                case "--seq" -> seq = intArg(a, v);
                case "--batch" -> batch = intArg(a, v);
                case "--warmup" -> warmup = intArg(a, v);
                case "--runs" -> runs = intArg(a, v);
                case "--seed" -> seed = intArg(a, v);
                case "--rope-theta" -> ropeTheta = doubleArg(a, v);
                case "--eps" -> eps = doubleArg(a, v);
                case "--save" -> save = Path.of(v);
                default -> usage("unknown option " + a);
            }
        }
        if (headDim == 0) {
            if (hidden % heads != 0) usage("--hidden must be a multiple of --heads (or give --head-dim)");
            headDim = hidden / heads;
        }
        if (dpo && batch % 2 != 0) usage("--dpo: --batch counts chosen + rejected sequences and must be even");
        if (runs < 1 || warmup < 0 || threads < 1 || seq < 2) usage("need --runs >= 1, --warmup >= 0, --threads >= 1, --seq >= 2");

        LlamaConfig cfg = new LlamaConfig("llama", hidden, inter, layers, heads, kvHeads, headDim, eps, ropeTheta, null,
                Math.max(8192, seq), vocab, !untied, false, false);
        String blas = loadedBlas();
        System.out.println("blas: " + (blas.isEmpty() ? "none mapped (pure-Java kernels, Vector API "
                + jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize() + "-bit)" : blas));
        System.out.println("jvm: " + System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version")
                + ", availableProcessors " + Runtime.getRuntime().availableProcessors() + ", gc "
                + ManagementFactory.getGarbageCollectorMXBeans().stream().map(b -> b.getName()).toList());

        try (Step s = new Step(threads, cfg, batch, seq, dpo, seed)) {
            System.out.printf("model: %s, %d parameters, on %s%n", cfg.describe(), cfg.numParameters(), s.k.name());
            if (save != null) {
                s.save(save);
                System.out.println("saved initial weights, config and inputs to " + save);
            }
            if (constructOnly) {
                System.out.println("RESULT impl=pref4j mode=" + (dpo ? "dpo" : "step") + " threads=" + threads + " constructed=1");
                return;
            }
            double[] first = s.step(0, true);
            double loss0 = first[0], gnorm0 = first[1], loss = loss0;
            for (int i = 1; i < warmup; i++) loss = s.step(i, false)[0];
            com.sun.management.OperatingSystemMXBean os =
                    (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
            double[] ms = new double[runs];
            long cpu0 = os.getProcessCpuTime(), wall0 = System.nanoTime();
            for (int i = 0; i < runs; i++) {
                long t0 = System.nanoTime();
                loss = s.step(Math.max(1, warmup) + i, false)[0];
                ms[i] = (System.nanoTime() - t0) * 1e-6;
            }
            long cpu = os.getProcessCpuTime() - cpu0, wall = System.nanoTime() - wall0;
            double ratio = (double) cpu / wall;
            boolean flagged = ratio > threads * 1.1;
            StringBuilder times = new StringBuilder();
            for (double t : ms) times.append(times.isEmpty() ? "" : ",").append(String.format("%.3f", t));
            double[] sorted = ms.clone();
            Arrays.sort(sorted);
            double med = runs % 2 == 1 ? sorted[runs / 2] : 0.5 * (sorted[runs / 2 - 1] + sorted[runs / 2]);
            double tps = (double) batch * seq / (med * 1e-3);
            double rss = peakRssMib();
            System.out.printf("cpu/wall: %.2f over the timed steps (threads %d)%s%n", ratio, threads,
                    flagged ? String.format("  FLAGGED: above threads x 1.1 = %.2f", threads * 1.1) : "");
            System.out.printf("pref4j %s: %s, llama L%d d%d h%d/kv%d hs%d i%d V%d%s, B%d T%d: %.1f ms/step (median of %d, min %.1f), "
                            + "%.0f tokens/s, peak RSS %.0f MiB, first loss %.6f, last loss %.6f%n",
                    s.k.name(), dpo ? "dpo step" : "fwd+bwd", layers, hidden, heads, kvHeads, headDim, inter, vocab,
                    untied ? " untied" : "", batch, seq, med, runs, sorted[0], tps, rss, loss0, loss);
            System.out.printf("RESULT impl=pref4j mode=%s threads=%d ms=%.3f min_ms=%.3f times_ms=%s tokens_per_s=%.1f "
                            + "cpu_wall=%.3f flagged=%d rss_mib=%.1f loss0=%.9g gnorm0=%.9g loss=%.9g%n",
                    dpo ? "dpo" : "step", threads, med, sorted[0], times, tps, ratio, flagged ? 1 : 0, rss, loss0, gnorm0, loss);
        }
    }

    /** One model, its inputs and (for DPO) its optimiser and loss. */
    static final class Step implements AutoCloseable {
        final Kernels k;
        final LlamaConfig cfg;
        final Llama model;
        final int B, T, prompt, sets;
        final boolean dpo;
        final int[][] tokens, targets;
        final float[][] refs;
        final int[] lengths;
        // fwd+bwd
        final float[] dlogp;
        final int count;
        // dpo
        AdamW opt;
        PairwiseLoss loss;
        MemorySegment seqLogp, ref, dseq, dtok;
        PairBatch pairs;

        Step(int threads, LlamaConfig cfg, int B, int T, boolean dpo, long seed) {
            this.k = new CpuKernels(threads);
            this.cfg = cfg;
            this.B = B;
            this.T = T;
            this.dpo = dpo;
            this.model = new Llama(k, cfg, B, T);
            model.initRandom(seed);
            int V = cfg.vocabSize();
            sets = dpo ? 3 : 1;
            prompt = dpo ? Math.max(1, T / 4) : 1;
            SplittableRandom rng = new SplittableRandom(seed + 1);
            tokens = new int[sets][B * T];
            targets = new int[sets][B * T];
            refs = new float[sets][B];
            for (int s = 0; s < sets; s++) {
                for (int i = 0; i < B * T; i++) tokens[s][i] = rng.nextInt(V);
                for (int b = 0; b < B; b++) {
                    // position t predicts token t+1; the prompt's positions (DPO) and the last one have no target
                    for (int t = 0; t < T; t++)
                        targets[s][b * T + t] = (t >= prompt - 1 && t < T - 1) ? tokens[s][b * T + t + 1] : -1;
                    refs[s][b] = (float) (-(T - prompt) * Math.log(V) + rng.nextGaussian());
                }
            }
            lengths = new int[B];
            Arrays.fill(lengths, T);
            count = B * (T - 1);
            dlogp = new float[B * T];
            for (int i = 0; i < B * T; i++) dlogp[i] = targets[0][i] >= 0 ? -1f / count : 0f;
            if (dpo) {
                int P = B / 2;
                opt = new AdamW(k, model.layout(), model.params(), model.grads(), 0.9f, 0.95f, 1e-8f, 0.0f);
                loss = (PairwiseLoss) Losses.create(LossConfig.defaults("dpo"));
                seqLogp = k.allocFloats(B);
                ref = k.allocFloats(B);
                dseq = k.allocFloats(B);
                dtok = k.allocFloats((long) B * T);
                int[] chosen = new int[P], rejected = new int[P];
                for (int i = 0; i < P; i++) {
                    chosen[i] = 2 * i;
                    rejected[i] = 2 * i + 1;
                }
                MemorySegment ci = k.allocInts(P), ri = k.allocInts(P);
                k.writeInts(ci, chosen);
                k.writeInts(ri, rejected);
                pairs = new PairBatch(seqLogp, ref, null, ci, ri, B, P);
            }
        }

        /** Step i (input set i mod sets); returns {loss, gradient norm before the update (NaN unless asked)}. */
        double[] step(int i, boolean gradNorm) {
            int s = i % sets;
            model.zeroGrad();
            double l, g = Double.NaN;
            if (dpo) {
                k.write(ref, refs[s]);
                model.forward(tokens[s], lengths, targets[s], B, T);
                k.rowSum(seqLogp, model.tokenLogpBuffer(), B, T);
                l = loss.compute(k, pairs, dseq).loss();
                k.rowBroadcast(dtok, dseq, B, T);
                model.backwardFromBuffers(dtok, null, null);
                if (gradNorm) g = opt.gradNorm();
                opt.step(1e-5f);
            } else {
                model.forward(tokens[s], lengths, targets[s], B, T);
                float[] lp = model.tokenLogp();
                double sum = 0;
                for (int j = 0; j < lp.length; j++) if (targets[s][j] >= 0) sum += lp[j];
                model.backward(dlogp);
                if (gradNorm) g = Math.sqrt(k.sumSquares(model.grads(), model.layout().size()));
                l = -sum / count;
            }
            k.synchronize();
            return new double[]{l, g};
        }

        /** Writes the current weights (model.safetensors, F32), config.json and inputs.json into dir. */
        void save(Path dir) throws IOException {
            Files.createDirectories(dir);
            List<SafeTensors.Entry> entries = new ArrayList<>();
            for (ParameterLayout.Entry e : model.layout().entries())
                entries.add(SafeTensors.Entry.f32(e.name(), model.readParam(e.name()), e.shape()));
            SafeTensors.write(dir.resolve("model.safetensors"), entries, java.util.Map.of("format", "pt"));
            String config = String.format(Locale.ROOT, """
                    {
                      "architectures": ["LlamaForCausalLM"],
                      "model_type": "llama",
                      "hidden_size": %d,
                      "intermediate_size": %d,
                      "num_hidden_layers": %d,
                      "num_attention_heads": %d,
                      "num_key_value_heads": %d,
                      "head_dim": %d,
                      "hidden_act": "silu",
                      "rms_norm_eps": %s,
                      "rope_theta": %s,
                      "max_position_embeddings": %d,
                      "vocab_size": %d,
                      "tie_word_embeddings": %b,
                      "attention_bias": false,
                      "torch_dtype": "float32"
                    }
                    """, cfg.channels(), cfg.intermediate(), cfg.numLayers(), cfg.numHeads(), cfg.numKvHeads(), cfg.headDim(),
                    Double.toString(cfg.rmsNormEps()), Double.toString(cfg.ropeTheta()), cfg.maxSeqLen(), cfg.vocabSize(),
                    cfg.tieWordEmbeddings());
            Files.writeString(dir.resolve("config.json"), config);
            StringBuilder sb = new StringBuilder();
            sb.append("{\"batch\": ").append(B).append(", \"seq\": ").append(T).append(", \"dpo\": ").append(dpo)
                    .append(", \"prompt\": ").append(prompt).append(",\n \"tokens\": [");
            for (int s = 0; s < sets; s++) {
                sb.append(s == 0 ? "" : ",\n  ").append('[');
                for (int j = 0; j < tokens[s].length; j++) sb.append(j == 0 ? "" : ",").append(tokens[s][j]);
                sb.append(']');
            }
            sb.append("]");
            if (dpo) {
                sb.append(",\n \"ref\": [");
                for (int s = 0; s < sets; s++) {
                    sb.append(s == 0 ? "" : ", ").append('[');
                    // %.9g round-trips a float exactly
                    for (int j = 0; j < B; j++) sb.append(j == 0 ? "" : ",").append(String.format(Locale.ROOT, "%.9g", refs[s][j]));
                    sb.append(']');
                }
                sb.append("]");
            }
            sb.append("}\n");
            Files.writeString(dir.resolve("inputs.json"), sb.toString());
        }

        @Override
        public void close() {
            model.close();
            k.close();
        }
    }

    /** BLAS-like shared libraries mapped into this process (from /proc/self/maps), comma-separated. */
    static String loadedBlas() {
        TreeSet<String> libs = new TreeSet<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                String[] f = line.trim().split("\\s+");
                String p = f[f.length - 1];
                if (p.contains(".so") && (p.contains("blas") || p.contains("mkl") || p.contains("lapack"))) libs.add(p);
            }
        } catch (IOException | RuntimeException e) {
            return "unknown (" + e.getMessage() + ")";
        }
        return String.join(", ", libs);
    }

    /** Peak resident set size (VmHWM of /proc/self/status) in MiB, or NaN when not readable. */
    static double peakRssMib() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        }
        return Double.NaN;
    }

    private static int intArg(String opt, String v) {
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            usage("not an integer after " + opt + ": " + v);
            return 0;
        }
    }

    private static double doubleArg(String opt, String v) {
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            usage("not a number after " + opt + ": " + v);
            return 0;
        }
    }

    private static void usage(String msg) {
        System.err.println("LlamaStepMain: " + msg);
        System.exit(2);
    }
}
