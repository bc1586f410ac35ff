package io.pref4j.kernel.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Where the kernel library is present (built by the Maven cuda profile into the class path,
 * or given with -Dpref4j.cuda.lib), every function of pref4j.h binds and the ABI matches;
 * loading and calling into it needs no GPU. Skipped, with the reason, where it is absent.
 */
class Pref4jNativeBindingTest {

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
