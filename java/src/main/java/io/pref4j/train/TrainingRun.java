package io.pref4j.train;

import io.pref4j.model.CausalLm;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import io.pref4j.config.Configs;
import io.pref4j.config.TrainConfig;
import io.pref4j.io.AtomicFiles;
import io.pref4j.io.ModelFiles;
import io.pref4j.io.Jsonl;
import io.pref4j.io.SafeTensors;
import io.pref4j.kernel.Kernels;
import io.pref4j.loss.Loss;
import io.pref4j.loss.Losses;
import io.pref4j.model.ParameterLayout;
import io.pref4j.reward.Completion;
import io.pref4j.reward.LengthRewards;
import io.pref4j.reward.RewardConfig;
import io.pref4j.reward.RewardSource;
import io.pref4j.reward.RewardSources;
import io.pref4j.sample.Generator;
import io.pref4j.text.Tokenizer;
import io.pref4j.train.run.Checkpoint;
import io.pref4j.train.run.Checkpoints;
import io.pref4j.train.run.MetricsLog;
import io.pref4j.train.run.NonFiniteException;
import io.pref4j.train.run.Plot;
import io.pref4j.train.run.Progress;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A training run around the {@link Engine}: the reward source and loss from the config,
 * the run folder (resolved config.json, metrics.jsonl, reward.png, samples.jsonl,
 * checkpoints/), progress output, periodic atomic checkpoints, and resuming from one so
 * that the run continues exactly as if never stopped. A NaN or Inf loss or gradient stops
 * the run with a diagnostic; the checkpoints already written stay.
 */
public final class TrainingRun {
    private TrainingRun() {}

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The process exit status of a run that ended without taking any optimiser step (no training signal). */
    public static final int NO_STEP_EXIT_STATUS = 4;

    /** What a run produced. */
    public record Result(Path out, int iterations, int steps, double lastReward, Path lastCheckpoint) {}

    /**
     * Runs (or resumes) the training described by cfg.
     *
     * @param policy    the model to train, holding the initial weights (a value head for PPO)
     * @param ref       the frozen reference model (same weights as the initial policy)
     * @param resume    a checkpoint to continue from, or null
     */
    public static Result run(TrainConfig cfg, Kernels k, Tokenizer tok, CausalLm policy, CausalLm ref,
                             List<Engine.Prompt> prompts, List<Engine.OfflinePair> offline,
                             Path out, Checkpoint resume, PrintStream log) throws IOException {
        return run(cfg, k, tok, policy, ref, prompts, offline, out, resume, log, null, null);
    }

