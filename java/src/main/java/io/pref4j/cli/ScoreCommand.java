package io.pref4j.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import io.pref4j.io.HfCheckpoint;
import io.pref4j.io.Jsonl;
import io.pref4j.io.JsonlLine;
import io.pref4j.io.TokenizedExample;
import io.pref4j.io.TokenizedPair;
import io.pref4j.kernel.Backends;
import io.pref4j.kernel.Kernels;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;
import io.pref4j.text.Tokenizer;
import io.pref4j.text.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code pref4j score}: the summed log-probability of each response given its prompt, one
 * JSONL line out per line in (the input's fields plus {@code logp}, or
 * {@code chosen_logp} and {@code rejected_logp} for preference pairs).
 */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = {"Score responses: log p(response | prompt) summed over the response tokens.",
                "Input lines are {\"prompt\",\"completion\"} or {\"prompt\",\"chosen\",\"rejected\"} (or the *_ids forms);",
                "output (stdout) echoes each line with \"logp\" or \"chosen_logp\" and \"rejected_logp\" added."})
public final class ScoreCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "DIR",
            description = "Required. A Hugging Face GPT-2 folder (config.json + model.safetensors) or a pref4j run folder holding one under model/.")
    Path model;

    @Option(names = "--data", paramLabel = "FILE.jsonl", description = "Required. The lines to score.")
    Path data;

    @Option(names = "--tokenizer", defaultValue = "auto",
            description = "byte, gpt2 or auto (from the model: vocab 50257 = gpt2, 258 = byte, or config.json's pref4j_tokenizer).")
    String tokenizer;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0 = all cores).")
    int threads;

    @Option(names = "--batch-tokens", defaultValue = "4096", description = "Tokens per forward pass (default: ${DEFAULT-VALUE}).")
    int batchTokens;

    @Spec
    CommandSpec spec;

    /** One sequence to score: prompt ids then response ids; out receives the sum. */
    private record Seq(int[] prompt, int[] response, int line, int slot) {}

    @Override
    public Integer call() {
        // checked here rather than by picocli, so that a misspelt option is reported as such
        if (model == null) throw new UserInputException("score: --model DIR is required");
        if (data == null) throw new UserInputException("score: --data FILE.jsonl is required");
        Path dir = HfCheckpoint.resolveModelDir(model);
        GptConfig cfg = HfCheckpoint.readConfig(dir);
        Tokenizer tok = chooseTokenizer(dir, cfg);
        if (tok.vocabSize() > cfg.vocabSize())
            throw new UserInputException(dir.resolve(HfCheckpoint.CONFIG) + ": vocab_size " + cfg.vocabSize()
                    + " is smaller than the " + tok.name() + " tokenizer's " + tok.vocabSize());
        if (!Files.isRegularFile(data)) throw new UserInputException(data + ": no such file");
        List<JsonlLine> lines = Jsonl.readLines(data);
        List<Seq> seqs = new ArrayList<>();
        boolean[] pair = new boolean[lines.size()];
        int maxLen = 1;
        for (int i = 0; i < lines.size(); i++) {
            JsonlLine l = lines.get(i);
            Jsonl.Kind kind = Jsonl.kindOf(l);
            if (kind.isPair()) {
                TokenizedPair p = Jsonl.tokenizePair(l, tok);
                pair[i] = true;
                seqs.add(new Seq(p.promptIds(), p.chosenIds(), i, 0));
                seqs.add(new Seq(p.promptIds(), p.rejectedIds(), i, 1));
            } else if (kind.isSft()) {
                TokenizedExample e = Jsonl.tokenizeSft(l, tok);
                seqs.add(new Seq(e.promptIds(), e.completionIds(), i, 0));
            } else {
                throw new UserInputException(l.where() + ": nothing to score: expected \"completion\" (or \"chosen\" and \"rejected\") beside \"prompt\"");
            }
        }
        for (Seq s : seqs) {
            int n = Math.max(1, s.prompt().length) + s.response().length;
            if (n > cfg.maxSeqLen())
                throw new UserInputException(data + ":" + lines.get(s.line()).line() + ": prompt + response is " + n
                        + " tokens, longer than the model's " + cfg.maxSeqLen() + " positions");
            maxLen = Math.max(maxLen, n);
        }
        int maxB = Math.max(1, Math.min(64, Math.max(batchTokens, maxLen) / maxLen));
        double[][] scores = new double[lines.size()][2];
        PrintWriter err = spec.commandLine().getErr();
        try (Kernels k = Backends.open(device, threads, s -> err.println("score: " + s))) {
            Gpt gpt = HfCheckpoint.load(k, dir, maxB, maxLen);
            for (int start = 0; start < seqs.size(); start += maxB) {
                List<Seq> batch = seqs.subList(start, Math.min(seqs.size(), start + maxB));
                score(gpt, tok, batch, scores);
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        for (int i = 0; i < lines.size(); i++) {
            ObjectNode node = lines.get(i).node().deepCopy();
            if (pair[i]) {
                node.put("chosen_logp", scores[i][0]);
                node.put("rejected_logp", scores[i][1]);
            } else {
                node.put("logp", scores[i][0]);
            }
            out.println(Jsonl.toLine(node));
        }
        out.flush();
        return 0;
    }

    /** Runs one batch and adds each sequence's summed response log-prob into scores. */
    private static void score(Gpt gpt, Tokenizer tok, List<Seq> batch, double[][] scores) {
        int B = batch.size(), T = 1;
        for (Seq s : batch) T = Math.max(T, Math.max(1, s.prompt().length) + s.response().length);
        int[] toks = new int[B * T], lens = new int[B], targets = new int[B * T];
        java.util.Arrays.fill(targets, -1);
        for (int b = 0; b < B; b++) {
            Seq s = batch.get(b);
            // an empty prompt is replaced by end-of-text, GPT-2's conventional start token
            int[] prompt = s.prompt().length == 0 ? new int[]{tok.eosId()} : s.prompt();
            System.arraycopy(prompt, 0, toks, b * T, prompt.length);
            System.arraycopy(s.response(), 0, toks, b * T + prompt.length, s.response().length);
            lens[b] = prompt.length + s.response().length;
            for (int t = prompt.length - 1; t < lens[b] - 1; t++) targets[b * T + t] = toks[b * T + t + 1];
        }
        gpt.forward(toks, lens, targets, B, T);
        float[] lp = gpt.tokenLogp();
        for (int b = 0; b < B; b++) {
            double sum = 0;
            for (int t = 0; t < T; t++) if (targets[b * T + t] >= 0) sum += lp[b * T + t];
            scores[batch.get(b).line()][batch.get(b).slot()] = sum;
        }
    }

    private Tokenizer chooseTokenizer(Path dir, GptConfig cfg) {
        if (!tokenizer.equalsIgnoreCase("auto")) return Tokenizers.byName(tokenizer);
        String named = HfCheckpoint.tokenizerName(dir);
        if (named != null) return Tokenizers.byName(named);
        if (cfg.vocabSize() == 50257) return Tokenizers.byName("gpt2");
        if (cfg.vocabSize() == 258) return Tokenizers.byName("byte");
        throw new UserInputException(dir.resolve(HfCheckpoint.CONFIG) + ": cannot tell the tokenizer from vocab_size "
                + cfg.vocabSize() + "; pass --tokenizer byte or gpt2");
    }
}
