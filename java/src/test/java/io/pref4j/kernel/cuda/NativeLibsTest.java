package io.pref4j.kernel.cuda;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Library path resolution and loading errors (no GPU needed). */
class NativeLibsTest {

    @Test
    void userFileComesFirstThenCudaHomeThenDefaultThenSystemPath() {
        List<String> c = NativeLibs.candidates("/opt/x/libcublas.so.13", "/usr/local/cuda-13.0", "libcublas.so.13", "x86_64");
        assertEquals(List.of("/opt/x/libcublas.so.13",
                "/usr/local/cuda-13.0/lib64/libcublas.so.13",
                "/usr/local/cuda-13.0/targets/x86_64-linux/lib/libcublas.so.13",
                "/usr/local/cuda/lib64/libcublas.so.13",
                "libcublas.so.13"), c);
    }

    @Test
    void userFolderIsSearchedForTheSoname() {
        List<String> c = NativeLibs.candidates("/home/u/nvidia/cublas/lib", null, "libcublas.so.13", "x86_64");
        assertEquals(List.of("/home/u/nvidia/cublas/lib/libcublas.so.13", "/home/u/nvidia/cublas/lib/lib64/libcublas.so.13",
                "/usr/local/cuda/lib64/libcublas.so.13", "libcublas.so.13"), c);
    }

    @Test
    void noSettingsMeansDefaultAndSystemPathWithoutDuplicates() {
        assertEquals(List.of("/usr/local/cuda/lib64/libcudart.so.13", "libcudart.so.13"),
                NativeLibs.candidates(null, "", "libcudart.so.13", "x86_64"));
        assertEquals(List.of("/usr/local/cuda/lib64/libcudart.so.13", "/usr/local/cuda/targets/x86_64-linux/lib/libcudart.so.13",
                "libcudart.so.13"), NativeLibs.candidates(null, "/usr/local/cuda", "libcudart.so.13", "x86_64"));
    }

    @Test
    void fileOrFolder() {
        assertTrue(NativeLibs.looksLikeFile("/a/libpref4j_cuda.so"));
        assertTrue(NativeLibs.looksLikeFile("libcublas.so.13"));
        assertTrue(NativeLibs.looksLikeFile("/x/libcublas.so.13.0.2"));
        assertFalse(NativeLibs.looksLikeFile("/usr/local/cuda/lib64"));
        assertFalse(NativeLibs.looksLikeFile("/opt/some.solver/lib"));
    }

    @Test
    void platformFolders() {
        assertEquals("linux-x86_64", NativeLibs.platform("Linux", "amd64"));
        assertEquals("linux-aarch64", NativeLibs.platform("Linux", "aarch64"));
        assertNull(NativeLibs.platform("Mac OS X", "aarch64"));
        assertNull(NativeLibs.platform("Windows 11", "amd64"));
        assertEquals("native/linux-x86_64/libpref4j_cuda.so", Pref4jNative.resourcePath("linux-x86_64"));
    }

    @Test
    void aLibraryThatIsNowhereIsReportedWithEveryPathTried() {
        NativeLibs.Result r = NativeLibs.open("cuBLAS (libnotthere.so.13)",
                NativeLibs.candidates("/nonexistent/dir", "/nonexistent/cuda", "libnotthere.so.13", "x86_64"));
        assertFalse(r.ok());
        assertTrue(r.error().startsWith("cuBLAS (libnotthere.so.13) not found; tried "), r.error());
        for (String p : List.of("/nonexistent/dir/libnotthere.so.13", "/nonexistent/cuda/lib64/libnotthere.so.13",
                "/usr/local/cuda/lib64/libnotthere.so.13", "libnotthere.so.13 on the system library path")) {
            assertTrue(r.error().contains(p), () -> r.error() + " lacks " + p);
        }
    }
}
