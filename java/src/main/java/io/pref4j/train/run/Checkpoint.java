package io.pref4j.train.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import io.pref4j.config.Configs;
import io.pref4j.io.SafeTensors;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A complete, validated checkpoint folder (see {@link Checkpoints}).
 *
 * @param dir    the folder ({@code .../ckpt-000123})
 * @param step   its step
 * @param state  the caller's JSON state as saved
 * @param config the resolved config as saved, or null
 */
public record Checkpoint(Path dir, long step, ObjectNode state, JsonNode config) {

    public Path modelFile() {
        return dir.resolve(Checkpoints.MODEL);
    }

    public Path optimizerFile() {
        return dir.resolve(Checkpoints.OPTIMIZER);
    }

    public boolean hasOptimizer() {
        return Files.exists(optimizerFile());
    }

    /** Opens the model weights; the caller closes them. */
    public SafeTensors openModel() {
        return SafeTensors.open(modelFile());
    }

    /** Opens the optimiser state; the caller closes it. */
    public SafeTensors openOptimizer() {
        if (!hasOptimizer()) {
            throw new UserInputException(optimizerFile() + ": missing; the checkpoint has no optimiser state");
        }
        return SafeTensors.open(optimizerFile());
    }

    /** The saved config bound to {@code type} (validated; messages name the file). */
    public <R extends Record> R config(Class<R> type) {
        Path f = dir.resolve(Checkpoints.CONFIG);
        if (config == null) throw new UserInputException(f + ": missing; the checkpoint has no config");
        return Configs.fromTree(type, config, f.toString());
    }
}