    /**
     * As {@link #run(TrainConfig, Kernels, Tokenizer, CausalLm, CausalLm, List, List, Path, Checkpoint, PrintStream)};
     * stops right after an iteration (and its checkpoint) for which continueAfter answers
     * false, without a final checkpoint or outputs, as if the process had been killed there
     * (tests use it to check that resuming continues exactly). rewardSource, when not null,
     * replaces the config's reward section (any Java {@code RewardFunction} as a source).
     */
    public static Result run(TrainConfig cfg, Kernels k, Tokenizer tok, CausalLm policy, CausalLm ref,
                             List<Engine.Prompt> prompts, List<Engine.OfflinePair> offline,
                             Path out, Checkpoint resume, PrintStream log,
                             java.util.function.IntPredicate continueAfter, RewardSource rewardSource) throws IOException {
        Files.createDirectories(out);
        RewardConfig rc = rewardSource != null ? null : resolveReward(cfg, tok, ref, prompts, log);
        Loss loss = Losses.create(cfg.loss());
        if (cfg.loop().mode() == io.pref4j.config.LoopSection.Mode.ONLINE && prompts.isEmpty())
            throw new UserInputException("online training needs prompts: set data.prompts (or data.preferences)");
        AtomicFiles.replace(out.resolve("config.json"), (Configs.toJson(cfg) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));

        try (RewardSource reward = rewardSource != null ? rewardSource : RewardSources.create(rc, k, tok)) {
            Engine engine = new Engine(cfg, k, tok, policy, ref, reward, loss, prompts, offline);
            List<Engine.Prompt> evalPrompts = cfg.data().evalPrompts() != null
                    ? TrainingData.prompts(Path.of(cfg.data().evalPrompts()), tok, cfg.data().promptField()) : prompts;
            Checkpoints ckpts = new Checkpoints(out.resolve("checkpoints"), cfg.checkpoint().keep());
            MetricsLog metrics;
            if (resume != null) {
                restore(engine, loss, k, resume);
                metrics = MetricsLog.resume(out.resolve("metrics.jsonl"), resume.step() - 1);
                log.printf(Locale.ROOT, "resumed from %s (iteration %d, step %d)%n", resume.dir(), engine.iteration(), engine.step());
                engine.nanGuard().checkpointed(resume.dir());
            } else {
                metrics = MetricsLog.create(out.resolve("metrics.jsonl"));
            }
            Progress progress = Progress.console(cfg.log(), estimatedSteps(cfg));
            progress.start(engine.step() - 1);
            Path[] lastCkpt = {resume == null ? null : resume.dir()};
            double[] lastReward = {Double.NaN};
            Map<String, Object>[] pending = new Map[1];
            List<Engine.IterationStats> stats = new ArrayList<>();
            Engine.Listener listener = new Engine.Listener() {
                @Override public void step(Map<String, Object> m) {
                    if (pending[0] != null) logLine(metrics, pending[0]);
                    pending[0] = m;
                    double r = m.get("reward_mean") instanceof Number n ? n.doubleValue() : Double.NaN;
                    progress.update(((Number) m.get("step")).longValue(), r, ((Number) m.get("loss")).doubleValue(),
                            ((Number) m.get("tokens")).longValue());
                }

                @Override public void iteration(Engine.IterationStats s) {
                    lastReward[0] = s.rewardMean();
                    stats.add(s);
                    if (pending[0] != null) {
                        Map<String, Object> m = pending[0];
                        pending[0] = null;
                        int every = cfg.loop().evalEvery();
                        if (every > 0 && (s.iteration() + 1) % every == 0) m.put("eval_reward", evaluate(engine, cfg, tok, reward, evalPrompts));
                        logLine(metrics, m);
                    }
                    if (s.idle() != null) {
                        // an iteration without training signal still leaves a line saying why
                        Map<String, Object> m = new LinkedHashMap<>();
                        m.put("iteration", s.iteration());
                        m.put("no_signal", s.idle());
                        if (s.online()) {
                            m.put("reward_mean", s.rewardMean());
                            m.put("unfinished_fraction", s.unfinishedFraction());
                            m.put("tied_fraction", s.tiedFraction());
                        }
                        metrics.log(engine.step() - 1, m);   // "step": the last optimiser step before it (-1: none yet)
                    }
                    progress.println(iterationLine(s, cfg.loop().iterations()));
                }
            };
            try {
                engine.run(listener, it -> {
                    int every = cfg.checkpoint().every();
                    if (every > 0 && it % every == 0 && it < cfg.loop().iterations()) {
                        lastCkpt[0] = save(ckpts, engine, loss, cfg, tok);
                        engine.nanGuard().checkpointed(lastCkpt[0]);
                    }
                    return continueAfter == null || continueAfter.test(it);
                });
                if (engine.iteration() < cfg.loop().iterations()) {
                    metrics.close();
                    return new Result(out, engine.iteration(), engine.step(), lastReward[0], lastCkpt[0]);
                }
            } catch (NonFiniteException e) {
                progress.finish();
                metrics.close();
                Plot.write(out.resolve("metrics.jsonl"), out.resolve("reward.png"));
                throw e;
            }
            progress.finish();
            metrics.close();
            String warning = noSignalWarning(stats);
            if (warning != null) log.println(warning);
            lastCkpt[0] = save(ckpts, engine, loss, cfg, tok);
            writeFinal(policy, out.resolve(ModelFiles.FINAL), tok, cfg.model().init());
            Plot.write(out.resolve("metrics.jsonl"), out.resolve("reward.png"));
            int nSamples = Math.min(cfg.log().finalSamples(), evalPrompts.size());
            if (nSamples > 0) {
                long t0 = System.nanoTime();
                log.printf(Locale.ROOT, "samples: the final policy on %d prompts (log.final_samples; 0 skips this step)...%n", nSamples);
                writeSamples(engine, cfg, tok, reward, evalPrompts, nSamples, out.resolve("samples.jsonl"));
                log.printf(Locale.ROOT, "samples: wrote %s in %.1fs%n", out.resolve("samples.jsonl"), (System.nanoTime() - t0) / 1e9);
            }
            return new Result(out, engine.iteration(), engine.step(), lastReward[0], lastCkpt[0]);
        }
    }

