package io.pref4j.cli;

import io.pref4j.io.ModelFiles;
import io.pref4j.model.CausalLm;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.train.TrainingData;
import io.pref4j.UserInputException;
import io.pref4j.io.Jsonl;
import io.pref4j.io.JsonlLine;
import io.pref4j.kernel.Backends;
import io.pref4j.kernel.CounterRng;
import io.pref4j.kernel.Kernels;
import io.pref4j.model.ModelConfig;
import io.pref4j.sample.Generator;
import io.pref4j.text.Tokenizer;
import io.pref4j.train.Engine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

/**
 * {@code pref4j sample}: N responses per prompt from a model, one JSONL line per (prompt,
 * sample) with the input line's fields plus {@code response}, {@code response_ids},
 * {@code logp}, {@code finished} and {@code sample}. The same seed (and {@code --batch})
 * gives identical output.
 */
@Command(name = "sample", mixinStandardHelpOptions = true,
        description = {"Sample responses from a model for each prompt of a JSONL file ({\"prompt\"} or {\"prompt_ids\"} lines).",
                "Each output line echoes the input line's fields plus \"response\" (decoded, without the end-of-text),",
                "\"response_ids\", \"logp\" (sum of the sampled tokens' log-probs, the end-of-text included when sampled),",
                "\"finished\" (ended with end-of-text) and \"sample\" (0 .. n-1). The same --seed and --batch give the same output."})
public final class SampleCommand implements Callable<Integer> {

    @Mixin
    SamplingOptions sampling = new SamplingOptions();

