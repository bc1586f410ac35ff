package io.pref4j.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.pref4j.UserInputException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The weights of a Hugging Face model folder as one set of named tensors: either
 * {@code model.safetensors}, or the shards that {@code model.safetensors.index.json} lists
 * in its {@code weight_map} (tensor name → shard file name). Like transformers, a folder
 * holding both is read from {@code model.safetensors}.
 *
 * <p>Opening a sharded folder checks the index against the shards before anything is read:
 * every shard the index names must be a file in the folder (a plain name, no path), every
 * tensor the index lists must be in the shard it names, and every tensor in a shard must be
 * listed, for that shard, exactly once. Every problem is a {@link UserInputException}
 * naming the file.
 */
public final class ShardedSafeTensors implements AutoCloseable {

    public static final String SINGLE = "model.safetensors";
    public static final String INDEX = "model.safetensors.index.json";

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

    private final Path dir;
    private final List<SafeTensors> files;
    private final Map<String, SafeTensors> byName;

    private ShardedSafeTensors(Path dir, List<SafeTensors> files, Map<String, SafeTensors> byName) {
        this.dir = dir;
        this.files = files;
        this.byName = byName;
    }

    /** Whether the folder has weights in a form this reads. */
    public static boolean exists(Path dir) {
        return Files.isRegularFile(dir.resolve(SINGLE)) || Files.isRegularFile(dir.resolve(INDEX));
    }

    /** Opens the weights of a model folder (model.safetensors, else the sharded index). */
    public static ShardedSafeTensors open(Path dir) {
        Path single = dir.resolve(SINGLE);
        if (Files.isRegularFile(single)) {
            SafeTensors st = SafeTensors.open(single);
            Map<String, SafeTensors> m = new LinkedHashMap<>();
            for (String n : st.names()) m.put(n, st);
            return new ShardedSafeTensors(dir, List.of(st), Collections.unmodifiableMap(m));
        }
        Path index = dir.resolve(INDEX);
        if (!Files.isRegularFile(index)) {
            String hint = Files.isRegularFile(dir.resolve("pytorch_model.bin")) || Files.isRegularFile(dir.resolve("pytorch_model.bin.index.json"))
                    ? " (the folder has PyTorch .bin weights; pref4j reads safetensors only: convert them, e.g. with save_pretrained(safe_serialization=True))"
                    : "";
            throw new UserInputException(dir + ": no " + SINGLE + " or " + INDEX + hint);
        }
        return openIndex(dir, index);
    }

    private static ShardedSafeTensors openIndex(Path dir, Path index) {
        JsonNode root;
        try {
            root = JSON.readTree(index.toFile());
        } catch (JsonProcessingException e) {
            String m = e.getOriginalMessage();
            if (m != null && m.startsWith("Duplicate field"))
                throw new UserInputException(index + ": a tensor is listed twice in weight_map: " + m.substring("Duplicate field ".length()));
            throw new UserInputException(index + ": not valid JSON: " + firstLine(m));
        } catch (IOException e) {
            throw new UserInputException(index + ": cannot read: " + e.getMessage());
        }
        if (root == null || !root.isObject()) throw new UserInputException(index + ": expected a JSON object");
        JsonNode wm = root.get("weight_map");
        if (wm == null || !wm.isObject())
            throw new UserInputException(index + ": field \"weight_map\" must be an object (tensor name -> shard file), got "
                    + (wm == null ? "nothing" : wm.toString()));
        if (wm.isEmpty()) throw new UserInputException(index + ": weight_map is empty");
        Map<String, String> mapping = new LinkedHashMap<>();
        Map<String, SafeTensors> shards = new LinkedHashMap<>();
        List<SafeTensors> opened = new ArrayList<>();
        try {
            for (Iterator<Map.Entry<String, JsonNode>> it = wm.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode v = e.getValue();
                if (!v.isTextual())
                    throw new UserInputException(index + ": weight_map[\"" + e.getKey() + "\"] must be a shard file name, got " + v);
                String shard = v.textValue();
                if (shard.isEmpty() || shard.contains("/") || shard.contains("\\") || shard.equals(".") || shard.equals(".."))
                    throw new UserInputException(index + ": weight_map[\"" + e.getKey() + "\"] = \"" + shard
                            + "\" is not a file name in the folder");
                mapping.put(e.getKey(), shard);
                if (!shards.containsKey(shard)) {
                    Path f = dir.resolve(shard);
                    if (!Files.isRegularFile(f))
                        throw new UserInputException(index + ": shard " + shard + " (holding " + e.getKey() + ") does not exist in " + dir);
                    SafeTensors st = SafeTensors.open(f);
                    opened.add(st);
                    shards.put(shard, st);
                }
            }
            Map<String, SafeTensors> byName = new LinkedHashMap<>();
            for (Map.Entry<String, SafeTensors> s : shards.entrySet()) {
                for (String n : s.getValue().names()) {
                    String listed = mapping.get(n);
                    if (listed == null)
                        throw new UserInputException(dir.resolve(s.getKey()) + ": tensor " + n + " is not listed in " + INDEX);
                    if (!listed.equals(s.getKey()))
                        throw new UserInputException(dir.resolve(s.getKey()) + ": tensor " + n + " is also here, but " + INDEX
                                + " places it in " + listed);
                    byName.put(n, s.getValue());
                }
            }
            for (Map.Entry<String, String> m : mapping.entrySet()) {
                if (!byName.containsKey(m.getKey()))
                    throw new UserInputException(index + ": weight_map places " + m.getKey() + " in " + m.getValue()
                            + ", which does not hold it");
            }
            return new ShardedSafeTensors(dir, List.copyOf(opened), Collections.unmodifiableMap(byName));
        } catch (RuntimeException e) {
            for (SafeTensors st : opened) st.close();
            throw e;
        }
    }

    private static String firstLine(String s) {
        if (s == null) return "unknown error";
        int i = s.indexOf('\n');
        return i < 0 ? s : s.substring(0, i);
    }

    /** The model folder. */
    public Path dir() {
        return dir;
    }

    /** Number of files (1 for model.safetensors). */
    public int fileCount() {
        return files.size();
    }

    /** Every tensor name, shard by shard in file order. */
    public List<String> names() {
        return List.copyOf(byName.keySet());
    }

    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    /** The file that holds the tensor (for messages). */
    public Path fileOf(String name) {
        SafeTensors st = byName.get(name);
        return st == null ? dir : st.path();
    }

    /** The tensor's header entry. */
    public TensorInfo info(String name) {
        return shard(name).info(name);
    }

    /** The tensor converted to floats (F32, BF16 or F16). */
    public float[] floats(String name) {
        return shard(name).floats(name);
    }

    private SafeTensors shard(String name) {
        SafeTensors st = byName.get(name);
        if (st == null) throw new UserInputException(dir + ": no tensor named '" + name + "'");
        return st;
    }

    @Override
    public void close() {
        for (SafeTensors st : files) st.close();
    }
}
