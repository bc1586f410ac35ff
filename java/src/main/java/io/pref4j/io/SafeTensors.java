package io.pref4j.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Reader and writer of the safetensors format (Hugging Face): an 8-byte little-endian
 * header length {@code N}, {@code N} bytes of UTF-8 JSON mapping each tensor name to
 * {@code {"dtype", "shape", "data_offsets": [begin, end]}} (offsets relative to the data
 * section that follows the header) plus an optional {@code "__metadata__"} string map,
 * then the raw little-endian tensor bytes.
 *
 * <p>Reading memory-maps the file and validates the whole header up front; every problem
 * (truncated file, absurd header length, bad JSON, unknown dtype, a shape that disagrees
 * with the byte length, offsets outside the data section, overlapping tensors, bytes
 * between or after tensors, duplicate names) is a {@link UserInputException} naming the
 * file. As in the reference implementation, the tensors must cover the data section
 * exactly: sorted by offset, contiguous from 0 to the end of the file; so a header length
 * that is off by a byte is refused rather than read as shifted weights.
 * {@link #finiteFloats(String)} / {@link #requireFinite} refuse NaN and infinite weights.
 * <pre>{@code
 * try (SafeTensors st = SafeTensors.open(path)) {
 *     float[] w = st.floats("wte.weight");
 *     TensorInfo info = st.info("wte.weight");
 *     st.copyInto("wpe.weight", segment);
 * }
 * }</pre>
 *
 * <p>Writing ({@link #write(Path, Collection, Map)}) stores F32 or BF16 tensors sorted by
 * name, pads the header with spaces to a multiple of 8 bytes, and replaces the target
 * atomically (temporary file in the same folder, fsync, atomic rename).
 *
 * <p>Instances are safe for concurrent reads from several threads; {@link #close()} unmaps
 * the file, after which segments returned by {@link #raw(String)} are no longer usable.
 */
public final class SafeTensors implements AutoCloseable {

    /** Largest header accepted (the reference implementation's limit). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    /** Key of the optional string map in the header. */
    public static final String METADATA_KEY = "__metadata__";

    private static final ValueLayout.OfFloat F32_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32_NATIVE = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafeTensors(Path path, Arena arena, MemorySegment data,
                        Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    // ------------------------------------------------------------------ reading

    /**
     * Maps and validates a safetensors file.
     *
     * @throws UserInputException if the file is missing, unreadable or not a valid
     *                            safetensors file; the message names the file
     */
    public static SafeTensors open(Path path) {
        Objects.requireNonNull(path, "path");
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw bad(path, "file is " + size + " bytes, too short for a safetensors header"
                        + " (expected at least 8)");
            }
            MemorySegment file = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long n = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (n < 0 || n > MAX_HEADER_BYTES) {
                throw bad(path, "header length " + Long.toUnsignedString(n)
                        + " is absurd (expected at most " + MAX_HEADER_BYTES + " bytes)");
            }
            if (n > size - 8) {
                throw bad(path, "header length " + n + " exceeds the file (" + size
                        + " bytes); the file is truncated or not safetensors");
            }
            byte[] header = file.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
            MemorySegment dataSection = file.asSlice(8 + n);
            Map<String, String> meta = new LinkedHashMap<>();
            Map<String, TensorInfo> infos = parseHeader(path, header, dataSection.byteSize(), meta);
            return new SafeTensors(path, arena, dataSection, infos, Collections.unmodifiableMap(meta));
        } catch (NoSuchFileException e) {
            arena.close();
            throw new UserInputException(path + ": no such file", e);
        } catch (IOException e) {
            arena.close();
            throw new UserInputException(path + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static UserInputException bad(Path path, String what) {
        return new UserInputException(path + ": invalid safetensors file: " + what);
    }

    private static Map<String, TensorInfo> parseHeader(Path path, byte[] header, long dataLen,
                                                       Map<String, String> meta) {
        JsonNode root;
        try {
            root = JSON.readTree(header);
        } catch (JsonProcessingException e) {
            String msg = e.getOriginalMessage();
            if (msg != null && msg.startsWith("Duplicate field")) {
                throw bad(path, "duplicate name in header: " + msg.substring("Duplicate field ".length()));
            }
            throw bad(path, "header is not valid JSON: " + firstLine(msg));
        } catch (IOException e) {
            throw bad(path, "header is not valid JSON: " + firstLine(e.getMessage()));
        }
        if (root == null || !root.isObject()) {
            throw bad(path, "header must be a JSON object, got "
                    + (root == null ? "nothing" : root.getNodeType().toString().toLowerCase()));
        }
        List<TensorInfo> list = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals(METADATA_KEY)) {
                if (!v.isObject()) {
                    throw bad(path, METADATA_KEY + " must be an object of strings");
                }
                for (Iterator<Map.Entry<String, JsonNode>> m = v.fields(); m.hasNext(); ) {
                    Map.Entry<String, JsonNode> kv = m.next();
                    if (!kv.getValue().isTextual()) {
                        throw bad(path, METADATA_KEY + "[\"" + kv.getKey() + "\"] must be a string, got "
                                + kv.getValue().getNodeType().toString().toLowerCase());
                    }
                    meta.put(kv.getKey(), kv.getValue().textValue());
                }
                continue;
            }
            list.add(parseTensor(path, name, v, dataLen));
        }
        // The tensors must tile the data section exactly, as the reference implementation
        // requires: sorted by offset, the first at 0, each starting where the previous one
        // ends, the last ending at the end of the file. A header length that is off, or a
        // header that lies about offsets, shows up here instead of as garbage weights.
        List<TensorInfo> byOffset = new ArrayList<>(list);
        byOffset.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end)
                .thenComparing(TensorInfo::name));
        TensorInfo prev = null;
        long at = 0;
        for (TensorInfo t : byOffset) {
            if (t.begin() < at) {
                throw bad(path, "tensors '" + prev.name() + "' [" + prev.begin() + ", " + prev.end()
                        + ") and '" + t.name() + "' [" + t.begin() + ", " + t.end() + ") overlap");
            }
            if (t.begin() > at) {
                throw bad(path, prev == null
                        ? "tensor '" + t.name() + "' data_offsets " + offsets(t) + " must start at 0: the first "
                            + bytes(t.begin()) + " of the data section belong to no tensor"
                        : "tensor '" + t.name() + "' data_offsets " + offsets(t) + " leave a gap of "
                            + bytes(t.begin() - at) + ": the previous tensor '" + prev.name() + "' ends at " + at);
            }
            if (t.byteLength() > 0 || prev == null) prev = t;
            at = t.end();
        }
        if (at != dataLen) {
            throw bad(path, prev == null
                    ? "the header lists no tensors but the data section holds " + dataLen + " bytes"
                    : "the data section holds " + dataLen + " bytes but the last tensor '" + prev.name()
                        + "' data_offsets " + offsets(prev) + " ends at " + at + ", leaving " + bytes(dataLen - at)
                        + " that belong to no tensor (is the header length right?)");
        }
        Map<String, TensorInfo> out = new LinkedHashMap<>();
        for (TensorInfo t : byOffset) out.put(t.name(), t);
        return Collections.unmodifiableMap(out);
    }

    private static TensorInfo parseTensor(Path path, String name, JsonNode v, long dataLen) {
        String where = "tensor '" + name + "'";
        if (!v.isObject()) {
            throw bad(path, where + ": expected an object with \"dtype\", \"shape\", \"data_offsets\"");
        }
        JsonNode dt = v.get("dtype");
        if (dt == null || !dt.isTextual()) {
            throw bad(path, where + ": \"dtype\" must be a string");
        }
        Dtype dtype = Dtype.parse(dt.textValue());
        if (dtype == null) {
            throw bad(path, where + ": unknown dtype \"" + dt.textValue() + "\" (known: " + Dtype.known() + ")");
        }
        JsonNode sh = v.get("shape");
        if (sh == null || !sh.isArray()) {
            throw bad(path, where + ": \"shape\" must be an array of non-negative integers");
        }
        long[] shape = new long[sh.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0) {
                throw bad(path, where + ": \"shape\" must be an array of non-negative integers, got " + sh);
            }
            shape[i] = d.longValue();
            try {
                numel = Math.multiplyExact(numel, shape[i]);
            } catch (ArithmeticException ex) {
                throw bad(path, where + ": shape " + sh + " is too large");
            }
        }
        JsonNode off = v.get("data_offsets");
        if (off == null || !off.isArray() || off.size() != 2
                || !off.get(0).isIntegralNumber() || !off.get(1).isIntegralNumber()
                || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong()) {
            throw bad(path, where + ": \"data_offsets\" must be [begin, end] integers, got " + off);
        }
        long begin = off.get(0).longValue();
        long end = off.get(1).longValue();
        if (begin < 0 || end < begin) {
            throw bad(path, where + ": data_offsets [" + begin + ", " + end
                    + "] must satisfy 0 <= begin <= end");
        }
        if (end > dataLen) {
            throw bad(path, where + ": data_offsets [" + begin + ", " + end
                    + "] lie outside the data section (" + dataLen + " bytes); the file is truncated or the header is wrong");
        }
        long expected;
        try {
            expected = Math.multiplyExact(numel, (long) dtype.bytes());
        } catch (ArithmeticException ex) {
            throw bad(path, where + ": shape " + sh + " is too large");
        }
        if (expected != end - begin) {
            throw bad(path, where + ": shape " + Arrays.toString(shape) + " of " + dtype + " needs "
                    + expected + " bytes but data_offsets [" + begin + ", " + end + "] hold " + (end - begin));
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static String bytes(long n) {
        return n == 1 ? "1 byte" : n + " bytes";
    }

    private static String offsets(TensorInfo t) {
        return "[" + t.begin() + ", " + t.end() + "]";
    }

    private static String firstLine(String s) {
        if (s == null) return "unknown error";
        int i = s.indexOf('\n');
        return i < 0 ? s : s.substring(0, i);
    }

    /** The file this was opened from. */
    public Path path() {
        return path;
    }

    /** Tensor names in the order of their data in the file. */
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }

    /** All tensors, in the order of their data in the file. */
    public Collection<TensorInfo> tensors() {
        return tensors.values();
    }

    /** Whether the file holds a tensor of this name. */
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** Number of tensors. */
    public int size() {
        return tensors.size();
    }

    /** The header's {@code __metadata__} map (empty when absent); unmodifiable. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * The tensor's header entry.
     *
     * @throws UserInputException if the file has no such tensor
     */
    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new UserInputException(path + ": no tensor named '" + name + "' (the file holds "
                    + tensors.size() + " tensors" + (tensors.isEmpty() ? "" : ", e.g. '"
                    + tensors.keySet().iterator().next() + "'") + ")");
        }
        return t;
    }

    /**
     * A read-only view of the tensor's raw little-endian bytes inside the mapping; valid
     * until {@link #close()}.
     */
    public MemorySegment raw(String name) {
        TensorInfo t = info(name);
        return data.asSlice(t.begin(), t.byteLength()).asReadOnly();
    }

    /**
     * The tensor converted to floats (F32, BF16 or F16).
     *
     * @throws UserInputException if there is no such tensor, its dtype cannot be converted,
     *                            or it has more elements than a Java array holds
     */
    public float[] floats(String name) {
        TensorInfo t = floatTensor(name);
        if (t.numel() > Integer.MAX_VALUE - 8) {
            throw new UserInputException(path + ": tensor '" + name + "' has " + t.numel()
                    + " elements, too many for a float[]; use copyInto with a MemorySegment");
        }
        float[] out = new float[(int) t.numel()];
        convert(t, MemorySegment.ofArray(out), t.numel());
        return out;
    }

    /**
     * Converts the tensor into {@code dst} as native-order floats, starting at byte 0 of
     * {@code dst}; {@code dst} must be a host segment of at least {@code numel * 4} bytes
     * (use {@link MemorySegment#asSlice} to place it inside a larger buffer).
     */
    public void copyInto(String name, MemorySegment dst) {
        TensorInfo t = floatTensor(name);
        long need = t.numel() * Float.BYTES;
        if (dst.byteSize() < need) {
            throw new IllegalArgumentException("destination holds " + dst.byteSize() + " bytes, tensor '"
                    + name + "' needs " + need);
        }
        convert(t, dst, t.numel());
    }

    /** Converts the tensor into {@code dst[offset .. offset + numel)}. */
    public void copyInto(String name, float[] dst, int offset) {
        TensorInfo t = floatTensor(name);
        Objects.checkFromIndexSize(offset, t.numel(), dst.length);
        convert(t, MemorySegment.ofArray(dst).asSlice((long) offset * Float.BYTES), t.numel());
    }

    private TensorInfo floatTensor(String name) {
        TensorInfo t = info(name);
        if (!t.dtype().isFloatReadable()) {
            throw new UserInputException(path + ": tensor '" + name + "' has dtype " + t.dtype()
                    + "; expected F32, BF16 or F16");
        }
        return t;
    }

    private void convert(TensorInfo t, MemorySegment dst, long n) {
        long base = t.begin();
        switch (t.dtype()) {
            case F32 -> MemorySegment.copy(data, F32_LE, base, dst, F32_NATIVE, 0, n);
            case BF16 -> {
                for (long i = 0; i < n; i++) {
                    dst.setAtIndex(F32_NATIVE, i, bf16ToFloat(data.get(I16_LE, base + 2 * i)));
                }
            }
            case F16 -> {
                for (long i = 0; i < n; i++) {
                    dst.setAtIndex(F32_NATIVE, i, Float.float16ToFloat(data.get(I16_LE, base + 2 * i)));
                }
            }
            default -> throw new IllegalStateException(t.dtype().toString());
        }
    }

    /**
     * The tensor converted to floats, like {@link #floats(String)}, refusing a tensor that
     * holds a NaN or an infinity. Model loaders use this (or {@link #requireFinite} on
     * floats they converted themselves) so a corrupt checkpoint is one clear error rather
     * than NaN scores.
     *
     * @throws UserInputException as {@link #floats(String)}, or naming the tensor and its
     *                            first non-finite element
     */
    public float[] finiteFloats(String name) {
        float[] v = floats(name);
        requireFinite(path, name, info(name).shape(), v);
        return v;
    }

    /**
     * Refuses values holding a NaN or an infinity: one {@link UserInputException}
     * {@code "<source>: tensor '<name>' element <i> ([<index>]) is NaN; ..."} at the first
     * such element (the index per dimension when {@code shape} is given and matches).
     * The one check every model loader should call on the weights it reads.
     *
     * @param source the file (or other source) to name first in the message
     * @param name   the tensor's name
     * @param shape  the tensor's shape (for the per-dimension index), or null
     */
    public static void requireFinite(Object source, String name, long[] shape, float[] values) {
        for (int i = 0; i < values.length; i++) {
            float f = values[i];
            if (Float.isFinite(f)) continue;
            String at = "element " + i;
            if (shape != null && shape.length > 1) {
                long n = 1;
                for (long d : shape) n *= d;
                if (n == values.length) {
                    long[] idx = new long[shape.length];
                    long rest = i;
                    for (int d = shape.length - 1; d >= 0; d--) {
                        idx[d] = shape[d] == 0 ? 0 : rest % shape[d];
                        rest = shape[d] == 0 ? 0 : rest / shape[d];
                    }
                    at += " (index " + Arrays.toString(idx) + ")";
                }
            }
            int bad = 0;
            for (int j = i; j < values.length; j++) if (!Float.isFinite(values[j])) bad++;
            throw new UserInputException(source + ": tensor '" + name + "' " + at + " is " + f
                    + (bad > 1 ? " (" + bad + " of its " + values.length + " values are NaN or infinite)" : "")
                    + "; the weights are corrupt");
        }
    }

    /** Unmaps the file. */
    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }

    // ------------------------------------------------------------------ conversions

    /** The float whose upper 16 bits are {@code bits} (bfloat16 → float, exact). */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /**
     * Rounds a float to bfloat16 bits, round-to-nearest-even; NaN stays a (quiet) NaN with
     * its sign, values beyond the bfloat16 range round to infinity.
     */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    /** IEEE half precision bits → float (exact, including subnormals, infinities, NaN). */
    public static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    // ------------------------------------------------------------------ writing

    /**
     * A tensor to write: name, stored dtype ({@link Dtype#F32} or {@link Dtype#BF16}),
     * shape, and its values as native-order floats in {@code data} (at least
     * {@code numel * 4} bytes, read from byte 0). The arrays and segment are not copied.
     *
     * @param name  tensor name (not {@value #METADATA_KEY})
     * @param dtype dtype to store
     * @param shape dimensions
     * @param data  source floats
     */
    public record Entry(String name, Dtype dtype, long[] shape, MemorySegment data) {
        public Entry {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(dtype, "dtype");
            Objects.requireNonNull(shape, "shape");
            Objects.requireNonNull(data, "data");
            if (dtype != Dtype.F32 && dtype != Dtype.BF16) {
                throw new IllegalArgumentException("tensor '" + name + "': can write F32 or BF16, not " + dtype);
            }
            if (name.equals(METADATA_KEY)) {
                throw new IllegalArgumentException("tensor name " + METADATA_KEY + " is reserved");
            }
            long n = 1;
            for (long d : shape) {
                if (d < 0) throw new IllegalArgumentException("tensor '" + name + "': negative dimension in "
                        + Arrays.toString(shape));
                n = Math.multiplyExact(n, d);
            }
            if (data.byteSize() < n * Float.BYTES) {
                throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape)
                        + " needs " + n + " floats, data holds " + data.byteSize() / Float.BYTES);
            }
        }

        /** An entry from a float array (length must be at least the shape's element count). */
        public static Entry of(String name, Dtype dtype, long[] shape, float[] data) {
            return new Entry(name, dtype, shape, MemorySegment.ofArray(data));
        }

        /** An entry from a float array with an int shape. */
        public static Entry of(String name, Dtype dtype, int[] shape, float[] data) {
            return of(name, dtype, Arrays.stream(shape).asLongStream().toArray(), data);
        }

        /** An F32 entry. */
        public static Entry f32(String name, float[] data, int... shape) {
            return of(name, Dtype.F32, shape, data);
        }

        /** A BF16 entry (values rounded to nearest even). */
        public static Entry bf16(String name, float[] data, int... shape) {
            return of(name, Dtype.BF16, shape, data);
        }

        /** Number of elements. */
        public long numel() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }
    }

    /** Writes tensors without metadata; see {@link #write(Path, Collection, Map)}. */
    public static void write(Path path, Collection<Entry> entries) {
        write(path, entries, Map.of());
    }

    /**
     * Writes a safetensors file atomically: the tensors sorted by name (data in the same
     * order), the header padded with spaces so the data section starts at a multiple of 8
     * bytes, into a temporary file in the target's folder that is fsynced and then moved
     * over {@code path}. A crash leaves either the old file or the new one, never a mix.
     *
     * @param metadata optional {@code __metadata__} entries (empty or null for none)
     * @throws IllegalArgumentException on duplicate names
     * @throws UncheckedIOException     if the file cannot be written
     */
    public static void write(Path path, Collection<Entry> entries, Map<String, String> metadata) {
        TreeMap<String, Entry> sorted = new TreeMap<>();
        for (Entry e : entries) {
            if (sorted.put(e.name(), e) != null) {
                throw new IllegalArgumentException("duplicate tensor name '" + e.name() + "'");
            }
        }
        byte[] header = header(sorted.values(), metadata);
        try {
            AtomicFiles.replace(path, ch -> {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
                len.putLong(0, header.length);
                AtomicFiles.writeFully(ch, len);
                AtomicFiles.writeFully(ch, ByteBuffer.wrap(header));
                byte[] chunk = new byte[1 << 20];
                MemorySegment chunkSeg = MemorySegment.ofArray(chunk);
                for (Entry e : sorted.values()) {
                    writeData(ch, e, chunk, chunkSeg);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": cannot write safetensors file: " + e.getMessage(), e);
        }
    }

    /** Header bytes (JSON, space-padded to a multiple of 8) for entries in write order. */
    private static byte[] header(Collection<Entry> sorted, Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = root.putObject(METADATA_KEY);
            for (Map.Entry<String, String> kv : new TreeMap<>(metadata).entrySet()) {
                m.put(kv.getKey(), Objects.requireNonNull(kv.getValue(), "metadata value"));
            }
        }
        long offset = 0;
        for (Entry e : sorted) {
            long bytes = e.numel() * e.dtype().bytes();
            ObjectNode t = root.putObject(e.name());
            t.put("dtype", e.dtype().name());
            var shape = t.putArray("shape");
            for (long d : e.shape()) shape.add(d);
            var offs = t.putArray("data_offsets");
            offs.add(offset);
            offs.add(offset + bytes);
            offset += bytes;
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        int padded = (json.length + 7) & ~7;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    private static void writeData(FileChannel ch, Entry e, byte[] chunk, MemorySegment chunkSeg)
            throws IOException {
        long n = e.numel();
        int bytesPer = e.dtype().bytes();
        int perChunk = chunk.length / bytesPer;
        for (long start = 0; start < n; start += perChunk) {
            int count = (int) Math.min(perChunk, n - start);
            if (e.dtype() == Dtype.F32) {
                MemorySegment.copy(e.data(), F32_NATIVE, start * Float.BYTES, chunkSeg, F32_LE, 0, count);
            } else {
                for (int i = 0; i < count; i++) {
                    float f = e.data().getAtIndex(F32_NATIVE, start + i);
                    chunkSeg.set(I16_LE, 2L * i, floatToBf16(f));
                }
            }
            AtomicFiles.writeFully(ch, ByteBuffer.wrap(chunk, 0, count * bytesPer));
        }
    }



    @Override
    public String toString() {
        return "SafeTensors[" + path + ", " + tensors.size() + " tensors]";
    }
}
