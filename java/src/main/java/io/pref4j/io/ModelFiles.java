package io.pref4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pref4j.UserInputException;
import io.pref4j.kernel.Kernels;
import io.pref4j.model.CausalLm;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;
import io.pref4j.model.Llama;
import io.pref4j.model.LlamaConfig;
import io.pref4j.model.ModelConfig;
import io.pref4j.text.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Model folders of every family, in Hugging Face layout: one entry point that reads
 * config.json's {@code model_type} and hands the folder to the family's reader/writer
 * ({@link HfCheckpoint} for gpt2, {@link LlamaCheckpoint} for llama, mistral, qwen2 and
 * qwen3). Commands, the trainer and the experiments load and save
 * models only through here.
 */
public final class ModelFiles {
    private ModelFiles() {}

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The model types pref4j reads, for messages. */
    public static final String SUPPORTED = "gpt2, llama, mistral, qwen2, qwen3";

    private static boolean isLlama(String type) {
        return LlamaConfig.MODEL_TYPES.contains(type);
    }

    /** config.json's model_type (gpt2 when absent, as in old GPT-2 folders). */
    public static String modelType(Path dir) {
        Path f = dir.resolve(HfCheckpoint.CONFIG);
        JsonNode n = readConfigJson(f);
        JsonNode t = n.get("model_type");
        if (t == null) return "gpt2";
        if (!t.isTextual()) throw new UserInputException(f + ": field \"model_type\" must be a string, got " + t);
        return t.asText();
    }

    /** A model folder's config.json as a JSON object, with one-line errors for a missing file, bad JSON or a non-object. */
    static com.fasterxml.jackson.databind.node.ObjectNode readConfigJson(Path f) {
        if (!Files.isRegularFile(f)) throw new UserInputException(f + ": no such file (expected a Hugging Face model folder with config.json)");
        JsonNode n;
        try {
            n = JSON.readTree(f.toFile());
        } catch (IOException e) {
            String m = e.getMessage() == null ? "" : e.getMessage();
            int i = m.indexOf('\n');
            throw new UserInputException(f + ": not valid JSON: " + (i < 0 ? m : m.substring(0, i)));
        }
        if (n == null || !n.isObject()) throw new UserInputException(f + ": expected a JSON object");
        return (com.fasterxml.jackson.databind.node.ObjectNode) n;
    }

    private static UserInputException unsupported(Path dir, String type) {
        return new UserInputException(dir.resolve(HfCheckpoint.CONFIG) + ": model_type '" + type
                + "' is not supported (supported: " + SUPPORTED + ")");
    }

    /** Reads and validates config.json of a model folder. */
    public static ModelConfig readConfig(Path dir) {
        String type = modelType(dir);
        if (type.equals("gpt2")) return HfCheckpoint.readConfig(dir);
        if (isLlama(type)) return LlamaCheckpoint.readConfig(dir);
        throw unsupported(dir, type);
    }

    /**
     * Loads a model folder into a new model on the given backend, sized for batches of
     * maxBatch sequences of up to maxT tokens (capped at the model's maximum positions).
     */
    public static CausalLm load(Kernels k, Path dir, int maxBatch, int maxT) {
        String type = modelType(dir);
        if (type.equals("gpt2")) return HfCheckpoint.load(k, dir, maxBatch, maxT);
        if (isLlama(type)) return LlamaCheckpoint.load(k, dir, maxBatch, maxT);
        throw unsupported(dir, type);
    }

    /** A new model of this config with zero weights (no head). */
    public static CausalLm create(Kernels k, ModelConfig cfg, int maxBatch, int maxT) {
        if (cfg instanceof GptConfig g) return new Gpt(k, g, maxBatch, Math.min(maxT, g.maxSeqLen()));
        if (cfg instanceof LlamaConfig l) return new Llama(k, l, maxBatch, Math.min(maxT, l.maxSeqLen()));
        throw new IllegalArgumentException("no model family for " + cfg.modelType());
    }

    /** Whether the folder's weights carry pref4j's scalar head. */
    public static boolean hasHead(Path dir) {
        String type = modelType(dir);
        if (type.equals("gpt2")) return HfCheckpoint.hasHead(dir);
        if (isLlama(type)) return LlamaCheckpoint.hasHead(dir);
        throw unsupported(dir, type);
    }

    /** Writes the model as a Hugging Face folder of its family (atomically per file), recording the tokenizer when given. */
    public static void save(CausalLm model, Path dir, String tokenizerName) throws IOException {
        save(model, dir, tokenizerName, null);
    }