    /**
     * The trained policy as a Hugging Face folder of its family ({@code RUN/final/}: config.json
     * + model.safetensors, the tokenizer recorded, and the initial model's tokenizer files
     * copied), written into a temporary folder that is
     * renamed into place, so {@code final/} is either absent or complete.
     */
    static void writeFinal(CausalLm policy, Path dir, Tokenizer tok, String init) throws IOException {
        Path tmp = dir.resolveSibling(dir.getFileName() + ".tmp");
        if (Files.exists(tmp)) AtomicFiles.deleteTree(tmp);
        Path source = init != null && Files.isDirectory(Path.of(init)) ? ModelFiles.resolveModelDir(Path.of(init)) : null;
        ModelFiles.save(policy, tmp, tok.name(), source);   // keeps the source config's special-token ids
        copyInitTokenizer(init, tmp);
        if (Files.exists(dir)) AtomicFiles.deleteTree(dir);
        Files.move(tmp, dir, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** Copies the initial model folder's tokenizer files into dir (nothing for a built-in model name). */
    private static void copyInitTokenizer(String init, Path dir) throws IOException {
        if (init != null && Files.isDirectory(Path.of(init)))
            ModelFiles.copyTokenizerFiles(ModelFiles.resolveModelDir(Path.of(init)), dir);
    }

    /** The console line of one iteration (offline iterations show no reward and no generation timings). */
    static String iterationLine(Engine.IterationStats s, int iterations) {
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "iteration %d/%d", s.iteration() + 1, iterations));
        if (s.online()) b.append(String.format(Locale.ROOT, "  reward %.4f  regenerated %d", s.rewardMean(), s.regenerated()));
        b.append("  examples ").append(s.examples());
        if (s.idle() != null) b.append("  (no training signal: ").append(s.idle()).append(')');
        b.append("  time:");
        if (s.online()) b.append(String.format(Locale.ROOT, " generation %.2fs reward %.2fs", s.tGeneration(), s.tReward()));
        b.append(String.format(Locale.ROOT, " reference %.2fs train %.2fs", s.tReference(), s.tTrain()));
        return b.toString();
    }

