package io.pref4j.kernel.cuda;

import io.pref4j.UserInputException;
import io.pref4j.cli.GpuCheckCommand;
import io.pref4j.kernel.Backends;
import io.pref4j.kernel.Kernels;
import io.pref4j.kernel.cpu.CpuKernels;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** Device choice on a machine without a usable GPU (skipped where there is one). */
class BackendsAutoTest {

    @Test
    void autoFallsBackToTheCpuWithOneLineSayingWhy() {
        CudaAvailability.Probe p = CudaAvailability.probe();
        assumeFalse(p.available(), "a usable GPU is present: the fallback cannot be observed here");
        List<String> log = new ArrayList<>();
        try (Kernels k = Backends.open("auto", 1, log::add)) {
            assertInstanceOf(CpuKernels.class, k);
        }
        assertEquals(1, log.size(), log.toString());
        assertEquals("device auto: cpu (" + p.reason() + "); cpu (1 thread)", log.get(0));
        if (CudaAvailability.driverError() != null) {
            assertEquals("device auto: cpu (no CUDA driver: libcuda.so.1 not found); cpu (1 thread)", log.get(0));
        }
    }

    @Test
    void cudaWithoutAGpuFailsWithOneLineSayingWhy() {
        CudaAvailability.Probe p = CudaAvailability.probe();
        assumeFalse(p.available(), "a usable GPU is present");
        UserInputException e = assertThrows(UserInputException.class, () -> Backends.open("cuda", 1, s -> {}));
        assertEquals("--device cuda: " + p.reason(), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), e.getMessage());
        CudaException c = assertThrows(CudaException.class, CudaKernels::new);
        assertTrue(c.getMessage().contains(p.reason()), c.getMessage());
    }

    @Test
    void cpuAndUnknownDevices() {
        List<String> log = new ArrayList<>();
        try (Kernels k = Backends.open(" CPU ", 2, log::add)) {
            assertInstanceOf(CpuKernels.class, k);
        }
        assertEquals(List.of("device: cpu (2 threads)"), log);
        assertThrows(UserInputException.class, () -> Backends.open("tpu", 1, s -> {}));
    }

    @Test
    void gpuCheckSaysWhyAndExitsTwoWithoutAGpu() {
        CudaAvailability.Probe p = CudaAvailability.probe();
        assumeFalse(p.available(), "a usable GPU is present");
        StringWriter out = new StringWriter();
        CommandLine cl = new CommandLine(new GpuCheckCommand());
        cl.setOut(new PrintWriter(out, true));
        int status = cl.execute();
        assertEquals(GpuCheckCommand.EXIT_NO_GPU, status);
        assertEquals("gpu-check: no usable GPU: " + p.reason(), out.toString().strip());
    }
}