    /**
     * {@link #save(CausalLm, Path, String)} keeping harmless config.json keys of the folder the
     * model came from ({@code source}, may be null): the token ids of {@link LlamaCheckpoint#PASS_THROUGH}
     * (GPT-2 folders are written from the model alone).
     */
    public static void save(CausalLm model, Path dir, String tokenizerName, Path source) throws IOException {
        if (model instanceof Gpt g) {
            HfCheckpoint.save(g, dir, tokenizerName);
            return;
        }
        if (model instanceof Llama l) {
            LlamaCheckpoint.save(l, dir, tokenizerName, source == null ? null : LlamaCheckpoint.passThroughKeys(source));
            return;
        }
        throw new IllegalArgumentException("no writer for " + model.config().modelType());
    }

    /** Writes config.json for a model of this config (atomically), recording the tokenizer when given. */
    public static void writeConfig(ModelConfig cfg, Path dir, String tokenizerName) throws IOException {
        if (cfg instanceof GptConfig g) {
            HfCheckpoint.writeConfig(g, dir, tokenizerName);
            return;
        }
        if (cfg instanceof LlamaConfig l) {
            LlamaCheckpoint.writeConfig(l, dir, tokenizerName);
            return;
        }
        throw new IllegalArgumentException("no config writer for " + cfg.modelType());
    }

    /** Where a training run writes its final model (a Hugging Face folder of the policy's family). */
    public static final String FINAL = "final";

    /**
     * The model folder a path names: a Hugging Face folder itself; for a pref4j run folder
     * (whose config.json is the training config) its {@code final/} model, else its newest
     * checkpoint ({@code checkpoints/ckpt-N}, each a model folder too); or {@code dir/model}.
     */
    public static Path resolveModelDir(Path dir) {
        if (!Files.isDirectory(dir)) throw new UserInputException(dir + ": no such folder");
        if (Files.isRegularFile(dir.resolve(FINAL).resolve(HfCheckpoint.CONFIG))) return dir.resolve(FINAL);
        if (Files.isRegularFile(dir.resolve(HfCheckpoint.CONFIG)) && !isTrainingConfig(dir.resolve(HfCheckpoint.CONFIG))) return dir;
        Path ckpts = dir.resolve("checkpoints");
        if (Files.isDirectory(ckpts)) {
            Path best = null;
            long bestStep = -1;
            try (var list = Files.list(ckpts)) {
                for (Path c : (Iterable<Path>) list::iterator) {
                    java.util.regex.Matcher m = CKPT.matcher(c.getFileName().toString());
                    if (m.matches() && Files.isRegularFile(c.resolve(HfCheckpoint.CONFIG))) {
                        long step = Long.parseLong(m.group(1));
                        if (step > bestStep) {
                            bestStep = step;
                            best = c;
                        }
                    }
                }
            } catch (IOException e) {
                throw new UserInputException(ckpts + ": cannot list: " + e.getMessage());
            }
            if (best != null) return best;
        }
        if (Files.isRegularFile(dir.resolve("model").resolve(HfCheckpoint.CONFIG))) return dir.resolve("model");
        throw new UserInputException(dir + ": no model here (expected a Hugging Face model folder with config.json, "
                + "or a pref4j run folder with final/ or checkpoints/)");
    }

    private static final java.util.regex.Pattern CKPT = java.util.regex.Pattern.compile("ckpt-(\\d{1,19})");

    /** A pref4j run's resolved training config (sections such as "loss" and "loop") rather than a model's. */
    private static boolean isTrainingConfig(Path f) {
        try {
            JsonNode n = JSON.readTree(f.toFile());
            return n != null && n.isObject() && n.has("loss") && n.has("loop") && !n.has("model_type");
        } catch (IOException e) {
            return false;
        }
    }

    /** The Hugging Face tokenizer and generation files a model folder may carry beside its weights. */
    public static final java.util.List<String> TOKENIZER_FILES = java.util.List.of("tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "generation_config.json", "vocab.json", "merges.txt", "tokenizer.model");

    /** Copies the {@link #TOKENIZER_FILES} that {@code from} has into {@code to} (so an exported folder is self-contained). */
    public static void copyTokenizerFiles(Path from, Path to) throws IOException {
        for (String name : TOKENIZER_FILES) {
            Path f = from.resolve(name);
            if (Files.isRegularFile(f)) Files.copy(f, to.resolve(name), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** The tokenizer for a model folder ({@code choice} "auto": the one the folder names or implies). */
    public static Tokenizer tokenizerFor(Path dir, ModelConfig cfg, String choice) {
        return io.pref4j.text.Tokenizers.forModelFolder(dir, cfg.vocabSize(), choice);
    }
}
