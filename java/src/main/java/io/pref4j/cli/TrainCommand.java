package io.pref4j.cli;

import io.pref4j.io.ModelFiles;
import io.pref4j.model.CausalLm;
import io.pref4j.UserInputException;
import io.pref4j.config.Configs;
import io.pref4j.config.LoopSection;
import io.pref4j.config.TrainConfig;
import io.pref4j.kernel.Backends;
import io.pref4j.kernel.Kernels;
import io.pref4j.model.ModelConfig;
import io.pref4j.text.Tokenizer;
import io.pref4j.train.Engine;
import io.pref4j.train.TrainingData;
import io.pref4j.train.TrainingRun;
import io.pref4j.train.run.Checkpoint;
import io.pref4j.train.run.Checkpoints;
import io.pref4j.train.run.NonFiniteException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code pref4j train}: every trainer of SPEC §3 as a configuration of one loop. Writes the
 * run folder (config.json, metrics.jsonl, reward.png, samples.jsonl, checkpoints/);
 * {@code --resume} continues the newest complete checkpoint of a run folder.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train a policy (SFT, offline or online DPO/IPO/hinge/wdpo/RWR/best-of-N, SimPO, ORPO, KTO, REINFORCE/RLOO, PPO, GRPO, OPTune).",
                "Every key, its default and meaning: docs/config.md. Examples: configs/*.json."})
public final class TrainCommand implements Callable<Integer> {

    @Option(names = "--config", paramLabel = "FILE.json", description = "The run's config (JSON; // comments allowed).")
    Path config;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override one key, e.g. --set loop.reuse=2 (repeatable).")
    List<String> sets = new ArrayList<>();

    @Option(names = "--resume", paramLabel = "DIR", description = "Continue the run in DIR from its newest checkpoint.")
    Path resume;

    @Override
    public Integer call() throws Exception {
        Checkpoint cp = null;
        TrainConfig cfg;
        Path out;
        if (resume != null) {
            if (config != null) throw new UserInputException("--resume takes the run's saved config; pass changes with --set");
            cp = Checkpoints.latest(resume.resolve("checkpoints"))
                    .orElseThrow(() -> new UserInputException(resume + ": no checkpoint to resume from (expected " + resume.resolve("checkpoints") + "/ckpt-*)"));
            cfg = cp.config(TrainConfig.class);
            for (String s : sets) cfg = Configs.override(cfg, s);
            out = resume;
        } else {
            if (config == null && sets.isEmpty()) throw new UserInputException("train needs --config FILE.json (and/or --set KEY=VALUE)");
            cfg = TrainConfig.load(config, sets);
            out = cfg.run().out() != null ? Path.of(cfg.run().out()) : Path.of("runs", cfg.run().name());
        }
        if (cfg.model().init() == null || cfg.model().init().isBlank())
            throw new UserInputException("model.init is required: a Hugging Face model folder or a pref4j run folder");
        Path dir = ModelFiles.resolveModelDir(Path.of(cfg.model().init()));
        ModelConfig gc = ModelFiles.readConfig(dir);
        Tokenizer tok = ModelFiles.tokenizerFor(dir, gc, cfg.model().tokenizer().name().toLowerCase(Locale.ROOT));
        var d = cfg.data();
        List<Engine.OfflinePair> offline = d.preferences() == null ? List.of()
                : TrainingData.pairs(Path.of(d.preferences()), tok, d.promptField(), d.chosenField(), d.rejectedField());
        List<Engine.Prompt> prompts = d.prompts() != null ? TrainingData.prompts(Path.of(d.prompts()), tok, d.promptField())
                : offline.stream().map(Engine.OfflinePair::prompt).toList();
        offline = TrainingData.truncatePairs(offline, d.maxPromptLength(), tok);
        prompts = TrainingData.truncatePrompts(prompts, d.maxPromptLength(), tok);
        if (cfg.loop().mode() == LoopSection.Mode.OFFLINE && offline.isEmpty())
            throw new UserInputException("loop.mode = offline needs data.preferences");

        int longestPrompt = prompts.stream().mapToInt(p -> p.ids().length).max().orElse(1);
        int longestPair = offline.stream().mapToInt(p -> p.prompt().ids().length + Math.max(p.chosenIds().length, p.isUnpaired() ? 0 : p.rejectedIds().length) + 1).max().orElse(1);
        int maxT = cfg.model().maxSeqLen() != null ? cfg.model().maxSeqLen()
                : Math.min(gc.maxSeqLen(), Math.max(longestPair, longestPrompt + cfg.sampling().maxNewTokens()));
        if (maxT > gc.maxSeqLen()) throw new UserInputException("model.max_seq_len " + maxT + " exceeds the model's " + gc.maxSeqLen() + " positions");
        if (longestPair > maxT) throw new UserInputException(d.preferences() + ": a prompt + response of " + longestPair + " tokens exceeds model.max_seq_len " + maxT);
        var loop = cfg.loop();
        int maxB = Math.max(2 * loop.minibatch(), Math.min(64, loop.promptBatch() * loop.responsesPerPrompt()));

        try (Kernels k = Backends.open(cfg.run().device().name(), cfg.run().threads(), s -> System.out.println("train: " + s))) {
            CausalLm policy = ModelFiles.load(k, dir, maxB, maxT);
            if (Engine.needsValueHead(cfg) && !policy.hasHead())
                policy = policy.withHead(maxB, maxT, cfg.run().seed(), 0.02);
            CausalLm ref = ModelFiles.load(k, dir, maxB, maxT);
            System.out.printf(Locale.ROOT, "train: model %s (%,d parameters), tokenizer %s%n", gc.describe(), gc.numParameters(), tok.name());
            System.out.printf(Locale.ROOT, "train: %s, loss %s, %s, %d prompts, %d preference pairs -> %s%n",
                    dir, cfg.loss().type(), loop.mode().name().toLowerCase(Locale.ROOT) + (cfg.optune().enabled() ? " (OPTune)" : ""),
                    prompts.size(), offline.size(), out);
            TrainingRun.Result r = TrainingRun.run(cfg, k, tok, policy, ref, prompts, offline, out, cp, System.out);
            System.out.printf(Locale.ROOT, "done: %d iterations, %d steps; wrote %s (metrics.jsonl, reward.png, samples.jsonl, checkpoints/, final/)%n",
                    r.iterations(), r.steps(), out);
            if (r.steps() == 0) {
                System.err.println("pref4j: the run took no optimiser step: no iteration had a training signal (see the no_signal lines of "
                        + out.resolve("metrics.jsonl") + "); exit status " + TrainingRun.NO_STEP_EXIT_STATUS);
                return TrainingRun.NO_STEP_EXIT_STATUS;
            }
            return 0;
        } catch (NonFiniteException e) {
            System.err.println("pref4j: stopped: " + e.getMessage());
            return NonFiniteException.EXIT_STATUS;
        }
    }
}
