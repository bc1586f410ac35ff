package io.pref4j.kernel.cuda;

import io.pref4j.kernel.Kernels;
import io.pref4j.kernel.cpu.CpuKernels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The GPU suite: every CudaKernels operation against CpuKernels ({@link KernelChecks}, the
 * comparisons {@code pref4j gpu-check} runs too), plus what only a GPU can show (out of
 * memory, row groups of the log-prob gather, errors naming the kernel). Skipped, with the
 * reason, where no usable GPU is present. Run alone with {@code -Dgroups=gpu}.
 */
@Tag("gpu")
class CudaKernelsGpuTest {

    private static Kernels cpu, cuda;
    private static final long SEED = Long.getLong("pref4j.check.seed", System.nanoTime());

    @BeforeAll
    static void open() {
        CudaAvailability.Probe p = CudaAvailability.probe();
        if (!p.available()) {
            System.out.println("GPU suite skipped: no usable GPU: " + p.reason());
            return;
        }
        cpu = new CpuKernels();
        cuda = new CudaKernels(0, false);
        System.out.println("GPU suite on " + cuda.name() + ", seed " + SEED + " (-Dpref4j.check.seed to repeat)");
    }

    /** Each test skips (visibly, with the reason) where there is no usable GPU. */
    private static void assumeGpu() {
        CudaAvailability.Probe p = CudaAvailability.probe();
        assumeTrue(p.available() && cuda != null, () -> "no usable GPU: " + p.reason());
    }

    @AfterAll
    static void close() {
        if (cuda != null) cuda.close();
        if (cpu != null) cpu.close();
    }

    @TestFactory
    Stream<DynamicTest> everyKernelAgainstTheCpu() {
        assumeGpu();
        List<KernelChecks.Check> checks = KernelChecks.all();
        long[] i = {0};
        return checks.stream().map(ch -> {
            long seed = io.pref4j.kernel.CounterRng.rowSeed(SEED, i[0]++);
            return DynamicTest.dynamicTest(ch.op() + " [" + ch.shape() + "]", () -> {
                KernelChecks.Result r = ch.run(cpu, cuda, seed);
                assertTrue(r.pass(), () -> KernelChecks.table(List.of(r)));
            });
        });
    }

    @Test
    void logprobInRowGroupsWithASmallChunkBuffer() {
        assumeGpu();
        String old = System.getProperty("pref4j.cuda.logprobChunkMiB");
        System.setProperty("pref4j.cuda.logprobChunkMiB", "1");
        try (Kernels small = new CudaKernels(0, false)) {
            // 1 MiB = 262144 floats: N 3000 rows, V 1000 → chunks of 256 tokens, row groups of 1024
            KernelChecks.Check ch = new KernelChecks.Check("logprob row groups", "N 3000 C 24 V 1000",
                    KernelChecks.Precision.REDUCTION, c -> {
                int N = 3000, C = 24, V = 1000;
                int[] tg = c.ints(N, -1, V);
                KernelChecks.Buf hid = c.f(c.gauss(N * C, 1)), w = c.f(c.gauss(V * C, 0.3)), t = c.i(tg);
                KernelChecks.Buf lp = c.nan(N), en = c.nan(N), lse = c.nan(N);
                c.run((k, s) -> k.logprobForward(s.apply(lp), s.apply(en), s.apply(lse), s.apply(hid), s.apply(w), s.apply(t), N, C, V));
                c.expect("logp", lp);
                c.expect("entropy", en);
                c.expect("lse", lse);
                KernelChecks.Buf dl = c.f(c.gauss(N, 1)), de = c.f(c.gauss(N, 1)), dh = c.f(c.gauss(N * C, 1)), dw = c.f(c.gauss(V * C, 1));
                c.run((k, s) -> k.logprobBackward(s.apply(dh), s.apply(dw), s.apply(dl), s.apply(de), s.apply(hid), s.apply(w),
                        s.apply(t), s.apply(lse), s.apply(en), N, C, V));
                c.expect("dhidden", dh);
                c.expect("dweight", dw);
            });
            KernelChecks.Result r = ch.run(cpu, small, SEED);
            assertTrue(r.pass(), () -> KernelChecks.table(List.of(r)));
        } finally {
            if (old == null) System.clearProperty("pref4j.cuda.logprobChunkMiB");
            else System.setProperty("pref4j.cuda.logprobChunkMiB", old);
        }
    }

    @Test
    void gptStepWithTf32Products() {
        assumeGpu();
        try (Kernels tf32 = new CudaKernels(0, true)) {
            KernelChecks.Result r = KernelChecks.gptStep().run(cpu, tf32, SEED ^ 0x7f32);
            assertTrue(r.pass(), () -> KernelChecks.table(List.of(r)));
        }
    }

    @Test
    void outOfMemorySaysHowMuchAndWhatToReduce() {
        assumeGpu();
        long[] mem = CudaRuntime.memInfo();
        CudaException e = assertThrows(CudaException.class, () -> cuda.allocFloats(mem[1])); // 4x the device
        assertTrue(e.isOutOfMemory(), e.getMessage());
        assertTrue(e.getMessage().contains("out of GPU memory allocating") && e.getMessage().contains("reduce"), e.getMessage());
        // the context stays usable
        MemorySegment x = cuda.allocFloats(10);
        cuda.fill(x, 10, 3f);
        float[] h = new float[10];
        cuda.read(x, h);
        assertEquals(3f, h[9]);
    }

    @Test
    void aBadArgumentNamesTheKernel() {
        assumeGpu();
        MemorySegment x = cuda.allocFloats(4);
        CudaException e = assertThrows(CudaException.class, () -> cuda.attentionForward(x, x, x, x, 1, 1, 10, 3));
        assertTrue(e.getMessage().startsWith("p4j_attention_forward failed: status -4 (P4J_E_UNSUPPORTED"), e.getMessage());
        MemorySegment g = cuda.allocInts(4);
        cuda.writeInts(g, new int[] {0, 0, 1, 2}); // group 1 and 2 have one member each
        MemorySegment m = cuda.allocFloats(16), d = cuda.allocFloats(4);
        CudaException r = assertThrows(CudaException.class, () -> cuda.reinforceLoss(m, d, null, x, null, x, g, 4, 3,
                Kernels.LossOps.BASELINE_RLOO, 0.9f, 0f, 10f));
        assertTrue(r.getMessage().contains("p4j_reinforce_loss") && r.getMessage().contains("P4J_E_GROUP_TOO_SMALL"), r.getMessage());
    }
}
