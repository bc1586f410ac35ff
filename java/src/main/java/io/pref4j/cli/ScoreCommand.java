package io.pref4j.cli;

import io.pref4j.io.HfCheckpoint;
import io.pref4j.io.ModelFiles;
import io.pref4j.model.CausalLm;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import io.pref4j.io.Jsonl;
import io.pref4j.io.JsonlLine;
import io.pref4j.io.TokenizedExample;
import io.pref4j.io.TokenizedPair;
import io.pref4j.kernel.Backends;
import io.pref4j.kernel.Kernels;
import io.pref4j.model.ModelConfig;
import io.pref4j.text.Tokenizer;
import io.pref4j.text.Tokenizers;
import io.pref4j.train.Sequences;
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
            description = "Required. A Hugging Face model folder (gpt2, llama, mistral, qwen2, qwen3; config.json + safetensors, sharded or not) or a pref4j run folder (its final/ model, else its newest checkpoint).")
    Path model;

    @Option(names = "--data", paramLabel = "FILE.jsonl", description = "Required. The lines to score.")
    Path data;

    @Option(names = "--tokenizer", defaultValue = "auto",
            description = {"byte, gpt2 or auto (from the model: vocab 50257 = gpt2, 258 = byte, or config.json's pref4j_tokenizer).",
                    "Only text lines need one: *_ids lines are checked against the model's vocab_size."})
    String tokenizer;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0 = all cores).")
    int threads;

    @Option(names = "--batch-tokens", defaultValue = "4096", description = "Tokens per forward pass (default: ${DEFAULT-VALUE}).")
    int batchTokens;

    @Spec
    CommandSpec spec;

    /** Where a sequence's score goes: line index and slot (0 = logp or chosen, 1 = rejected). */
    private record Slot(int line, int slot) {}

    @Override
    public Integer call() {
        // checked here rather than by picocli, so that a misspelt option is reported as such
        if (model == null) throw new UserInputException("score: --model DIR is required");
        if (data == null) throw new UserInputException("score: --data FILE.jsonl is required");
        Path dir = ModelFiles.resolveModelDir(model);
        ModelConfig cfg = ModelFiles.readConfig(dir);
        // an unknown --tokenizer name is an error even when no line needs a tokenizer
        if (tokenizer != null && !tokenizer.equalsIgnoreCase("auto")) Tokenizers.byName(tokenizer);
        // resolved only when a line has text (or an empty prompt needs its end-of-text id):
        // pre-tokenized lines are checked against the model's vocabulary, not a tokenizer's
        LazyTokenizer tok = new LazyTokenizer(dir, cfg, tokenizer);
        if (!Files.isRegularFile(data)) throw new UserInputException(data + ": no such file");
        List<JsonlLine> lines = Jsonl.readLines(data);
        List<Sequences.Seq> seqs = new ArrayList<>();
        List<Slot> slots = new ArrayList<>();
        boolean[] pair = new boolean[lines.size()];
        int maxLen = 1;
        JsonlLine emptyPrompt = null;
        for (int i = 0; i < lines.size(); i++) {
            JsonlLine l = lines.get(i);
            Jsonl.Kind kind = Jsonl.kindOf(l);
            Tokenizer t = kind.isIds() ? null : tok.get();
            int[] prompt;
            if (kind.isPair()) {
                TokenizedPair p = Jsonl.tokenizePair(l, t);
                if (kind.isIds()) {
                    checkIds(l, "prompt_ids", p.promptIds(), cfg);
                    checkIds(l, "chosen_ids", p.chosenIds(), cfg);
                    checkIds(l, "rejected_ids", p.rejectedIds(), cfg);
                }
                pair[i] = true;
                prompt = p.promptIds();
                seqs.add(new Sequences.Seq(p.promptIds(), p.chosenIds()));
                slots.add(new Slot(i, 0));
                seqs.add(new Sequences.Seq(p.promptIds(), p.rejectedIds()));
                slots.add(new Slot(i, 1));
            } else if (kind.isSft()) {
                TokenizedExample e = Jsonl.tokenizeSft(l, t);
                if (kind.isIds()) {
                    checkIds(l, "prompt_ids", e.promptIds(), cfg);
                    checkIds(l, "completion_ids", e.completionIds(), cfg);
                }
                prompt = e.promptIds();
                seqs.add(new Sequences.Seq(e.promptIds(), e.completionIds()));
                slots.add(new Slot(i, 0));
            } else {
                throw new UserInputException(l.where() + ": nothing to score: expected \"completion\" (or \"chosen\" and \"rejected\") beside \"prompt\"");
            }
            if (prompt.length == 0 && emptyPrompt == null) emptyPrompt = l;
        }
        int eosId = emptyPrompt == null ? 0 : eosFor(emptyPrompt, tok, dir, cfg);
        for (int i = 0; i < seqs.size(); i++) {
            int n = seqs.get(i).length();
            if (n > cfg.maxSeqLen())
                throw new UserInputException(lines.get(slots.get(i).line()).where() + ": prompt + response is " + n
                        + " tokens, longer than the model's " + cfg.maxSeqLen() + " positions");
            maxLen = Math.max(maxLen, n);
        }
        int maxB = Math.max(1, Math.min(64, Math.max(batchTokens, maxLen) / maxLen));
        double[][] scores = new double[lines.size()][2];
        PrintWriter err = spec.commandLine().getErr();
        try (Kernels k = Backends.open(device, threads, s -> err.println("score: " + s))) {
            CausalLm gpt = ModelFiles.load(k, dir, maxB, maxLen);
            double[] lp = Sequences.logp(gpt, seqs, eosId);
            for (int i = 0; i < lp.length; i++) scores[slots.get(i).line()][slots.get(i).slot()] = lp[i];
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

    /** Token ids of a pre-tokenized line must be ids of the model's vocabulary. */
    static void checkIds(JsonlLine l, String field, int[] ids, ModelConfig cfg) {
        for (int j = 0; j < ids.length; j++) {
            if (ids[j] < 0 || ids[j] >= cfg.vocabSize())
                throw new UserInputException(l.where() + ": \"" + field + "\" element " + j + ": token id " + ids[j]
                        + " is out of range for the model (vocab_size " + cfg.vocabSize() + ", ids 0.."
                        + (cfg.vocabSize() - 1) + ")");
        }
    }

    /**
     * The id an empty prompt starts from: the tokenizer's end-of-text when one is resolved
     * or can be, else config.json's {@code eos_token_id}.
     */
    private static int eosFor(JsonlLine l, LazyTokenizer tok, Path dir, ModelConfig cfg) {
        if (tok.resolved()) return tok.get().eosId();
        Integer eos = HfCheckpoint.eosTokenId(dir, cfg);
        if (eos != null) return eos;
        try {
            return tok.get().eosId();
        } catch (UserInputException e) {
            throw new UserInputException(l.where() + ": the prompt is empty, so scoring starts from an end-of-text id, "
                    + "but " + dir.resolve(HfCheckpoint.CONFIG) + " has no \"eos_token_id\" and no tokenizer is known ("
                    + e.getMessage() + ")", e);
        }
    }

    /** The tokenizer for the model, resolved on first use. */
    private static final class LazyTokenizer {
        private final Path dir;
        private final ModelConfig cfg;
        private final String choice;
        private Tokenizer tok;

        LazyTokenizer(Path dir, ModelConfig cfg, String choice) {
            this.dir = dir;
            this.cfg = cfg;
            this.choice = choice;
        }

        Tokenizer get() {
            if (tok == null) tok = ModelFiles.tokenizerFor(dir, cfg, choice);
            return tok;
        }

        boolean resolved() {
            return tok != null;
        }
    }
}
