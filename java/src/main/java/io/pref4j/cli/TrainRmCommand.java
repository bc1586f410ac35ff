package io.pref4j.cli;

import io.pref4j.io.ModelFiles;
import io.pref4j.model.CausalLm;
import io.pref4j.UserInputException;
import io.pref4j.io.Jsonl;
import io.pref4j.io.TokenizedPair;
import io.pref4j.kernel.Backends;
import io.pref4j.kernel.Kernels;
import io.pref4j.model.ModelConfig;
import io.pref4j.reward.RewardHead;
import io.pref4j.reward.RewardModelTrainer;
import io.pref4j.text.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code pref4j train-rm}: trains a Bradley–Terry reward model on preference pairs from a
 * base GPT-2 folder (the same transformer plus a scalar head) and writes, under --out,
 * {@code model/} (a Hugging Face GPT-2 folder with head.weight and head.bias, loadable as a
 * {@code learned} reward), {@code metrics.jsonl} (one line per step, eval metrics on each
 * epoch's last step) and {@code train_rm.json} (the resolved settings).
 */
@Command(name = "train-rm", mixinStandardHelpOptions = true,
        description = {"Train a Bradley-Terry reward model: loss -log sigmoid(r_chosen - r_rejected), reward = a scalar head",
                "at the end-of-text token after prompt + response. Data lines are {\"prompt\",\"chosen\",\"rejected\"}",
                "(or the *_ids forms). Writes OUT/model (a Hugging Face folder of the base model's family with the head), OUT/metrics.jsonl, OUT/train_rm.json."})
public final class TrainRmCommand implements Callable<Integer> {

    @Option(names = "--base", paramLabel = "DIR",
            description = "Required. The base model: a Hugging Face model folder (any supported family) or a pref4j run folder.")
    Path base;

    @Option(names = "--data", paramLabel = "FILE.jsonl", description = "Required. Preference pairs.")
    Path data;

    @Option(names = "--out", paramLabel = "DIR", description = "Required. Output folder.")
    Path out;

    @Option(names = "--epochs", defaultValue = "1", description = "Passes over the training pairs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--lr", defaultValue = "1e-4", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    float lr;

    @Option(names = "--batch", defaultValue = "8", description = "Pairs per step (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--weight-decay", defaultValue = "0.01", description = "AdamW weight decay (default: ${DEFAULT-VALUE}).")
    float weightDecay;

    @Option(names = "--warmup", defaultValue = "-1", description = "Warm-up steps (default: 5% of the steps).")
    int warmup;

    @Option(names = "--grad-clip", defaultValue = "1.0", description = "Gradient-norm clip, 0 = none (default: ${DEFAULT-VALUE}).")
    double gradClip;

    @Option(names = "--eval-fraction", defaultValue = "0.1", description = "Held-out fraction of the pairs (default: ${DEFAULT-VALUE}).")
    double evalFraction;

    @Option(names = "--seed", defaultValue = "1", description = "Seed for the split, the order and the head (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--log-every", defaultValue = "10", description = "A progress line every N steps (default: ${DEFAULT-VALUE}).")
    int logEvery;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0 = all cores).")
    int threads;

    @Option(names = "--tokenizer", defaultValue = "auto",
            description = "byte, gpt2 or auto (from the base model: config.json's pref4j_tokenizer, or vocab 50257 = gpt2, 258 = byte).")
    String tokenizer;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (base == null) throw new UserInputException("train-rm: --base DIR is required");
        if (data == null) throw new UserInputException("train-rm: --data FILE.jsonl is required");
        if (out == null) throw new UserInputException("train-rm: --out DIR is required");
        RewardModelTrainer.Options opt = new RewardModelTrainer.Options(epochs, batch, lr, weightDecay, warmup, 0.1f,
                gradClip, evalFraction, seed, 0.02, logEvery);
        Path dir = ModelFiles.resolveModelDir(base);
        ModelConfig cfg = ModelFiles.readConfig(dir);
        Tokenizer tok = ModelFiles.tokenizerFor(dir, cfg, tokenizer);
        if (!Files.isRegularFile(data)) throw new UserInputException(data + ": no such file");
        List<TokenizedPair> pairs = Jsonl.readTokenizedPairs(data, tok);
        int maxT = RewardModelTrainer.longestSequence(pairs, cfg.maxSeqLen());
        RewardModelTrainer.Split split = RewardModelTrainer.split(pairs, evalFraction, seed);
        PrintWriter log = spec.commandLine().getOut();
        Files.createDirectories(out);
        try (Kernels k = Backends.open(device, threads, s -> log.println("train-rm: " + s));
             Jsonl.Writer metrics = Jsonl.writer(out.resolve("metrics.jsonl"))) {
            CausalLm model = RewardModelTrainer.fromBase(k, dir, 2 * batch, maxT, seed, opt.headInitStd());
            log.printf(Locale.ROOT, "train-rm: base %s (%d layers, d %d, vocab %d, %,d parameters), tokenizer %s, %d pairs from %s%n",
                    dir, cfg.numLayers(), cfg.channels(), cfg.vocabSize(), cfg.numParameters(), tok.name(), pairs.size(), data);
            Map<String, Object> resolved = new LinkedHashMap<>();
            resolved.put("base", dir.toString());
            resolved.put("data", data.toString());
            resolved.put("tokenizer", tok.name());
            resolved.put("device", k.name());
            resolved.put("train_pairs", split.train().size());
            resolved.put("eval_pairs", split.eval().size());
            resolved.put("max_len", maxT);
            resolved.putAll(opt.toMap());
            Jsonl.writeAll(out.resolve("train_rm.json"), List.of(resolved));
            RewardModelTrainer trainer = new RewardModelTrainer(model, tok.eosId(), opt);
            RewardModelTrainer.Result result = trainer.train(split.train(), split.eval(), metrics::write, s -> {
                log.println(s);
                log.flush();
            });
            trainer.save(out.resolve("model"), tok.name());
            ModelFiles.copyTokenizerFiles(dir, out.resolve("model"));   // the reward model reads text with the base tokenizer
            RewardModelTrainer.Eval ev = result.finalEval();
            if (ev.pairs() > 0)
                log.printf(Locale.ROOT, "train-rm: held-out pair accuracy %.3f (loss %.4f) on %d pairs after %d steps%n",
                        ev.accuracy(), ev.loss(), ev.pairs(), result.steps());
            log.println("train-rm: wrote " + out.resolve("model") + " and " + out.resolve("metrics.jsonl"));
            log.flush();
        }
        return 0;
    }
}
