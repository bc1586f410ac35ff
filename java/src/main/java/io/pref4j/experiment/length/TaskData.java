package io.pref4j.experiment.length;

import io.pref4j.io.ModelFiles;
import io.pref4j.model.CausalLm;
import io.pref4j.kernel.Kernels;
import io.pref4j.kernel.cpu.CpuKernels;
import io.pref4j.text.ByteTokenizer;
import io.pref4j.train.Engine;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Everything a (seed, task) needs before any method runs: π_ref (pretrained, cached),
 * the task's preference dataset sampled from π_ref and relabelled by length, the proxy
 * reward model trained on it, the prompt pool, the held-out prompts and π_ref's gold reward.
 */
public record TaskData(LengthTasks.Task task, MethodRunner.Setup setup, List<LengthTasks.Pair> pairs,
                       List<Engine.OfflinePair> offline, ProxyReward.Model proxy, double overlap,
                       MethodRunner.Point reference) {

    /** Sizes of the shared preparation. */
    public record Prep(ReferenceModel.Settings pretrain, int datasetPairs, ProxyReward.Settings rm, int poolCopies,
                       int evalPerPrompt, int maxNew) {}

    /** Prompts as the engine takes them; the train prompts repeated poolCopies times (one slot per copy). */
    public static List<Engine.Prompt> prompts(List<String> texts, int copies) {
        ByteTokenizer tok = ByteTokenizer.INSTANCE;
        List<Engine.Prompt> out = new ArrayList<>();
        for (int c = 0; c < copies; c++) for (String p : texts) out.add(new Engine.Prompt(p, tok.encode(p)));
        return out;
    }

    /** Pretrains (or loads) π_ref for the seed under seedDir/pi_ref and prepares the tasks. */
    public static Map<LengthTasks.Task, TaskData> prepare(long seed, Prep p, List<LengthTasks.Task> tasks, Path seedDir,
                                                          int threads, PrintStream log) throws IOException {
        ReferenceModel.Settings ps = new ReferenceModel.Settings(p.pretrain().layers(), p.pretrain().heads(), p.pretrain().channels(),
                p.pretrain().steps(), p.pretrain().batch(), p.pretrain().lr(), p.pretrain().docs(), seed);
        Path base;
        try (Kernels k = new CpuKernels(threads)) {
            base = ReferenceModel.ensure(k, seedDir.resolve("pi_ref"), ps, log);
        }
        List<Engine.Prompt> train = prompts(LengthCorpus.trainPrompts(), 1);
        List<Engine.Prompt> heldOut = prompts(LengthCorpus.heldOutPrompts(), 1);
        List<Engine.Prompt> pool = prompts(LengthCorpus.trainPrompts(), p.poolCopies());
        List<LengthTasks.Sampled> samples;
        try (Kernels k = new CpuKernels(threads);
             CausalLm ref = ModelFiles.load(k, base, MethodRunner.ROWS, ReferenceModel.MAX_T)) {
            samples = LengthTasks.sample(ref, ByteTokenizer.INSTANCE, train, p.datasetPairs(), p.maxNew(), seed);
        }
        int mode = LengthTasks.mode(samples);
        int[] refLengths = LengthTasks.lengths(samples);
        log.printf(Locale.ROOT, "π_ref: %d sampled responses, mean length %.1f tokens, mode %d%n",
                refLengths.length, Stats.mean(java.util.Arrays.stream(refLengths).asDoubleStream().toArray()), mode);
        List<int[]> refPrompts = new ArrayList<>(), refResponses = new ArrayList<>();
        for (LengthTasks.Sampled s : samples) {
            refPrompts.add(s.prompt().ids());
            refResponses.add(s.a());
            refPrompts.add(s.prompt().ids());
            refResponses.add(s.b());
        }
        Map<LengthTasks.Task, TaskData> out = new EnumMap<>(LengthTasks.Task.class);
        for (LengthTasks.Task task : tasks) {
            List<LengthTasks.Pair> pairs = LengthTasks.dataset(task, samples, mode, seed);
            double overlap = LengthTasks.overlap(refLengths, LengthTasks.pairLengths(pairs));
            log.printf(Locale.ROOT, "task %s: %d pairs (ties dropped), length overlap with π_ref %.2f%n", task.id, pairs.size(), overlap);
            double[] gold = new double[refResponses.size()];
            for (int i = 0; i < gold.length; i++) gold[i] = task.gold(refResponses.get(i).length, mode);
            ProxyReward.Model rm;
            try (Kernels k = new CpuKernels(threads)) {
                rm = ProxyReward.train(k, base, pairs, refPrompts, refResponses, gold,
                        new ProxyReward.Settings(p.rm().epochs(), p.rm().batchPairs(), p.rm().lr(), p.rm().seed() + seed),
                        seedDir.resolve(task.id), log);
            }
            List<Engine.OfflinePair> offline = new ArrayList<>();
            for (LengthTasks.Pair pr : pairs) offline.add(pr.offline(ByteTokenizer.INSTANCE));
            MethodRunner.Setup setup = new MethodRunner.Setup(threads, base, pool, heldOut, p.evalPerPrompt(), p.maxNew(), task, mode, seed);
            MethodRunner.Point ref = MethodRunner.referencePoint(setup);
            out.put(task, new TaskData(task, setup, pairs, offline, rm, overlap, ref));
        }
        return out;
    }
}
