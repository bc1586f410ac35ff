package io.pref4j.train.run;

import io.pref4j.io.AtomicFiles;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;
import io.pref4j.config.Configs;
import io.pref4j.io.SafeTensors;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * pref4j's own checkpoints: one folder per checkpoint, {@code DIR/ckpt-000123/}, holding
 * <ul>
 *   <li>{@code model.safetensors}: the model weights;</li>
 *   <li>{@code optimizer.safetensors}: the optimiser state tensors (optional);</li>
 *   <li>{@code train_config.json}: the resolved run config (optional; loads with
 *       {@link Configs#load});</li>
 *   <li>any further files the caller writes (e.g. a Hugging Face {@code config.json}, which
 *       makes the folder a model folder too);</li>
 *   <li>{@code state.json}, written last: format, version, step, the size and CRC-32C of
 *       every other file, and the caller's JSON state (iteration, RNG states, data cursors).</li>
 * </ul>
 *
 * <p>Writing is atomic: everything goes into {@code DIR/ckpt-000123.tmp-NONCE/}, every file
 * is fsynced, the folder is renamed to {@code ckpt-000123} (the commit point), and then the
 * pointer file {@code DIR/latest} is replaced atomically with the folder's name. Only after
 * that are old checkpoints removed: all but the newest {@code keep}, and any with a larger
 * step than the new one (left over from a timeline that was abandoned by resuming from an
 * older checkpoint). A crash at any moment leaves the previous checkpoints intact; leftover
 * {@code *.tmp-*} folders are ignored by readers and removed by the next save.
 *
 * <p>{@link #latest} trusts folder names (a {@code ckpt-N} folder only ever appears
 * complete) and so survives a missing or stale pointer; the pointer is for people and
 * tools. Reading ({@link #open}) validates the state file and every file's size and
 * checksum, and throws a {@link UserInputException} naming the damaged file.
 */
public final class Checkpoints {

    public static final String POINTER = "latest";
    public static final String MODEL = "model.safetensors";
    public static final String OPTIMIZER = "optimizer.safetensors";
    public static final String CONFIG = "train_config.json";
    public static final String STATE = "state.json";
    public static final String FORMAT = "pref4j-checkpoint";
    public static final int VERSION = 1;

    private static final Pattern NAME = Pattern.compile("ckpt-(\\d{6,19})");
    private static final String TMP = ".tmp-";
    private static final AtomicLong NONCE = new AtomicLong(System.nanoTime());

    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();

    /** Produces tensors to write; called once, during the save. */
    @FunctionalInterface
    public interface Tensors {
        Collection<SafeTensors.Entry> get() throws IOException;
    }

    /** Writes extra files into the (temporary) checkpoint folder. */
    @FunctionalInterface
    public interface ExtraFiles {
        void write(Path folder) throws IOException;
    }

    /**
     * What to save.
     *
     * @param step      the checkpoint's number (the folder is {@code ckpt-%06d}); also in state.json
     * @param model     model weights (required)
     * @param optimizer optimiser state tensors, or null
     * @param state     the caller's JSON object (iteration, RNG states, data cursors, ...), or null
     * @param config    the resolved config as JSON, or null
     * @param extra     writer of extra files, or null
     */
    public record Save(long step, Tensors model, Tensors optimizer, ObjectNode state, JsonNode config,
                       ExtraFiles extra) {
        public Save {
            if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
            if (model == null) throw new IllegalArgumentException("model tensors are required");
        }

        /** A save with a config record (written through {@link Configs#toTree}) and no extra files. */
        public static Save of(long step, Tensors model, Tensors optimizer, ObjectNode state, Record config) {
            return new Save(step, model, optimizer, state, config == null ? null : Configs.toTree(config), null);
        }
    }

    private final Path dir;
    private final int keep;

    /**
     * @param dir  the folder holding the checkpoints (created on the first save)
     * @param keep how many of the newest checkpoints to keep (at least 1)
     */
    public Checkpoints(Path dir, int keep) {
        if (keep < 1) throw new IllegalArgumentException("keep must be >= 1, got " + keep);
        this.dir = dir;
        this.keep = keep;
    }

    public Path dir() {
        return dir;
    }

    /** The folder name of a step: {@code ckpt-000123}. */
    public static String name(long step) {
        return String.format("ckpt-%06d", step);
    }

    // ------------------------------------------------------------------ writing

    /**
     * Writes a checkpoint atomically (see the class comment) and returns it. If anything
     * fails (including the callbacks), the temporary folder is removed and the previous
     * checkpoints are untouched.
     *
     * @throws UncheckedIOException when the files cannot be written
     */
    public Checkpoint save(Save s) {
        String name = name(s.step());
        Path target = dir.resolve(name);
        Path tmp = dir.resolve(name + TMP + Long.toHexString(NONCE.incrementAndGet()));
        try {
            Files.createDirectories(dir);
            removeLeftovers();
            Files.createDirectory(tmp);
            SafeTensors.write(tmp.resolve(MODEL), s.model().get());
            if (s.optimizer() != null) SafeTensors.write(tmp.resolve(OPTIMIZER), s.optimizer().get());
            if (s.config() != null) {
                AtomicFiles.writeSynced(tmp.resolve(CONFIG), JSON.writeValueAsString(s.config()).concat("\n")
                        .getBytes(StandardCharsets.UTF_8));
            }
            if (s.extra() != null) s.extra().write(tmp);
            ObjectNode root = JSON.createObjectNode();
            root.put("format", FORMAT);
            root.put("version", VERSION);
            root.put("step", s.step());
            root.put("created", Instant.now().toString());
            ObjectNode files = root.putObject("files");
            for (Path f : sortedFiles(tmp)) {
                String fn = f.getFileName().toString();
                if (fn.equals(STATE)) continue;
                if (!Files.isRegularFile(f)) {
                    throw new IOException(f + ": checkpoints hold plain files only");
                }
                AtomicFiles.fsync(f);
                ObjectNode fi = files.putObject(fn);
                fi.put("bytes", Files.size(f));
                fi.put("crc32c", AtomicFiles.crc32c(f));
            }
            root.set("state", s.state() == null ? JSON.createObjectNode() : s.state().deepCopy());
            AtomicFiles.writeSynced(tmp.resolve(STATE), JSON.writeValueAsBytes(root));
            AtomicFiles.fsyncDir(tmp);
            // Commit: rename into place (moving an existing folder of the same step aside first).
            Path old = null;
            if (Files.exists(target)) {
                old = dir.resolve(name + TMP + "old-" + Long.toHexString(NONCE.incrementAndGet()));
                AtomicFiles.move(target, old);
            }
            AtomicFiles.move(tmp, target);
            tmp = null;
            AtomicFiles.fsyncDir(dir);
            AtomicFiles.replace(dir.resolve(POINTER), (name + "\n").getBytes(StandardCharsets.UTF_8));
            if (old != null) AtomicFiles.deleteTree(old);
            prune(s.step());
            return new Checkpoint(target, s.step(), (ObjectNode) root.get("state"), s.config());
        } catch (IOException e) {
            throw new UncheckedIOException(target + ": cannot write checkpoint: " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    AtomicFiles.deleteTree(tmp);
                } catch (IOException ignored) {
                    // a leftover tmp folder is ignored by readers and removed by the next save
                }
            }
        }
    }

    private static List<Path> sortedFiles(Path folder) throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(folder)) {
            for (Path p : ds) out.add(p);
        }
        out.sort(Comparator.comparing(p -> p.getFileName().toString()));
        return out;
    }

    private void removeLeftovers() throws IOException {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "ckpt-*" + TMP + "*")) {
            for (Path p : ds) AtomicFiles.deleteTree(p);
        }
    }

    /** Removes checkpoints newer than {@code step} and all but the newest {@code keep}. */
    private void prune(long step) throws IOException {
        TreeMap<Long, Path> all = scan(dir);
        List<Path> doomed = new ArrayList<>(all.tailMap(step, false).values());
        List<Path> older = new ArrayList<>(all.headMap(step, true).values());
        for (int i = 0; i < older.size() - keep; i++) doomed.add(older.get(i));
        for (Path p : doomed) {
            // Rename first, so the folder vanishes from scans atomically, then delete.
            Path gone = dir.resolve(p.getFileName() + TMP + "del-" + Long.toHexString(NONCE.incrementAndGet()));
            AtomicFiles.move(p, gone);
            AtomicFiles.deleteTree(gone);
        }
    }

    // ------------------------------------------------------------------ reading

    /** Complete checkpoint folders by step (tmp leftovers and other names ignored). */
    static TreeMap<Long, Path> scan(Path dir) throws IOException {
        TreeMap<Long, Path> out = new TreeMap<>();
        if (!Files.isDirectory(dir)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                Matcher m = NAME.matcher(p.getFileName().toString());
                if (m.matches() && Files.isDirectory(p)) {
                    try {
                        out.put(Long.parseLong(m.group(1)), p);
                    } catch (NumberFormatException ignored) {
                        // more digits than a long: not ours
                    }
                }
            }
        }
        return out;
    }

    /** The complete checkpoint folders in {@code dir}, oldest first. */
    public static List<Path> list(Path dir) {
        try {
            return List.copyOf(scan(dir).values());
        } catch (IOException e) {
            throw new UserInputException(dir + ": cannot list checkpoints: " + e.getMessage(), e);
        }
    }

    /** The folder the pointer file names, or empty when it is missing or garbled. */
    public static Optional<Path> pointer(Path dir) {
        try {
            String s = Files.readString(dir.resolve(POINTER), StandardCharsets.UTF_8).strip();
            if (NAME.matcher(s).matches() && Files.isDirectory(dir.resolve(s))) return Optional.of(dir.resolve(s));
        } catch (IOException ignored) {
            // missing or unreadable: scan instead
        }
        return Optional.empty();
    }

    /**
     * The newest complete checkpoint in {@code dir}, validated; empty when there is none.
     *
     * @throws UserInputException when the newest checkpoint is damaged (naming the file and
     *                            saying which older one could be used instead)
     */
    public static Optional<Checkpoint> latest(Path dir) {
        TreeMap<Long, Path> all;
        try {
            all = scan(dir);
        } catch (IOException e) {
            throw new UserInputException(dir + ": cannot list checkpoints: " + e.getMessage(), e);
        }
        if (all.isEmpty()) return Optional.empty();
        Path newest = all.lastEntry().getValue();
        try {
            return Optional.of(open(newest));
        } catch (UserInputException e) {
            Map.Entry<Long, Path> prev = all.lowerEntry(all.lastKey());
            throw new UserInputException(e.getMessage() + (prev == null ? "" : "; remove " + newest
                    + " to resume from " + prev.getValue().getFileName()), e);
        }
    }

    /** Reads and validates one checkpoint folder, verifying sizes and checksums. */
    public static Checkpoint open(Path folder) {
        return open(folder, true);
    }

    /**
     * Reads and validates one checkpoint folder.
     *
     * @param verifyChecksums also recompute every file's CRC-32C (reads every byte)
     * @throws UserInputException naming the file on any damage
     */
    public static Checkpoint open(Path folder, boolean verifyChecksums) {
        if (!Files.isDirectory(folder)) {
            throw new UserInputException(folder + ": no such checkpoint folder");
        }
        Path statePath = folder.resolve(STATE);
        JsonNode root;
        try {
            root = JSON.readTree(Files.readAllBytes(statePath));
        } catch (NoSuchFileException e) {
            throw new UserInputException(statePath + ": missing; the checkpoint is incomplete", e);
        } catch (JsonProcessingException e) {
            throw new UserInputException(statePath + ": malformed JSON (" + firstLine(e.getOriginalMessage())
                    + "); the checkpoint is damaged", e);
        } catch (IOException e) {
            throw new UserInputException(statePath + ": cannot read: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject() || !FORMAT.equals(root.path("format").asText(null))) {
            throw new UserInputException(statePath + ": not a pref4j checkpoint state (expected \"format\": \""
                    + FORMAT + "\")");
        }
        JsonNode version = root.get("version");
        if (version == null || !version.isInt() || version.intValue() < 1 || version.intValue() > VERSION) {
            throw new UserInputException(statePath + ": unsupported checkpoint version " + version
                    + " (this pref4j reads version " + VERSION + ")");
        }
        JsonNode stepNode = root.get("step");
        if (stepNode == null || !stepNode.isIntegralNumber() || !stepNode.canConvertToLong() || stepNode.longValue() < 0) {
            throw new UserInputException(statePath + ": \"step\" must be a non-negative integer, got " + stepNode);
        }
        long step = stepNode.longValue();
        Matcher m = NAME.matcher(folder.getFileName().toString());
        if (m.matches() && Long.parseLong(m.group(1)) != step) {
            throw new UserInputException(statePath + ": step " + step + " does not match the folder name "
                    + folder.getFileName());
        }
        JsonNode files = root.get("files");
        if (files == null || !files.isObject() || !files.has(MODEL)) {
            throw new UserInputException(statePath + ": \"files\" must list " + MODEL);
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = files.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            checkFile(folder, statePath, e.getKey(), e.getValue(), verifyChecksums);
        }
        JsonNode state = root.get("state");
        if (state == null || !state.isObject()) {
            throw new UserInputException(statePath + ": \"state\" must be a JSON object");
        }
        JsonNode config = null;
        if (files.has(CONFIG)) {
            Path cp = folder.resolve(CONFIG);
            try {
                config = JSON.readTree(Files.readAllBytes(cp));
            } catch (IOException e) {
                throw new UserInputException(cp + ": cannot read the resolved config: " + firstLine(e.getMessage()), e);
            }
        }
        return new Checkpoint(folder, step, (ObjectNode) state, config);
    }

    private static void checkFile(Path folder, Path statePath, String name, JsonNode info, boolean crc) {
        if (name.contains("/") || name.contains("\\") || name.equals("..") || name.equals(".")) {
            throw new UserInputException(statePath + ": bad file name \"" + name + "\"");
        }
        Path f = folder.resolve(name);
        if (!info.isObject() || !info.path("bytes").canConvertToLong() || !info.path("crc32c").isTextual()) {
            throw new UserInputException(statePath + ": entry for " + name + " must hold \"bytes\" and \"crc32c\"");
        }
        long expected = info.get("bytes").longValue();
        try {
            long size = Files.size(f);
            if (size != expected) {
                throw new UserInputException(f + ": " + size + " bytes, expected " + expected
                        + "; the file is truncated or was changed");
            }
            if (crc && !AtomicFiles.crc32c(f).equals(info.get("crc32c").textValue())) {
                throw new UserInputException(f + ": checksum mismatch (CRC-32C " + AtomicFiles.crc32c(f)
                        + ", expected " + info.get("crc32c").textValue() + "); the file is damaged");
            }
        } catch (NoSuchFileException e) {
            throw new UserInputException(f + ": missing; the checkpoint is incomplete", e);
        } catch (IOException e) {
            throw new UserInputException(f + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static String firstLine(String s) {
        if (s == null) return "unknown error";
        int i = s.indexOf('\n');
        return i < 0 ? s : s.substring(0, i);
    }
}
