package io.pref4j.kernel.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Status → message mapping of the one exception type (no GPU needed). */
class CudaStatusTest {

    @Test
    void messagesNameTheCallTheStatusAndItsDescription() {
        assertEquals("cudaMalloc failed: status 2 (cudaErrorMemoryAllocation: out of memory)",
                CudaException.statusMessage("cudaMalloc", 2, "cudaErrorMemoryAllocation", "out of memory"));
        assertEquals("p4j_sample failed: status -1 (P4J_E_INVALID_ARGUMENT)",
                CudaException.statusMessage("p4j_sample", -1, "P4J_E_INVALID_ARGUMENT", null));
        assertEquals("cublasGemmEx failed: status 99", CudaException.statusMessage("cublasGemmEx", 99, null, " "));
    }

    @Test
    void runtimeStatusesHaveNamesWithOrWithoutTheRuntime() {
        assertEquals("cudaErrorMemoryAllocation", CudaRuntime.errorName(2));
        assertEquals("cudaErrorInsufficientDriver", CudaRuntime.errorName(35));
        assertEquals("cudaErrorNoDevice", CudaRuntime.errorName(100));
        if (CudaRuntime.loaded()) {
            // cudaGetErrorString needs no driver: this runs wherever libcudart.so.13 is installed
            assertEquals("out of memory", CudaRuntime.errorString(2));
        }
    }

    @Test
    void kernelAndCublasStatusesHaveNames() {
        assertEquals("P4J_E_INVALID_ARGUMENT", Pref4jNative.statusName(-1));
        assertEquals("P4J_E_OUT_OF_RANGE", Pref4jNative.statusName(-2));
        assertEquals("P4J_E_GROUP_TOO_SMALL", Pref4jNative.statusName(-3));
        assertEquals("P4J_E_UNSUPPORTED", Pref4jNative.statusName(-4));
        assertEquals("cudaErrorIllegalAddress", Pref4jNative.statusName(700));
        assertEquals("CUBLAS_STATUS_ALLOC_FAILED", Cublas.statusName(3));
        assertEquals("CUBLAS_STATUS_INVALID_VALUE", Cublas.statusName(7));
    }

    @Test
    void checksThrowTheOneExceptionTypeNamingTheCall() {
        CudaException e = assertThrows(CudaException.class, () -> Pref4jNative.check("p4j_reinforce_loss", -3));
        assertEquals("p4j_reinforce_loss", e.call());
        assertEquals(-3, e.status());
        assertTrue(e.getMessage().startsWith("p4j_reinforce_loss failed: status -3 (P4J_E_GROUP_TOO_SMALL"), e.getMessage());
        CudaException c = assertThrows(CudaException.class, () -> Cublas.check("cublasGemmEx(M 3, N 4, K 5)", 3));
        assertTrue(c.getMessage().contains("CUBLAS_STATUS_ALLOC_FAILED") && c.isOutOfMemory(), c.getMessage());
        CudaException r = assertThrows(CudaException.class, () -> CudaRuntime.check("cudaStreamSynchronize", 700));
        assertTrue(r.getMessage().startsWith("cudaStreamSynchronize failed: status 700 (cudaErrorIllegalAddress"), r.getMessage());
        Pref4jNative.check("p4j_fill", 0); // success is silent
    }

    @Test
    void outOfMemorySaysHowMuchWasAskedAndWhatToReduce() {
        CudaException e = CudaException.outOfMemory("cudaMalloc", 2, 3L << 30, 1L << 30, 80L << 30);
        assertTrue(e.isOutOfMemory());
        assertTrue(e.getMessage().contains("allocating 3072.0 MiB"), e.getMessage());
        assertTrue(e.getMessage().contains("1024.0 MiB free of 81920.0 MiB"), e.getMessage());
        assertTrue(e.getMessage().contains("reduce the batch size"), e.getMessage());
    }

    @Test
    void deviceReasons() {
        assertEquals("no CUDA device (cudaGetDeviceCount found none)", CudaAvailability.deviceError(100, 0, "cudaErrorNoDevice", "", 0));
        assertEquals("no CUDA device (cudaGetDeviceCount found none)", CudaAvailability.deviceError(0, 0, null, null, 0));
        assertTrue(CudaAvailability.deviceError(35, 0, "cudaErrorInsufficientDriver", "x", 12040)
                .startsWith("the CUDA driver is too old for CUDA 13 (driver supports CUDA 12.4)"));
        assertEquals(null, CudaAvailability.deviceError(0, 1, null, null, 13000));
    }
}
