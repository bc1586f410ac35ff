package io.pref4j.kernel.cuda;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The bindings against the header and the built library. Everywhere: every function declared
 * in native/include/pref4j.h has exactly one {@code P4J_<NAME>} handle in {@link Pref4jNative}
 * and no handle names a function the header lacks, and the header's constants match the Java
 * ones. Where the kernel library is present (built by the Maven cuda profile into the class
 * path, or given with -Dpref4j.cuda.lib): every function binds, the ABI matches, and each
 * handle's Java signature is the header's C signature (pointer → MemorySegment, int → int,
 * long long → long, float → float); loading and calling into it needs no GPU. Those parts are
 * skipped, with the reason, where the library is absent.
 */
class Pref4jNativeBindingTest {

    static Path header() {
        Path p = Path.of("..", "native", "include", "pref4j.h");
        return Files.isRegularFile(p) ? p : Path.of("native", "include", "pref4j.h");
    }

    /** The header without comments. */
    static String headerCode() throws IOException {
        String h = Files.readString(header());
        return h.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\\n]*", " ");
    }

    /** Every declared p4j_ function: its Java parameter and return types, in the header's order. */
    static Map<String, List<Class<?>>> declarations() throws IOException {
        Pattern decl = Pattern.compile("\\b(int|const\\s+char\\s*\\*)\\s*(p4j_\\w+)\\s*\\(([^)]*)\\)\\s*;");
        Matcher m = decl.matcher(headerCode());
        Map<String, List<Class<?>>> out = new LinkedHashMap<>();
        while (m.find()) {
            List<Class<?>> types = new ArrayList<>();
            types.add(javaType(m.group(1)));
            String params = m.group(3).trim();
            if (!params.equals("void") && !params.isEmpty()) {
                for (String p : params.split(",")) types.add(javaType(p.trim().replaceAll("\\s*\\w+$", "")));
            }
            List<Class<?>> prev = out.put(m.group(2), types);
            assertNull(prev, m.group(2) + " is declared twice in pref4j.h");
        }
        return out;
    }

    /** The Java carrier of a C type: any pointer is an address. */
    static Class<?> javaType(String c) {
        String t = c.replaceAll("\\s+", " ").trim();
        if (t.contains("*")) return MemorySegment.class;
        return switch (t) {
            case "int" -> int.class;
            case "long long" -> long.class;
            case "float" -> float.class;
            default -> throw new AssertionError("pref4j.h: no Java type for C type '" + t + "'");
        };
    }

    /** Pref4jNative's P4J_* method handle fields by C name. */
    static Map<String, Field> handles() {
        Map<String, Field> out = new LinkedHashMap<>();
        for (Field f : Pref4jNative.class.getDeclaredFields()) {
            if (f.getType() == MethodHandle.class && Modifier.isStatic(f.getModifiers()) && f.getName().startsWith("P4J_")) {
                out.put(f.getName().toLowerCase(Locale.ROOT), f);
            }
        }
        return out;
    }

    @Test
    void everyFunctionOfTheHeaderHasExactlyOneHandle() throws IOException {
        Map<String, List<Class<?>>> decl = declarations();
        assertTrue(decl.size() > 60 && decl.containsKey("p4j_gqa_attention_forward") && decl.containsKey("p4j_swiglu_backward"),
                "header parse found only " + decl.keySet());
        assertEquals(new TreeSet<>(decl.keySet()), new TreeSet<>(handles().keySet()),
                "pref4j.h's functions and Pref4jNative's P4J_* handles differ");
    }

    @Test
    void theHeadersConstantsAreTheJavaOnes() throws IOException {
        String h = headerCode();
        Map<String, Integer> want = Map.of(
                "P4J_ABI_VERSION", Pref4jNative.ABI_VERSION,
                "P4J_LOGPROB_STATS_FLOATS", Pref4jNative.LOGPROB_STATS_FLOATS,
                "P4J_SUM_SQUARES_OUT_DOUBLES", Pref4jNative.SUM_SQUARES_OUT_DOUBLES,
                "P4J_NORM_PARTIALS", Pref4jNative.NORM_PARTIALS,
                "P4J_E_INVALID_ARGUMENT", Pref4jNative.E_INVALID_ARGUMENT,
                "P4J_E_OUT_OF_RANGE", Pref4jNative.E_OUT_OF_RANGE,
                "P4J_E_GROUP_TOO_SMALL", Pref4jNative.E_GROUP_TOO_SMALL,
                "P4J_E_UNSUPPORTED", Pref4jNative.E_UNSUPPORTED);
        for (Map.Entry<String, Integer> e : want.entrySet()) {
            Matcher m = Pattern.compile("#define\\s+" + e.getKey() + "\\s+\\(?(-?\\d+)\\)?").matcher(h);
            assertTrue(m.find(), e.getKey() + " is not defined in pref4j.h");
            assertEquals(e.getValue().intValue(), Integer.parseInt(m.group(1)), e.getKey());
        }
    }

    @Test
    void everyHandleHasTheHeadersSignature() throws Exception {
        assumeTrue(Pref4jNative.loadedLibrary() != null, () -> "no kernel library here: " + Pref4jNative.loadError());
        Map<String, List<Class<?>>> decl = declarations();
        for (Map.Entry<String, Field> e : handles().entrySet()) {
            Field f = e.getValue();
            f.setAccessible(true);
            MethodHandle mh = (MethodHandle) f.get(null);
            assertNotNull(mh, e.getKey() + " did not bind");
            List<Class<?>> want = decl.get(e.getKey());
            assertNotNull(want, e.getKey() + " is not in pref4j.h");
            List<Class<?>> got = new ArrayList<>();
            got.add(mh.type().returnType());
            got.addAll(mh.type().parameterList());
            assertEquals(want, got, e.getKey() + ": (return, parameters) of the binding vs the header");
        }
    }

    @Test
    void everyFunctionOfTheHeaderBindsAndTheRuntimeGoesThroughTheWrappers() {
        assumeTrue(Pref4jNative.loadedLibrary() != null, () -> "no kernel library here: " + Pref4jNative.loadError());
        assertNull(Pref4jNative.loadError());
        assertEquals(Pref4jNative.ABI_VERSION, Pref4jNative.abiVersion());
        assertTrue(CudaRuntime.viaKernels());
        int[] dc = CudaRuntime.probeDeviceCount();
        // without a driver the static runtime answers 35; with one, success
        assertTrue(dc[0] == CudaRuntime.SUCCESS || dc[0] == CudaRuntime.ERROR_INSUFFICIENT_DRIVER
                || dc[0] == CudaRuntime.ERROR_NO_DEVICE, "p4j_device_count status " + dc[0]);
        assertEquals("P4J_E_OUT_OF_RANGE", Pref4jNative.statusName(-2));
        assertTrue(Pref4jNative.statusString(-2) != null && !Pref4jNative.statusString(-2).isBlank());
    }
}
