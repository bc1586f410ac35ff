package io.pref4j.io;

import io.pref4j.UserInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class SafeTensorsTest {

    @TempDir
    Path dir;

    // ---------------------------------------------------------------- helpers

    /** A safetensors file from a header string (space-padded to 8) and raw data bytes. */
    static byte[] file(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) & ~7;
        ByteBuffer b = ByteBuffer.allocate(8 + padded + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(padded);
        b.put(h);
        for (int i = h.length; i < padded; i++) b.put((byte) ' ');
        b.put(data);
        return b.array();
    }

    static byte[] f32le(float... fs) {
        ByteBuffer b = ByteBuffer.allocate(fs.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : fs) b.putFloat(f);
        return b.array();
    }

    static byte[] u16le(int... vs) {
        ByteBuffer b = ByteBuffer.allocate(vs.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : vs) b.putShort((short) v);
        return b.array();
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte[] p : parts) o.writeBytes(p);
        return o.toByteArray();
    }

    Path put(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    UserInputException invalid(String name, String header, byte[] data, String... fragments) throws IOException {
        Path p = put(name, file(header, data));
        UserInputException e = assertThrows(UserInputException.class, () -> SafeTensors.open(p).close());
        assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), e.getMessage());
        return e;
    }

    // ---------------------------------------------------------------- golden reading

    @Test
    void readsHandBuiltFile() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[8,12]},"
                + "\"c\":{\"dtype\":\"F16\",\"shape\":[2,4],\"data_offsets\":[12,28]},"
                + "\"__metadata__\":{\"format\":\"pt\"}}";
        byte[] data = concat(
                new byte[]{0, 0, (byte) 0x80, 0x3F, 0, 0, 0x20, (byte) 0xC0}, // 1.0f, -2.5f
                u16le(0x3FC0, 0xC080),                                         // 1.5, -4.0
                u16le(0x3C00, 0x0001, 0x03FF, 0x7BFF, 0x7C00, 0xFC00, 0x8000, 0x7E00));
        Path p = put("golden.safetensors", file(header, data));
        try (SafeTensors st = SafeTensors.open(p)) {
            assertEquals(List.of("a", "b", "c"), st.names());
            assertEquals(Map.of("format", "pt"), st.metadata());
            assertEquals(new TensorInfo("a", Dtype.F32, new long[]{2}, 0, 8), st.info("a"));
            assertEquals(new TensorInfo("b", Dtype.BF16, new long[]{1, 2}, 8, 12), st.info("b"));
            assertArrayEquals(new int[]{2, 4}, st.info("c").shapeInts());
            assertEquals(8, st.info("c").numel());
            assertArrayEquals(new float[]{1.0f, -2.5f}, st.floats("a"));
            assertArrayEquals(new float[]{1.5f, -4.0f}, st.floats("b"));
            float[] c = st.floats("c");
            assertEquals(1.0f, c[0]);
            assertEquals(0x1p-24f, c[1]);                 // smallest subnormal
            assertEquals(1023 * 0x1p-24f, c[2]);          // largest subnormal
            assertEquals(65504f, c[3]);                   // largest finite
            assertEquals(Float.POSITIVE_INFINITY, c[4]);
            assertEquals(Float.NEGATIVE_INFINITY, c[5]);
            assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(c[6]));
            assertTrue(Float.isNaN(c[7]));
            assertEquals(4, st.raw("b").byteSize());
            assertEquals((byte) 0xC0, st.raw("b").get(ValueLayout.JAVA_BYTE, 0)); // little-endian 0x3FC0
            assertEquals((byte) 0x3F, st.raw("b").get(ValueLayout.JAVA_BYTE, 1));
        }
    }

    @Test
    void readsUnpaddedHeaderAndUnalignedData() throws IOException {
        // Header of odd length (not padded) so the data section starts unaligned.
        String header = "{\"x\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).putFloat(3.25f);
        Path p = put("odd.safetensors", b.array());
        try (SafeTensors st = SafeTensors.open(p)) {
            assertEquals(0, st.info("x").rank());
            assertArrayEquals(new float[]{3.25f}, st.floats("x"));
            assertTrue(st.metadata().isEmpty());
        }
    }

    @Test
    void otherDtypesOpenButAreNotFloats() throws IOException {
        String header = "{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}";
        Path p = put("i64.safetensors", file(header, new byte[16]));
        try (SafeTensors st = SafeTensors.open(p)) {
            assertEquals(Dtype.I64, st.info("ids").dtype());
            UserInputException e = assertThrows(UserInputException.class, () -> st.floats("ids"));
            assertTrue(e.getMessage().contains("I64"), e.getMessage());
            assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
        }
    }

    // ---------------------------------------------------------------- writer

    @Test
    void writerGoldenBytes() throws IOException {
        Path p = dir.resolve("w.safetensors");
        SafeTensors.write(p, List.of(
                SafeTensors.Entry.bf16("z", new float[]{1.0f, -2.0f}, 2),
                SafeTensors.Entry.f32("a", new float[]{1.0f}, 1, 1)), Map.of("k", "v"));
        String json = "{\"__metadata__\":{\"k\":\"v\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[0,4]},"
                + "\"z\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]}}";
        byte[] expected = file(json, concat(f32le(1.0f), u16le(0x3F80, 0xC000)));
        assertArrayEquals(expected, Files.readAllBytes(p));
        long headerLen = ByteBuffer.wrap(expected).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertEquals(0, headerLen % 8);
    }

    @Test
    void roundTripF32AndBf16() throws IOException {
        Random r = new Random(7);
        float[] w = new float[6 * 5];
        for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
        float[] b = new float[7];
        for (int i = 0; i < b.length; i++) b[i] = (float) r.nextGaussian() * 100;
        Path p = dir.resolve("rt.safetensors");
        SafeTensors.write(p, List.of(
                SafeTensors.Entry.f32("h.0.w", w, 6, 5),
                SafeTensors.Entry.bf16("h.0.b", b, 7),
                SafeTensors.Entry.f32("scalar", new float[]{42f}),
                SafeTensors.Entry.f32("empty", new float[0], 0, 3)), Map.of("step", "12", "format", "pt"));
        try (SafeTensors st = SafeTensors.open(p)) {
            assertEquals(List.of("empty", "h.0.b", "h.0.w", "scalar"), st.names());
            assertEquals(Map.of("step", "12", "format", "pt"), st.metadata());
            assertArrayEquals(w, st.floats("h.0.w"));
            float[] bb = st.floats("h.0.b");
            for (int i = 0; i < b.length; i++) {
                assertEquals(SafeTensors.bf16ToFloat(SafeTensors.floatToBf16(b[i])), bb[i]);
                assertEquals(b[i], bb[i], Math.abs(b[i]) / 128);
            }
            assertArrayEquals(new float[]{42f}, st.floats("scalar"));
            assertEquals(0, st.floats("empty").length);
            assertArrayEquals(new long[]{0, 3}, st.info("empty").shape());
            // data is contiguous in name order
            long end = 0;
            for (TensorInfo t : st.tensors()) {
                assertEquals(end, t.begin());
                end = t.end();
            }
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(p), files.toList(), "no temporary files left behind");
        }
    }

    @Test
    void writeReplacesExistingFile() throws IOException {
        Path p = dir.resolve("x.safetensors");
        SafeTensors.write(p, List.of(SafeTensors.Entry.f32("a", new float[]{1, 2, 3}, 3)));
        SafeTensors.write(p, List.of(SafeTensors.Entry.f32("b", new float[]{4}, 1)));
        try (SafeTensors st = SafeTensors.open(p)) {
            assertEquals(List.of("b"), st.names());
            assertArrayEquals(new float[]{4}, st.floats("b"));
        }
    }

    @Test
    void writerRejectsDuplicatesAndBadEntries() {
        Path p = dir.resolve("d.safetensors");
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.write(p, List.of(
                SafeTensors.Entry.f32("a", new float[]{1}, 1), SafeTensors.Entry.f32("a", new float[]{2}, 1))));
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.Entry.f32("a", new float[]{1}, 2));
        assertThrows(IllegalArgumentException.class,
                () -> SafeTensors.Entry.of("a", Dtype.F16, new int[]{1}, new float[]{1}));
        assertFalse(Files.exists(p));
    }

    @Test
    void copyIntoSegmentAndArray() throws IOException {
        Path p = dir.resolve("c.safetensors");
        SafeTensors.write(p, List.of(SafeTensors.Entry.f32("a", new float[]{1, 2, 3}, 3),
                SafeTensors.Entry.bf16("b", new float[]{0.5f, -8f}, 2)));
        try (SafeTensors st = SafeTensors.open(p); Arena arena = Arena.ofConfined()) {
            MemorySegment flat = arena.allocate(5 * Float.BYTES, Float.BYTES);
            st.copyInto("a", flat);
            st.copyInto("b", flat.asSlice(3L * Float.BYTES));
            assertArrayEquals(new float[]{1, 2, 3, 0.5f, -8f}, flat.toArray(ValueLayout.JAVA_FLOAT));
            float[] arr = new float[6];
            st.copyInto("b", arr, 4);
            assertArrayEquals(new float[]{0, 0, 0, 0, 0.5f, -8f}, arr);
            assertThrows(IllegalArgumentException.class, () -> st.copyInto("a", flat.asSlice(0, 8)));
            assertThrows(IndexOutOfBoundsException.class, () -> st.copyInto("a", arr, 4));
        }
    }

    // ---------------------------------------------------------------- conversions

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals((short) 0x3F80, SafeTensors.floatToBf16(1.0f));
        assertEquals((short) 0x3F80, SafeTensors.floatToBf16(Float.intBitsToFloat(0x3F807FFF))); // below half
        assertEquals((short) 0x3F80, SafeTensors.floatToBf16(Float.intBitsToFloat(0x3F808000))); // tie → even
        assertEquals((short) 0x3F81, SafeTensors.floatToBf16(Float.intBitsToFloat(0x3F808001))); // above half
        assertEquals((short) 0x3F82, SafeTensors.floatToBf16(Float.intBitsToFloat(0x3F818000))); // tie → even (up)
        assertEquals((short) 0xBF82, SafeTensors.floatToBf16(Float.intBitsToFloat(0xBF818000))); // negative tie
        assertEquals((short) 0x7F80, SafeTensors.floatToBf16(Float.MAX_VALUE));                  // overflow → inf
        assertEquals((short) 0x7F80, SafeTensors.floatToBf16(Float.POSITIVE_INFINITY));
        assertEquals((short) 0xFF80, SafeTensors.floatToBf16(Float.NEGATIVE_INFINITY));
        assertEquals((short) 0x8000, SafeTensors.floatToBf16(-0.0f));
        assertEquals((short) 0x0000, SafeTensors.floatToBf16(Float.MIN_VALUE));
        assertEquals((short) 0x7FC0, SafeTensors.floatToBf16(Float.NaN));
        // a NaN whose payload lies only in the low bits must stay NaN
        assertTrue(Float.isNaN(SafeTensors.bf16ToFloat(SafeTensors.floatToBf16(Float.intBitsToFloat(0x7F800001)))));
        assertEquals(3.140625f, SafeTensors.bf16ToFloat(SafeTensors.floatToBf16(3.14159265f)));
    }

    @Test
    void f16KnownBits() {
        assertEquals(1.0f, SafeTensors.f16ToFloat((short) 0x3C00));
        assertEquals(-2.0f, SafeTensors.f16ToFloat((short) 0xC000));
        assertEquals(0x1p-24f, SafeTensors.f16ToFloat((short) 0x0001));
        assertEquals(0x1p-14f, SafeTensors.f16ToFloat((short) 0x0400));
        assertEquals(Float.POSITIVE_INFINITY, SafeTensors.f16ToFloat((short) 0x7C00));
        assertTrue(Float.isNaN(SafeTensors.f16ToFloat((short) 0x7C01)));
    }

    // ---------------------------------------------------------------- validation

    static final String A8 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    @Test
    void truncatedData() throws IOException {
        Path good = dir.resolve("good.safetensors");
        SafeTensors.write(good, List.of(SafeTensors.Entry.f32("a", new float[]{1, 2, 3, 4}, 4)));
        byte[] bytes = Files.readAllBytes(good);
        Path p = put("trunc.safetensors", Arrays.copyOf(bytes, bytes.length - 3));
        UserInputException e = assertThrows(UserInputException.class, () -> SafeTensors.open(p));
        assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void truncatedHeader() throws IOException {
        Path good = dir.resolve("good.safetensors");
        SafeTensors.write(good, List.of(SafeTensors.Entry.f32("a", new float[]{1, 2, 3, 4}, 4)));
        Path p = put("trunc.safetensors", Arrays.copyOf(Files.readAllBytes(good), 20));
        UserInputException e = assertThrows(UserInputException.class, () -> SafeTensors.open(p));
        assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("exceeds the file"),
                e.getMessage());
        Path tiny = put("tiny.safetensors", new byte[]{1, 2, 3});
        e = assertThrows(UserInputException.class, () -> SafeTensors.open(tiny));
        assertTrue(e.getMessage().contains(tiny.toString()) && e.getMessage().contains("too short"), e.getMessage());
    }

    @Test
    void absurdHeaderLength() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40);
        Path p = put("absurd.safetensors", b.array());
        UserInputException e = assertThrows(UserInputException.class, () -> SafeTensors.open(p));
        assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("absurd"), e.getMessage());
        b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-1L);
        Path q = put("neg.safetensors", b.array());
        e = assertThrows(UserInputException.class, () -> SafeTensors.open(q));
        assertTrue(e.getMessage().contains(q.toString()) && e.getMessage().contains("absurd"), e.getMessage());
    }

    @Test
    void badJsonHeader() throws IOException {
        invalid("badjson.safetensors", "{\"a\": {\"dtype\": ", new byte[0], "not valid JSON");
        invalid("trailing.safetensors", "{} {}", new byte[0], "not valid JSON");
        invalid("array.safetensors", "[1, 2]", new byte[0], "must be a JSON object");
    }

    @Test
    void unknownDtype() throws IOException {
        invalid("dtype.safetensors", "{\"a\":{\"dtype\":\"F7\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                new byte[8], "unknown dtype \"F7\"", "'a'");
    }

    @Test
    void lyingShape() throws IOException {
        invalid("shape.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
                new byte[12], "needs 12 bytes", "hold 8");
        invalid("shape2.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}",
                new byte[8], "non-negative integers");
        invalid("shape3.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],"
                + "\"data_offsets\":[0,8]}}", new byte[8], "too large");
    }

    @Test
    void offsetsOutsideData() throws IOException {
        invalid("outside.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
                new byte[8], "outside the data section");
    }

    @Test
    void negativeAndReversedOffsets() throws IOException {
        invalid("negoff.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-4,4]}}",
                new byte[8], "begin <= end");
        invalid("reversed.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}",
                new byte[8], "begin <= end");
        invalid("badoff.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}",
                new byte[8], "data_offsets");
    }

    @Test
    void overlappingTensors() throws IOException {
        invalid("overlap.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12], "overlap");
    }

    @Test
    void duplicateNames() throws IOException {
        invalid("dup.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", new byte[16], "duplicate", "'a'");
    }

    @Test
    void badMetadataAndEntries() throws IOException {
        invalid("meta.safetensors", "{\"__metadata__\":{\"n\":3}}", new byte[0], "__metadata__", "string");
        invalid("entry.safetensors", "{\"a\":5}", new byte[0], "'a'", "expected an object");
        invalid("nodtype.safetensors", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8], "dtype");
    }

    @Test
    void missingFileAndMissingTensor() throws IOException {
        Path nope = dir.resolve("nope.safetensors");
        UserInputException e = assertThrows(UserInputException.class, () -> SafeTensors.open(nope));
        assertTrue(e.getMessage().contains(nope.toString()), e.getMessage());
        Path p = put("a.safetensors", file(A8, new byte[8]));
        try (SafeTensors st = SafeTensors.open(p)) {
            e = assertThrows(UserInputException.class, () -> st.floats("wte.weight"));
            assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("wte.weight"), e.getMessage());
        }
    }

    @Test
    void headerLengthOneByteShortIsRefused() throws IOException {
        Path good = dir.resolve("good.safetensors");
        SafeTensors.write(good, List.of(SafeTensors.Entry.f32("a", new float[]{1, 2}, 2),
                SafeTensors.Entry.f32("b", new float[]{3, 4, 5}, 3)));
        byte[] bytes = Files.readAllBytes(good);
        ByteBuffer bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        bb.putLong(0, bb.getLong(0) - 1);
        Path p = put("short.safetensors", bytes);
        UserInputException e = assertThrows(UserInputException.class, () -> SafeTensors.open(p));
        String m = e.getMessage();
        assertTrue(m.contains(p.toString()) && m.contains("'b'") && m.contains("[8, 20]")
                && m.contains("21 bytes") && m.contains("header length"), m);
    }

    @Test
    void dataNotCoveredExactlyIsRefused() throws IOException {
        // gap between tensors
        invalid("gap.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", new byte[12],
                "'b'", "[8, 12]", "'a'", "ends at 4");
        // first tensor not at 0
        invalid("late.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8],
                "'a'", "[4, 8]", "start at 0");
        // trailing bytes
        invalid("trail.safetensors", A8, new byte[9], "'a'", "[0, 8]", "9 bytes");
        // no tensors but data
        invalid("nodata.safetensors", "{}", new byte[4], "no tensors", "4 bytes");
        // an empty tensor inside another one's bytes
        invalid("inside.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", new byte[8], "'e'", "overlap");
        // empty tensors at the boundaries are fine
        Path ok = put("empties.safetensors", file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]},"
                + "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", new byte[8]));
        try (SafeTensors st = SafeTensors.open(ok)) {
            assertEquals(3, st.size());
        }
        Path empty = put("empty.safetensors", file("{}", new byte[0]));
        try (SafeTensors st = SafeTensors.open(empty)) {
            assertEquals(0, st.size());
        }
    }

    @Test
    void finiteFloatsNamesTheFirstBadElement() throws IOException {
        Path p = dir.resolve("nan.safetensors");
        float[] w = new float[12];
        w[7] = Float.NaN;
        w[9] = Float.POSITIVE_INFINITY;
        SafeTensors.write(p, List.of(SafeTensors.Entry.f32("w", w, 3, 4),
                SafeTensors.Entry.bf16("inf", new float[]{1, Float.NEGATIVE_INFINITY}, 2),
                SafeTensors.Entry.f32("ok", new float[]{1, -2, Float.MAX_VALUE}, 3)));
        try (SafeTensors st = SafeTensors.open(p)) {
            assertTrue(Float.isNaN(st.floats("w")[7]), "plain floats() still reads what is there");
            UserInputException e = assertThrows(UserInputException.class, () -> st.finiteFloats("w"));
            String m = e.getMessage();
            assertTrue(m.contains(p.toString()) && m.contains("'w'") && m.contains("element 7")
                    && m.contains("[1, 3]") && m.contains("NaN"), m);
            e = assertThrows(UserInputException.class, () -> st.finiteFloats("inf"));
            assertTrue(e.getMessage().contains("'inf'") && e.getMessage().contains("element 1")
                    && e.getMessage().contains("-Infinity"), e.getMessage());
            assertArrayEquals(new float[]{1, -2, Float.MAX_VALUE}, st.finiteFloats("ok"));
        }
        float[] v = {0, 1, Float.NaN};
        UserInputException e = assertThrows(UserInputException.class,
                () -> SafeTensors.requireFinite("some/file.bin", "x", new long[]{3}, v));
        assertTrue(e.getMessage().startsWith("some/file.bin: ") && e.getMessage().contains("'x'")
                && e.getMessage().contains("element 2"), e.getMessage());
        SafeTensors.requireFinite("f", "y", new long[]{2}, new float[]{0, -0f});
    }
}
