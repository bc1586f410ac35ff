package io.pref4j.kernel.cpu;

import io.pref4j.kernel.CounterRng;
import io.pref4j.kernel.Kernels;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The table of inputs → Java CPU outputs that cuda/host_tests.cpp checks the kernels'
 * per-element formulas (cuda/formulas.cuh, cuda/llama.cuh) against, on the host, without a
 * GPU (issue 12 item 4). This test computes the table from CpuKernels (GELU, SwiGLU, RoPE,
 * RMSNorm's rstd), CpuLosses (log σ, σ) and CounterRng, writes it to target/formulas.tsv and
 * fails when the committed cuda/host_tests/formulas.tsv differs: rerun with
 * -Dpref4j.writeFormulaTable=true to rewrite it after a deliberate change of a formula.
 * bf16 rounding has no CPU kernel: its column comes from an independent reference here
 * (the nearer of the two neighbouring bf16 values, ties to the even one).
 */
class FormulaTableTest {

    static final Path COMMITTED = Path.of("..", "cuda", "host_tests", "formulas.tsv");

    @Test
    void theCommittedTableIsWhatJavaComputes() throws IOException {
        String table = table();
        Path target = Path.of("target", "formulas.tsv");
        Files.createDirectories(target.getParent());
        Files.writeString(target, table, StandardCharsets.UTF_8);
        if (Boolean.getBoolean("pref4j.writeFormulaTable") || !Files.exists(COMMITTED)) {
            Files.createDirectories(COMMITTED.getParent());
            Files.writeString(COMMITTED, table, StandardCharsets.UTF_8);
        }
        String committed = Files.readString(COMMITTED, StandardCharsets.UTF_8);
        assertEquals(committed, table, "cuda/host_tests/formulas.tsv is stale: rerun with -Dpref4j.writeFormulaTable=true");
    }

    @Test
    void bf16ReferenceKnownAnswers() {
        assertEquals(0x3f80, bf16(1f));
        assertEquals(0x3f80, bf16(Float.intBitsToFloat(0x3f808000))); // tie, even below
        assertEquals(0x3f82, bf16(Float.intBitsToFloat(0x3f818000))); // tie, even above
        assertEquals(0x3f81, bf16(Float.intBitsToFloat(0x3f808001)));
        assertEquals(0xbf80, bf16(-1f));
        assertEquals(0x7f80, bf16(Float.intBitsToFloat(0x7f7fffff))); // rounds up to infinity
        assertTrue((bf16(Float.NaN) & 0x7fc0) == 0x7fc0);
    }

    /** bf16 bits of x, round to nearest even, by comparing the two neighbours in double. */
    static int bf16(float x) {
        int u = Float.floatToRawIntBits(x);
        if (Float.isNaN(x)) return ((u >>> 16) | 0x40) & 0xffff;
        int lo = u & 0xffff0000, hi = lo + 0x10000;
        if ((u & 0xffff) == 0) return lo >>> 16;
        double dx = x, dl = Float.intBitsToFloat(lo);
        double dh = (hi & 0x7f800000) == 0x7f800000 && (hi & 0x7fffff) == 0
                ? Math.copySign(Math.pow(2, 128), x) : Float.intBitsToFloat(hi);
        double el = Math.abs(dx - dl), eh = Math.abs(dh - dx);
        int pick = el < eh ? lo : eh < el ? hi : (((lo >>> 16) & 1) == 0 ? lo : hi);
        return (pick >>> 16) & 0xffff;
    }

    static String h(float v) {
        return Float.toHexString(v);
    }

    static String h(double v) {
        return Double.toHexString(v);
    }

    static String table() {
        SplittableRandom rnd = new SplittableRandom(20261201);
        List<String> lines = new ArrayList<>();
        lines.add("# formulas.tsv - inputs and the Java CPU backend's outputs, for cuda/host_tests.cpp; written by FormulaTableTest");
        // inputs: fixed edge values and random ones at several scales
        List<Float> xs = new ArrayList<>(List.of(0f, -0f, 1f, -1f, 0.5f, -0.5f, 3f, -3f, 7.5f, -7.5f, 10f, -10f, 20f, -20f,
                50f, -50f, 100f, -100f, 1e-20f, -1e-20f, 1e-3f, -1e-3f, 1000f, -1000f));
        for (int i = 0; i < 200; i++) xs.add((float) (rnd.nextGaussian() * (i < 100 ? 2 : 8)));
        int n = xs.size();
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = xs.get(i);
        try (Kernels k = new CpuKernels(1)) {
            // GELU forward and derivative (dout = 1)
            MemorySegment in = k.allocFloats(n), out = k.allocFloats(n), ones = k.allocFloats(n);
            k.write(in, x);
            k.geluForward(out, in, n);
            float[] y = new float[n];
            k.read(out, y);
            k.fill(ones, n, 1f);
            k.geluBackward(out, in, ones, n);
            float[] dy = new float[n];
            k.read(out, dy);
            for (int i = 0; i < n; i++) lines.add("gelu\t" + h(x[i]) + "\t" + h(y[i]));
            for (int i = 0; i < n; i++) lines.add("gelu_grad\t" + h(x[i]) + "\t" + h(dy[i]));
            // SwiGLU: rows of [gate | up], I = 1
            float[] gu = new float[2 * n], dout = new float[n];
            for (int i = 0; i < n; i++) {
                gu[2 * i] = x[i];
                gu[2 * i + 1] = (float) rnd.nextGaussian();
                dout[i] = (float) rnd.nextGaussian();
            }
            MemorySegment sgu = k.allocFloats(2 * n), so = k.allocFloats(n), sd = k.allocFloats(n), sdi = k.allocFloats(2 * n);
            k.write(sgu, gu);
            k.write(sd, dout);
            k.swigluForward(so, sgu, n, 1);
            k.swigluBackward(sdi, sd, sgu, n, 1);
            float[] sw = new float[n], dsw = new float[2 * n];
            k.read(so, sw);
            k.read(sdi, dsw);
            for (int i = 0; i < n; i++) lines.add("silu\t" + h(gu[2 * i]) + "\t" + h(gu[2 * i + 1]) + "\t" + h(sw[i]));
            for (int i = 0; i < n; i++)
                lines.add("swiglu_grad\t" + h(gu[2 * i]) + "\t" + h(gu[2 * i + 1]) + "\t" + h(dout[i]) + "\t" + h(dsw[2 * i]) + "\t" + h(dsw[2 * i + 1]));
            // RoPE: B = m rows of one token, NH 1, NKV 1, HS 2; row b at position b of a table [m, 1]
            int m = 64;
            float[] cos = new float[m], sin = new float[m], qkv = new float[m * 6], g = new float[m * 6];
            int[] pos = new int[m];
            for (int b = 0; b < m; b++) {
                double ang = rnd.nextDouble() * 40 - 20;
                cos[b] = (float) Math.cos(ang);
                sin[b] = (float) Math.sin(ang);
                pos[b] = b;
                for (int j = 0; j < 6; j++) {
                    qkv[b * 6 + j] = (float) (rnd.nextGaussian() * 3);
                    g[b * 6 + j] = (float) (rnd.nextGaussian() * 3);
                }
            }
            MemorySegment c = k.allocFloats(m), s = k.allocFloats(m), p = k.allocInts(m), q = k.allocFloats(m * 6), dq = k.allocFloats(m * 6);
            k.write(c, cos);
            k.write(s, sin);
            k.writeInts(p, new int[m]);
            k.write(q, qkv);
            k.write(dq, g);
            // positions[b] + t = 0 for every row unless given per row: T = 1, so positions carry the table row
            k.writeInts(p, pos);
            k.ropeForward(q, c, s, p, m, 1, 1, 1, 2);
            k.ropeBackward(dq, c, s, p, m, 1, 1, 1, 2);
            float[] rq = new float[m * 6], rg = new float[m * 6];
            k.read(q, rq);
            k.read(dq, rg);
            for (int b = 0; b < m; b++)
                lines.add("rope\t" + h(qkv[b * 6]) + "\t" + h(qkv[b * 6 + 1]) + "\t" + h(cos[b]) + "\t" + h(sin[b]) + "\t"
                        + h(rq[b * 6]) + "\t" + h(rq[b * 6 + 1]) + "\t" + h(g[b * 6]) + "\t" + h(g[b * 6 + 1]) + "\t"
                        + h(rg[b * 6]) + "\t" + h(rg[b * 6 + 1]));
            // RMSNorm rstd of one-element rows: sumsq = x^2, n = 1
            float eps = 1e-6f;
            MemorySegment ro = k.allocFloats(n), rr = k.allocFloats(n), rw = k.allocFloats(1);
            k.fill(rw, 1, 1f);
            k.rmsNormForward(ro, rr, in, rw, n, 1, eps);
            float[] rstd = new float[n];
            k.read(rr, rstd);
            for (int i = 0; i < n; i++) lines.add("rms_rstd\t" + h(x[i] * x[i]) + "\t1\t" + h(eps) + "\t" + h(rstd[i]));
        }
        // CounterRng: bits, uniform, rowSeed
        long[] seeds = {0, 1, -1, 42, Long.MIN_VALUE, Long.MAX_VALUE, 0x123456789abcdefL};
        for (long seed : seeds) {
            for (long ctr : new long[] {0, 1, 2, 7, 1000, -1, 1L << 40}) {
                lines.add("rng\t" + seed + "\t" + ctr + "\t" + CounterRng.bits(seed, ctr) + "\t" + h(CounterRng.uniform(seed, ctr)));
                lines.add("row_seed\t" + seed + "\t" + ctr + "\t" + CounterRng.rowSeed(seed, ctr));
            }
        }
        for (int i = 0; i < 50; i++) {
            long seed = rnd.nextLong(), ctr = rnd.nextLong(1L << 32);
            lines.add("rng\t" + seed + "\t" + ctr + "\t" + CounterRng.bits(seed, ctr) + "\t" + h(CounterRng.uniform(seed, ctr)));
        }
        // DPO-family log sigma and sigma, double
        double[] ds = {0, 1, -1, 5, -5, 30, -30, 700, -700, 1e-12, -1e-12};
        List<Double> dl = new ArrayList<>();
        for (double d : ds) dl.add(d);
        for (int i = 0; i < 60; i++) dl.add(rnd.nextGaussian() * 10);
        for (double d : dl) lines.add("log_sigmoid\t" + h(d) + "\t" + h(CpuLosses.logSigmoid(d)) + "\t" + h(CpuLosses.sigmoid(d)));
        // bf16 rounding
        List<Float> bs = new ArrayList<>(List.of(1f, -1f, 0f, -0f, Float.intBitsToFloat(0x3f808000), Float.intBitsToFloat(0x3f818000),
                Float.intBitsToFloat(0x3f808001), Float.intBitsToFloat(0x3f807fff), Float.MIN_VALUE, Float.MAX_VALUE, 65504f, 1e-40f));
        for (int i = 0; i < 100; i++) bs.add((float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(-8, 9))));
        for (float b : bs) {
            int bits = bf16(b);
            lines.add("bf16\t" + h(b) + "\t" + bits + "\t" + h(Float.intBitsToFloat(bits << 16)));
        }
        return String.join("\n", lines) + "\n";
    }

    static {
        Locale.setDefault(Locale.ROOT);
    }
}
