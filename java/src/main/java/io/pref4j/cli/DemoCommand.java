package io.pref4j.cli;

import io.pref4j.io.ModelFiles;
import io.pref4j.model.CausalLm;
import io.pref4j.UserInputException;
import io.pref4j.experiment.SyntheticCorpus;
import io.pref4j.io.Jsonl;
import io.pref4j.kernel.Backends;
import io.pref4j.kernel.Kernels;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;
import io.pref4j.sample.Generator;
import io.pref4j.text.ByteTokenizer;
import io.pref4j.train.Pretrainer;
import io.pref4j.train.Engine;
import io.pref4j.train.TrainingRun;
import io.pref4j.config.TrainConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * The main job: pretrains a tiny GPT (byte tokenizer) on the synthetic list corpus
 * ("list fruits:" → " apple plum fig."), then runs OPTune — online wdpo regenerating only
 * the lowest-reward half of the prompts each iteration — on the min_length reward (shorter
 * lists are better), printing the reward as it climbs. Writes OUT/metrics.jsonl,
 * OUT/reward.png, OUT/samples.jsonl, OUT/checkpoints/ and OUT/config.json for the
 * preference run, and OUT/pretrain/ (metrics, samples, the base model).
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"The main job: pretrain a tiny GPT on a synthetic corpus, then tune it online with OPTune",
                "(wdpo) on a length reward, printing the reward as it climbs (a few minutes on 2 CPU cores)."})