    @Option(names = "--out", paramLabel = "FILE.jsonl", description = "Where the samples go (default: stdout).")
    Path out;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        Prepared p = sampling.prepare("sample");
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter stdout = spec.commandLine().getOut();
        int[] count = {0};
        try (Kernels k = Backends.open(sampling.device, sampling.threads, s -> err.println("sample: " + s));
             Jsonl.Writer w = out == null ? null : Jsonl.writer(out)) {
            sampling.generate(k, p, rows -> {
                for (Row r : rows) {
                    ObjectNode node = r.toNode();
                    if (w != null) w.write(node);
                    else stdout.println(Jsonl.toLine(node));
                    count[0]++;
                }
                stdout.flush();
            });
        }
        if (out != null) err.println("sample: wrote " + count[0] + " samples to " + out);
        err.flush();
        return 0;
    }

    /** A prompt file read and checked against a model: everything sampling needs but the backend. */
    record Prepared(Path modelDir, ModelConfig config, Tokenizer tokenizer, List<JsonlLine> lines, List<Engine.Prompt> prompts) {}

    /**
     * One sample: the input line it answers, the prompt, its index among the prompt's
     * samples, the response (ids and text without the end-of-text), the summed log-prob of
     * the sampled tokens and whether it ended with end-of-text.
     */
    record Row(JsonlLine line, Engine.Prompt prompt, int sample, int[] responseIds, String response, double logp, boolean finished) {

        /** The input line's fields plus the sample's. */
        ObjectNode toNode() {
            ObjectNode node = line.node().deepCopy();
            node.put("response", response);
            ArrayNode ids = node.putArray("response_ids");
            for (int id : responseIds) ids.add(id);
            node.put("logp", logp);
            node.put("finished", finished);
            node.put("sample", sample);
            return node;
        }
    }

    /** The options {@code sample} and {@code eval} share: the model, the prompts and how to sample. */
    static final class SamplingOptions {

        @Option(names = "--model", paramLabel = "DIR",
                description = "Required. A Hugging Face model folder (gpt2, llama, mistral, qwen2, qwen3; config.json + safetensors, sharded or not) or a pref4j run folder (its final/ model, else its newest checkpoint).")
        Path model;

        @Option(names = "--prompts", paramLabel = "FILE.jsonl", description = "Required. One {\"prompt\": text} or {\"prompt_ids\": [ids]} object per line.")
        Path prompts;

        @Option(names = {"-n", "--n"}, paramLabel = "N", defaultValue = "1", description = "Responses per prompt (default: ${DEFAULT-VALUE}).")
        int n;

        @Option(names = "--max-new-tokens", defaultValue = "64", description = "Most tokens per response, end-of-text included (default: ${DEFAULT-VALUE}).")
        int maxNewTokens;

        @Option(names = "--temperature", defaultValue = "1.0", description = "Softmax temperature; 0 = greedy (default: ${DEFAULT-VALUE}).")
        double temperature;

        @Option(names = "--top-k", defaultValue = "0", description = "Sample among the k most likely tokens; 0 = all (default: ${DEFAULT-VALUE}).")
        int topK;

        @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus sampling mass in (0, 1]; 1 = off (default: ${DEFAULT-VALUE}).")
        double topP;

        @Option(names = "--seed", defaultValue = "1", description = "Random seed; the same seed and --batch give the same samples (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--batch", defaultValue = "16", description = "Sequences generated together (default: ${DEFAULT-VALUE}).")
        int batch;

        @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
        String device;

        @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0 = all cores).")
        int threads;

        @Option(names = "--tokenizer", defaultValue = "auto",
                description = "byte, gpt2 or auto (from the model: config.json's pref4j_tokenizer, or vocab 50257 = gpt2, 258 = byte).")
        String tokenizer;

        /**
         * Checks the options, reads the model's config and tokenizer and the prompts.
         * Throws {@link UserInputException} naming the option, or file:line for a bad prompt.
         */
        Prepared prepare(String command) {
            // checked here rather than by picocli, so that a misspelt option is reported as such
            if (model == null) throw new UserInputException(command + ": --model DIR is required");
            if (prompts == null) throw new UserInputException(command + ": --prompts FILE.jsonl is required");
            if (n < 1) throw new UserInputException("--n must be >= 1, got " + n);
            if (maxNewTokens < 1) throw new UserInputException("--max-new-tokens must be >= 1, got " + maxNewTokens);
            if (!(temperature >= 0) || !Double.isFinite(temperature))
                throw new UserInputException("--temperature must be a number >= 0 (0 = greedy), got " + temperature);
            if (topK < 0) throw new UserInputException("--top-k must be >= 0 (0 = off), got " + topK);
            if (!(topP > 0 && topP <= 1)) throw new UserInputException("--top-p must be in (0, 1], got " + topP);
            if (batch < 1) throw new UserInputException("--batch must be >= 1, got " + batch);
            if (threads < 0) throw new UserInputException("--threads must be >= 0 (0 = all cores), got " + threads);
            Path dir = ModelFiles.resolveModelDir(model);
            ModelConfig cfg = ModelFiles.readConfig(dir);
            Tokenizer tok = ModelFiles.tokenizerFor(dir, cfg, tokenizer);
            if (!Files.isRegularFile(prompts)) throw new UserInputException(prompts + ": no such file (--prompts)");
            List<Engine.Prompt> ps = TrainingData.prompts(prompts, tok, "prompt");
            List<JsonlLine> lines = Jsonl.readLines(prompts);
            if (lines.size() != ps.size()) throw new IllegalStateException(prompts + " changed while being read");
            int limit = cfg.maxSeqLen() - 1;
            for (int i = 0; i < ps.size(); i++) {
                int len = promptIds(ps.get(i), tok).length;
                if (len > limit)
                    throw new UserInputException(lines.get(i).where() + ": the prompt is " + len + " tokens; the model's "
                            + cfg.maxSeqLen() + " positions leave room for at most " + limit + " (one is needed to generate)");
            }
            return new Prepared(dir, cfg, tok, lines, ps);
        }

        /**
         * Loads the model on {@code k} and generates {@code n} responses per prompt, in
         * batches of at most {@code --batch} rows (prompt-major, then sample index), handing
         * each batch's rows to {@code sink} in order. Batch b uses the seed
         * {@code CounterRng.rowSeed(seed, first row of b)}; the Generator derives a seed per row.
         */
        void generate(Kernels k, Prepared p, Consumer<List<Row>> sink) {
            Tokenizer tok = p.tokenizer();
            int rows = p.prompts().size() * n;
            int longest = 1;
            for (Engine.Prompt pr : p.prompts()) longest = Math.max(longest, promptIds(pr, tok).length);
            int maxT = (int) Math.min(p.config().maxSeqLen(), (long) longest + maxNewTokens);
            int maxB = Math.min(batch, rows);
            CausalLm gpt = ModelFiles.load(k, p.modelDir(), maxB, maxT);
            Generator gen = new Generator(gpt);
            for (int start = 0; start < rows; start += maxB) {
                int end = Math.min(rows, start + maxB);
                int[][] ids = new int[end - start][];
                int longestHere = 1;
                for (int r = start; r < end; r++) {
                    ids[r - start] = promptIds(p.prompts().get(r / n), tok);
                    longestHere = Math.max(longestHere, ids[r - start].length);
                }
                Generator.Options o = new Generator.Options(Math.max(1, Math.min(maxNewTokens, gpt.maxT() - longestHere)),
                        (float) temperature, topK, (float) topP, tok.eosId(), CounterRng.rowSeed(seed, start), tok.eosIds().stream().mapToInt(Integer::intValue).sorted().toArray());
                Generator.Sample[] got = gen.generate(ids, o);
                List<Row> out = new ArrayList<>(got.length);
                for (int i = 0; i < got.length; i++) {
                    int r = start + i;
                    Generator.Sample g = got[i];
                    int[] resp = g.endedWithEos() ? Arrays.copyOf(g.tokens(), g.tokens().length - 1) : g.tokens();
                    double lp = 0;
                    for (float x : g.logps()) lp += x;
                    out.add(new Row(p.lines().get(r / n), p.prompts().get(r / n), r % n, resp, tok.decode(resp), lp, g.endedWithEos()));
                }
                sink.accept(out);
            }
        }

        /** The tokens fed to the model: the prompt's ids, or end-of-text (GPT-2's start token) for an empty prompt. */
        static int[] promptIds(Engine.Prompt p, Tokenizer tok) {
            return p.ids().length == 0 ? new int[]{tok.eosId()} : p.ids();
        }
    }
}