    /**
     * A warning when most iterations of the run (more than half) had no training signal,
     * naming the likely cause from the online responses: rewards tied within every prompt,
     * responses that never reached end-of-text; null otherwise.
     */
    static String noSignalWarning(List<Engine.IterationStats> stats) {
        if (stats.isEmpty()) return null;
        long idle = stats.stream().filter(s -> s.idle() != null).count();
        if (2 * idle <= stats.size()) return null;
        double unfinished = stats.stream().mapToDouble(Engine.IterationStats::unfinishedFraction).average().orElse(0);
        double tied = stats.stream().mapToDouble(Engine.IterationStats::tiedFraction).average().orElse(0);
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT,
                "warning: %d of %d iterations had no training signal", idle, stats.size()));
        List<String> causes = new ArrayList<>();
        if (tied > 0.5) causes.add(String.format(Locale.ROOT,
                "the responses to a prompt all got the same reward (%.0f%% of prompts): check the reward, raise sampling.temperature or loop.responses_per_prompt", 100 * tied));
        if (unfinished > 0.5) causes.add(String.format(Locale.ROOT,
                "%.0f%% of responses never ended (no end-of-text within sampling.max_new_tokens): a base model may need more tokens, a stop token or SFT first", 100 * unfinished));
        if (causes.isEmpty()) causes.add("no example passed the pair construction (loop.pairs, loop.threshold)");
        b.append("; likely cause: ").append(String.join("; ", causes));
        return b.toString();
    }

    /** Optimiser steps the run will take, for the ETA (exact for best-vs-worst pairs and per-sample losses). */
    static long estimatedSteps(TrainConfig cfg) {
        var l = cfg.loop();
        long examples = (long) l.promptBatch() * Engine.examplesPerPrompt(cfg);
        long minibatches = (examples + l.minibatch() - 1) / l.minibatch() * l.reuse();
        return (long) l.iterations() * Math.max(1, (minibatches + l.gradAccum() - 1) / l.gradAccum());
    }

    /** Writes one step's metrics ("step" is the line's key, not a metric). */
    private static void logLine(MetricsLog metrics, Map<String, Object> m) {
        Map<String, Object> rest = new LinkedHashMap<>(m);
        long step = ((Number) rest.remove("step")).longValue();
        metrics.log(step, rest);
    }

    /**
     * mode_length without a mode: the mode of the reference policy's response lengths on
     * the prompt pool (one sample per prompt, up to 256 prompts, with the run's sampling).
     */
    static RewardConfig resolveReward(TrainConfig cfg, Tokenizer tok, CausalLm ref, List<Engine.Prompt> prompts, PrintStream log) {
        RewardConfig rc = cfg.reward();
        if (!"mode_length".equals(rc.type()) || rc.mode() != null) return rc;
        if (prompts.isEmpty()) throw new UserInputException("reward.mode is required for mode_length without prompts");
        List<Integer> lens = new ArrayList<>();
        for (Generator.Sample g : sampleEach(new Generator(ref), ref, cfg, tok, prompts, 256, cfg.run().seed() ^ 0x40DEL))
            lens.add(g.endedWithEos() ? g.tokens().length - 1 : g.tokens().length);
        int mode = LengthRewards.mode(lens);
        log.println("reward: mode_length with the reference policy's mode response length " + mode + " tokens");
        return rc.withMode(mode);
    }

    /** Mean reward of one sample per evaluation prompt (data.eval_prompts, else the pool; the first 64). */
    static double evaluate(Engine engine, TrainConfig cfg, Tokenizer tok, RewardSource reward, List<Engine.Prompt> prompts) {
        List<Completion> done = sampleCompletions(engine, cfg, tok, prompts, 64);
        double[] r = reward.score(done);
        double sum = 0;
        for (double x : r) sum += x;
        return r.length == 0 ? Double.NaN : sum / r.length;
    }

    /**
     * One sample for each of the first max prompts with the run's sampling settings, in
     * generation batches of the model's batch size.
     */
    private static List<Generator.Sample> sampleEach(Generator gen, CausalLm model, TrainConfig cfg, Tokenizer tok,
                                                     List<Engine.Prompt> prompts, int max, long seed) {
        var s = cfg.sampling();
        int n = Math.min(max, prompts.size());
        List<Generator.Sample> out = new ArrayList<>();
        for (int start = 0; start < n; start += model.maxBatch()) {
            int end = Math.min(n, start + model.maxBatch());
            int[][] batch = new int[end - start][];
            int longest = 1;
            for (int i = start; i < end; i++) {
                batch[i - start] = prompts.get(i).ids();
                longest = Math.max(longest, batch[i - start].length);
            }
            out.addAll(List.of(gen.generate(batch, new Generator.Options(Math.max(1, Math.min(s.maxNewTokens(), model.maxT() - longest)),
                    (float) s.temperature(), s.topK(), (float) s.topP(), tok.eosId(), seed, tok.eosIds().stream().mapToInt(Integer::intValue).sorted().toArray()))));
        }
        return out;
    }

    /** The policy's samples for the first max prompts, as completions (end-of-text dropped). */
    private static List<Completion> sampleCompletions(Engine engine, TrainConfig cfg, Tokenizer tok, List<Engine.Prompt> prompts, int max) {
        List<Generator.Sample> got = sampleEach(engine.generator(), engine.policy(), cfg, tok, prompts, max, cfg.run().seed() ^ 0xE7A1L);
        List<Completion> out = new ArrayList<>();
        for (int i = 0; i < got.size(); i++) {
            Generator.Sample g = got.get(i);
            int[] ids = g.endedWithEos() ? java.util.Arrays.copyOf(g.tokens(), g.tokens().length - 1) : g.tokens();
            Engine.Prompt p = prompts.get(i);
            out.add(new Completion(p.text(), tok.decode(ids), p.ids(), ids));
        }
        return out;
    }

    private static void writeSamples(Engine engine, TrainConfig cfg, Tokenizer tok, RewardSource reward,
                                     List<Engine.Prompt> prompts, int n, Path file) {
        List<Completion> done = sampleCompletions(engine, cfg, tok, prompts, n);
        double[] r = done.isEmpty() ? new double[0] : reward.score(done);
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int i = 0; i < done.size(); i++) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("prompt", done.get(i).prompt());
            m.put("response", done.get(i).response());
            m.put("reward", r[i]);
            rows.add(m);
        }
        Jsonl.writeAll(file, rows);
    }

    // ------------------------------------------------------------------ checkpoints

    private static Path save(Checkpoints ckpts, Engine engine, Loss loss, TrainConfig cfg, Tokenizer tok) {
        CausalLm p = engine.policy();
        Kernels k = p.kernels();
        Checkpoints.Tensors model = () -> {
            List<SafeTensors.Entry> e = new ArrayList<>();
            for (ParameterLayout.Entry t : p.layout().entries()) e.add(SafeTensors.Entry.f32(t.name(), p.readParam(t.name()), t.shape()));
            return e;
        };
        Checkpoints.Tensors optim = () -> {
            long n = p.layout().size();
            float[] m = new float[(int) n], v = new float[(int) n];
            k.read(engine.optimizer().firstMoment(), m);
            k.read(engine.optimizer().secondMoment(), v);
            return List.of(SafeTensors.Entry.f32("adam.m", m, (int) n), SafeTensors.Entry.f32("adam.v", v, (int) n));
        };
        ObjectNode state = JSON.createObjectNode();
        state.put("iteration", engine.iteration());
        state.put("step", engine.step());
        state.put("adam_step", engine.optimizer().stepCount());
        engine.saveObjective(state);
        state.set("store", engine.store().toJson());
        Checkpoints.Save s = new Checkpoints.Save(engine.step(), model, optim, state, Configs.toTree(cfg),
                dir -> {
                    ModelFiles.writeConfig(p.config(), dir, tok.name());
                    copyInitTokenizer(cfg.model().init(), dir);   // each checkpoint is a complete model folder
                });
        return ckpts.save(s).dir();
    }

    private static void restore(Engine engine, Loss loss, Kernels k, Checkpoint c) {
        CausalLm p = engine.policy();
        try (SafeTensors st = c.openModel()) {
            for (ParameterLayout.Entry t : p.layout().entries()) {
                if (!st.contains(t.name())) throw new UserInputException(c.modelFile() + ": missing tensor " + t.name());
                p.writeParam(t.name(), st.floats(t.name()));
            }
        }
        ObjectNode s = c.state();
        if (c.hasOptimizer()) {
            try (SafeTensors st = c.openOptimizer()) {
                k.write(engine.optimizer().firstMoment(), st.floats("adam.m"));
                k.write(engine.optimizer().secondMoment(), st.floats("adam.v"));
            }
            engine.optimizer().restoreStep(s.path("adam_step").asInt());
        }
        engine.restore(s.path("iteration").asInt(), s.path("step").asInt());
        engine.restoreObjective(s);
        engine.store().restore(s.get("store"));
    }

}
