package io.pref4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pref4j.UserInputException;
import io.pref4j.kernel.Kernels;
import io.pref4j.model.CausalLm;
import io.pref4j.model.Gpt;
import io.pref4j.model.GptConfig;
import io.pref4j.model.ModelConfig;
import io.pref4j.text.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Model folders of every family, in Hugging Face layout: one entry point that reads
 * config.json's {@code model_type} and hands the folder to the family's reader/writer
 * ({@link HfCheckpoint} for gpt2). Commands, the trainer and the experiments load and save
 * models only through here.
 */
public final class ModelFiles {
    private ModelFiles() {}

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The model types pref4j reads, for messages. */
    public static final String SUPPORTED = "gpt2";

    /** config.json's model_type (gpt2 when absent, as in old GPT-2 folders). */
    public static String modelType(Path dir) {
        Path f = dir.resolve(HfCheckpoint.CONFIG);
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
        JsonNode t = n.get("model_type");
        if (t == null) return "gpt2";
        if (!t.isTextual()) throw new UserInputException(f + ": field \"model_type\" must be a string, got " + t);
        return t.asText();
    }

    private static UserInputException unsupported(Path dir, String type) {
        return new UserInputException(dir.resolve(HfCheckpoint.CONFIG) + ": model_type '" + type
                + "' is not supported (supported: " + SUPPORTED + ")");
    }

    /** Reads and validates config.json of a model folder. */
    public static ModelConfig readConfig(Path dir) {
        String type = modelType(dir);
        if (type.equals("gpt2")) return HfCheckpoint.readConfig(dir);
        throw unsupported(dir, type);
    }

    /**
     * Loads a model folder into a new model on the given backend, sized for batches of
     * maxBatch sequences of up to maxT tokens (capped at the model's maximum positions).
     */
    public static CausalLm load(Kernels k, Path dir, int maxBatch, int maxT) {
        String type = modelType(dir);
        if (type.equals("gpt2")) return HfCheckpoint.load(k, dir, maxBatch, maxT);
        throw unsupported(dir, type);
    }

    /** A new model of this config with zero weights (no head). */
    public static CausalLm create(Kernels k, ModelConfig cfg, int maxBatch, int maxT) {
        if (cfg instanceof GptConfig g) return new Gpt(k, g, maxBatch, Math.min(maxT, g.maxSeqLen()));
        throw new IllegalArgumentException("no model family for " + cfg.modelType());
    }

    /** Whether the folder's weights carry pref4j's scalar head. */
    public static boolean hasHead(Path dir) {
        return HfCheckpoint.hasHead(dir);
    }

    /** Writes the model as a Hugging Face folder of its family (atomically per file), recording the tokenizer when given. */
    public static void save(CausalLm model, Path dir, String tokenizerName) throws IOException {
        if (model instanceof Gpt g) {
            HfCheckpoint.save(g, dir, tokenizerName);
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
        throw new IllegalArgumentException("no config writer for " + cfg.modelType());
    }

    /**
     * The folder holding config.json: {@code dir} itself, {@code dir/final} or
     * {@code dir/model} for a pref4j run folder.
     */
    public static Path resolveModelDir(Path dir) {
        return HfCheckpoint.resolveModelDir(dir);
    }

    /** The tokenizer for a model folder ({@code choice} "auto": the one the folder names or implies). */
    public static Tokenizer tokenizerFor(Path dir, ModelConfig cfg, String choice) {
        return HfCheckpoint.tokenizerFor(dir, cfg, choice);
    }
}
