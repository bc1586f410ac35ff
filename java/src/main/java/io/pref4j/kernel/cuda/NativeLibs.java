package io.pref4j.kernel.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Finding and opening the native libraries of the CUDA backend, and binding their symbols.
 * The path rules are pure functions ({@link #candidates}) so that they can be tested on a
 * machine without CUDA; {@link #open} tries the candidates in order and, when none loads,
 * fails with a message that lists every path it tried.
 *
 * <p>Order for a library with soname S (e.g. {@code libcublas.so.13}):
 * <ol>
 *   <li>the user's path (a system property or an environment variable): a file if it
 *       names one ({@code *.so} or {@code *.so.N}), else a folder holding S (or
 *       {@code lib64/S});</li>
 *   <li>{@code $CUDA_HOME/lib64/S}, {@code $CUDA_HOME/targets/<arch>-linux/lib/S};</li>
 *   <li>{@code /usr/local/cuda/lib64/S} (when CUDA_HOME is elsewhere or unset);</li>
 *   <li>S itself, which the dynamic linker looks up on the system path
 *       ({@code LD_LIBRARY_PATH}, {@code ld.so.cache}).</li>
 * </ol>
 */
final class NativeLibs {
    private NativeLibs() {}

    static final Linker LINKER = Linker.nativeLinker();

    /** A library that loaded: its symbols and where it came from. */
    record Loaded(SymbolLookup lookup, String path) {}

    /** What a load attempt found: the library, or why not (with every path tried). */
    record Result(Loaded loaded, String error) {
        boolean ok() {
            return loaded != null;
        }
    }

    /** The platform folder of bundled libraries, e.g. linux-x86_64; null when unsupported. */
    static String platform() {
        return platform(System.getProperty("os.name", ""), System.getProperty("os.arch", ""));
    }

    static String platform(String osName, String osArch) {
        String os = osName.toLowerCase(Locale.ROOT);
        if (!os.startsWith("linux")) return null;
        String arch = switch (osArch.toLowerCase(Locale.ROOT)) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> null;
        };
        return arch == null ? null : "linux-" + arch;
    }

    /** A user setting: the system property if set, else the environment variable; null if neither. */
    static String setting(String property, String env) {
        String v = System.getProperty(property);
        if (v == null || v.isBlank()) v = System.getenv(env);
        return v == null || v.isBlank() ? null : v.trim();
    }

    /** True when the path names a file rather than a folder (ends in .so or .so.N...). */
    static boolean looksLikeFile(String path) {
        String name = Path.of(path).getFileName() == null ? path : Path.of(path).getFileName().toString();
        return name.endsWith(".so") || name.matches(".*\\.so(\\.[0-9]+)+");
    }

    /**
     * The paths to try, in order, for soname: see the class comment. userPath and cudaHome
     * may be null. The bare soname (the system path) comes last. arch is the CPU folder name
     * CUDA uses under targets/ (x86_64 or sbsa/aarch64).
     */
    static List<String> candidates(String userPath, String cudaHome, String soname, String arch) {
        LinkedHashSet<String> out = new LinkedHashSet<>();
        if (userPath != null && !userPath.isBlank()) {
            if (looksLikeFile(userPath)) {
                out.add(userPath);
            } else {
                out.add(Path.of(userPath, soname).toString());
                out.add(Path.of(userPath, "lib64", soname).toString());
            }
        }
        if (cudaHome != null && !cudaHome.isBlank()) {
            out.add(Path.of(cudaHome, "lib64", soname).toString());
            out.add(Path.of(cudaHome, "targets", arch + "-linux", "lib", soname).toString());
        }
        out.add(Path.of("/usr/local/cuda/lib64", soname).toString());
        out.add(soname);
        return new ArrayList<>(out);
    }

    /** {@link #candidates} with CUDA_HOME (or CUDA_PATH) from the environment. */
    static List<String> candidates(String userPath, String soname) {
        String cudaHome = System.getenv("CUDA_HOME");
        if (cudaHome == null || cudaHome.isBlank()) cudaHome = System.getenv("CUDA_PATH");
        String arch = "aarch64".equals(System.getProperty("os.arch")) ? "sbsa" : "x86_64";
        return candidates(userPath, cudaHome, soname, arch);
    }

    /**
     * Opens the first candidate that loads. Absolute paths are tried only when the file
     * exists; a bare name goes to the dynamic linker. The error names what and every path.
     */
    static Result open(String what, List<String> candidates) {
        List<String> tried = new ArrayList<>();
        for (String c : candidates) {
            boolean bare = !c.contains("/");
            if (!bare && !Files.isRegularFile(Path.of(c))) {
                tried.add(c + " (no such file)");
                continue;
            }
            try {
                SymbolLookup lookup = bare
                        ? SymbolLookup.libraryLookup(c, Arena.global())
                        : SymbolLookup.libraryLookup(Path.of(c), Arena.global());
                return new Result(new Loaded(lookup, c), null);
            } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
                tried.add(bare ? c + " on the system library path (not found)" : c + " (did not load: " + e.getMessage() + ")");
            }
        }
        return new Result(null, what + " not found; tried " + String.join(", ", tried));
    }

    /**
     * Copies a bundled library from the class path (e.g. native/linux-x86_64/libpref4j_cuda.so)
     * to a private temporary file and returns its path, or empty if the resource is absent.
     */
    static Optional<Path> extractResource(String resource) throws IOException {
        try (InputStream in = NativeLibs.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) return Optional.empty();
            Path dir = Files.createTempDirectory("pref4j-native-");
            Path file = dir.resolve(Path.of(resource).getFileName().toString());
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            file.toFile().deleteOnExit();
            dir.toFile().deleteOnExit();
            return Optional.of(file);
        }
    }

    /**
     * Binds symbols of one library to method handles. With no library every handle is null
     * (the owning class reports the load error when used); a missing symbol is recorded and
     * its handle is null.
     */
    static final class Binder {
        private final SymbolLookup lookup;
        private final List<String> missing = new ArrayList<>();

        Binder(SymbolLookup lookup) {
            this.lookup = lookup;
        }

        MethodHandle bind(String name, FunctionDescriptor fd) {
            if (lookup == null) return null;
            Optional<MemorySegment> s = lookup.find(name);
            if (s.isEmpty()) {
                missing.add(name);
                return null;
            }
            return LINKER.downcallHandle(s.get(), fd);
        }

        /** The symbols that were not found (empty when all were). */
        List<String> missing() {
            return List.copyOf(missing);
        }
    }
}