public final class DemoCommand implements Callable<Integer> {

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0 = all cores).")
    int threads;

    @Option(names = "--steps", defaultValue = "800", description = "Pretraining steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch", defaultValue = "16", description = "Sequences per step (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", defaultValue = "0.003", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    float lr;

    @Option(names = "--iterations", defaultValue = "30", description = "OPTune iterations (default: ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--seed", defaultValue = "1", description = "Seed for data, initialisation and sampling.")
    long seed;

    @Option(names = "--out", defaultValue = "runs/demo", description = "Output folder (default: ${DEFAULT-VALUE}).")
    Path out;

    static final int MAX_T = 96;

    @Override
    public Integer call() throws IOException {
        if (steps < 1) throw new UserInputException("--steps must be >= 1, got " + steps);
        if (batch < 1) throw new UserInputException("--batch must be >= 1, got " + batch);
        if (!(lr > 0)) throw new UserInputException("--lr must be > 0, got " + lr);
        Path pre = out.resolve("pretrain");
        Files.createDirectories(pre);
        ByteTokenizer tok = ByteTokenizer.INSTANCE;
        List<SyntheticCorpus.Doc> docs = SyntheticCorpus.generate(8192, seed);
        GptConfig cfg = new GptConfig(MAX_T, tok.vocabSize(), 2, 4, 64);
        System.out.printf(Locale.ROOT, "demo: tiny GPT (%d layers, d %d, %d heads, vocab %d, %,d parameters) on %d synthetic documents%n",
                cfg.numLayers(), cfg.channels(), cfg.numHeads(), cfg.vocabSize(), cfg.numParameters(), docs.size());
        try (Kernels k = Backends.open(device, threads, s -> System.out.println("demo: " + s))) {
            Gpt model = new Gpt(k, cfg, Math.max(batch, 8), MAX_T);
            model.initRandom(seed);
            long start = System.nanoTime();
            long[] tokensSeen = {0};
            List<String> texts = docs.stream().map(SyntheticCorpus.Doc::text).toList();
            try (BufferedWriter metrics = Files.newBufferedWriter(pre.resolve("metrics.jsonl"))) {
                Pretrainer.train(model, tok, texts, new Pretrainer.Options(steps, batch, lr, 20, 0.1f, 0.01f, 1.0),
                        (step, loss, rate, norm, count) -> {
                            tokensSeen[0] += count;
                            double secs = (System.nanoTime() - start) / 1e9;
                            try {
                                metrics.write(String.format(Locale.ROOT,
                                        "{\"step\":%d,\"loss\":%.6f,\"lr\":%.6g,\"grad_norm\":%.4f,\"tokens_per_s\":%.1f,\"elapsed_s\":%.3f}%n",
                                        step, loss, rate, norm, tokensSeen[0] / secs, secs));
                            } catch (IOException e) {
                                throw new java.io.UncheckedIOException(e);
                            }
                            if (step % 25 == 0 || step == steps - 1) {
                                System.out.printf(Locale.ROOT, "step %4d/%d  loss %.4f  lr %.2e  %,.0f tok/s  %.1fs%n",
                                        step, steps, loss, rate, tokensSeen[0] / secs, secs);
                            }
                        });
            }

            // sample two continuations per prompt with the KV cache
            List<String> prompts = new ArrayList<>();
            for (String p : SyntheticCorpus.prompts()) { prompts.add(p); prompts.add(p); }
            int[][] pids = new int[prompts.size()][];
            for (int i = 0; i < pids.length; i++) pids[i] = tok.encode(prompts.get(i));
            Generator gen = new Generator(model);
            Generator.Sample[] samples = gen.generate(pids,
                    new Generator.Options(60, 0.8f, 0, 0.95f, tok.eosId(), seed));
            int wellFormed = 0;
            try (BufferedWriter sw = Files.newBufferedWriter(pre.resolve("samples.jsonl"))) {
                System.out.println("samples (temperature 0.8, top-p 0.95):");
                for (int i = 0; i < samples.length; i++) {
                    int[] t = samples[i].tokens();
                    int n = samples[i].endedWithEos() ? t.length - 1 : t.length;
                    String text = tok.decode(java.util.Arrays.copyOf(t, n));
                    boolean ok = samples[i].endedWithEos() && isWellFormed(prompts.get(i), text);
                    if (ok) wellFormed++;
                    System.out.printf("  %s%s%s%n", prompts.get(i), text, ok ? "" : "   (malformed)");
                    sw.write(Jsonl.toLine(java.util.Map.of("prompt", prompts.get(i), "response", text)) + "\n");
                }
            }
            System.out.printf(Locale.ROOT, "well-formed samples: %d/%d%n", wellFormed, samples.length);
            Path base = pre.resolve("model");
            ModelFiles.save(model, base, tok.name());

            // OPTune on the length reward, starting from (and referenced to) the pretrained model
            List<Engine.Prompt> pool = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                String p = SyntheticCorpus.prompts().get(i % SyntheticCorpus.prompts().size());
                pool.add(new Engine.Prompt(p, tok.encode(p)));
            }
            TrainConfig tc = TrainConfig.load(null, List.of("run.name=demo", "run.out=" + out, "run.seed=" + seed,
                    "model.init=" + base, "loop.iterations=" + iterations, "loop.prompt_batch=16", "loop.responses_per_prompt=4",
                    "loop.minibatch=16", "loop.reuse=1", "optim.lr=3e-4", "optim.warmup=2", "optim.weight_decay=0",
                    "sampling.max_new_tokens=48", "optune.enabled=true", "optune.rho=0.5", "optune.selection=lowest",
                    "loss.type=wdpo", "loss.beta=0.1", "reward.type=min_length", "checkpoint.every=10"));
            System.out.printf(Locale.ROOT, "OPTune: online wdpo on min_length (reward = -response tokens), %d iterations of %d prompts x %d responses, regenerating the lowest %.0f%%%n",
                    iterations, tc.loop().promptBatch(), tc.loop().responsesPerPrompt(), 100 * tc.optune().rho());
            int rows = Math.max(2 * tc.loop().minibatch(), tc.loop().promptBatch() * tc.loop().responsesPerPrompt());
            CausalLm policy = ModelFiles.load(k, base, rows, MAX_T), ref = ModelFiles.load(k, base, rows, MAX_T);
            TrainingRun.Result r = TrainingRun.run(tc, k, tok, policy, ref, pool, List.of(), out, null, System.out);
            System.out.printf(Locale.ROOT, "reward: %.2f after %d iterations (%d steps); wrote %s/metrics.jsonl, reward.png, samples.jsonl, checkpoints/%n",
                    r.lastReward(), r.iterations(), r.steps(), out);
        }
        return 0;
    }

    /** A response is well formed when it lists items of the prompt's category and ends with a period. */
    static boolean isWellFormed(String prompt, String response) {
        if (!response.endsWith(".") || !response.startsWith(" ")) return false;
        String category = prompt.substring("list ".length(), prompt.length() - 1);
        java.util.Set<String> allowed = SyntheticCorpus.itemsOf(category);
        String body = response.substring(0, response.length() - 1).strip();
        if (body.isEmpty()) return false;
        for (String w : body.split(" ")) if (!allowed.contains(w)) return false;
        return true;
    }
}
