package io.pref4j.experiment.bandit;

import io.pref4j.kernel.Kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * The categorical bandit's policy (SPEC §6.1): an MLP from a 100-dimensional context to the
 * logits of 100 actions, 100 → 50 → LayerNorm → ReLU → 256 → ReLU → 256 → ReLU → 100, with
 * a hand-written backward on the {@link Kernels} API (matmul, bias and LayerNorm kernels;
 * the ReLUs are applied on the host, which is trivial at these sizes). Parameters and
 * gradients live in one flat buffer each; weights are stored [in, out]. Plain Adam
 * (PyTorch defaults β = (0.9, 0.999), eps 1e-8, no weight decay) via {@link Kernels#adamw}.
 */
public final class MlpPolicy {
    public static final int IN = 100, H1 = 50, H2 = 256, H3 = 256, OUT = 100;

    // element offsets of the tensors in the flat buffers
    static final long W1 = 0, B1 = W1 + (long) IN * H1, LNW = B1 + H1, LNB = LNW + H1,
            W2 = LNB + H1, B2 = W2 + (long) H1 * H2, W3 = B2 + H2, B3 = W3 + (long) H2 * H3,
            W4 = B3 + H3, B4 = W4 + (long) H3 * OUT, SIZE = B4 + OUT;

    private final Kernels k;
    private final int maxRows;
    private final MemorySegment params, grads, m, v;
    private final MemorySegment x, h1, ln, lnMean, lnRstd, a1, h2, a2, h3, a3, logits;
    private final MemorySegment dlogits, da3, da2, da1, dln, dh1;
    private int lastRows;
    private int step;

    /** A policy for batches of up to maxRows contexts, initialised as PyTorch's nn.Linear. */
    public MlpPolicy(Kernels k, int maxRows, long seed) {
        this.k = k;
        this.maxRows = maxRows;
        params = k.allocFloats(SIZE);
        grads = k.allocFloats(SIZE);
        m = k.allocFloats(SIZE);
        v = k.allocFloats(SIZE);
        x = k.allocFloats((long) maxRows * IN);
        h1 = k.allocFloats((long) maxRows * H1);
        ln = k.allocFloats((long) maxRows * H1);
        lnMean = k.allocFloats(maxRows);
        lnRstd = k.allocFloats(maxRows);
        a1 = k.allocFloats((long) maxRows * H1);
        h2 = k.allocFloats((long) maxRows * H2);
        a2 = k.allocFloats((long) maxRows * H2);
        h3 = k.allocFloats((long) maxRows * H3);
        a3 = k.allocFloats((long) maxRows * H3);
        logits = k.allocFloats((long) maxRows * OUT);
        dlogits = k.allocFloats((long) maxRows * OUT);
        da3 = k.allocFloats((long) maxRows * H3);
        da2 = k.allocFloats((long) maxRows * H2);
        da1 = k.allocFloats((long) maxRows * H1);
        dln = k.allocFloats((long) maxRows * H1);
        dh1 = k.allocFloats((long) maxRows * H1);
        init(seed);
    }

    /** nn.Linear's default: weight and bias U(−1/√fan_in, 1/√fan_in); LayerNorm weight 1, bias 0. */
    public void init(long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        float[] p = new float[(int) SIZE];
        uniform(p, W1, (long) IN * H1, IN, rng);
        uniform(p, B1, H1, IN, rng);
        for (int i = 0; i < H1; i++) p[(int) LNW + i] = 1f;
        uniform(p, W2, (long) H1 * H2, H1, rng);
        uniform(p, B2, H2, H1, rng);
        uniform(p, W3, (long) H2 * H3, H2, rng);
        uniform(p, B3, H3, H2, rng);
        uniform(p, W4, (long) H3 * OUT, H3, rng);
        uniform(p, B4, OUT, H3, rng);
        k.write(params, p);
        resetOptimizer();
    }

    private static void uniform(float[] p, long off, long n, int fanIn, SplittableRandom rng) {
        double bound = 1.0 / Math.sqrt(fanIn);
        for (long i = 0; i < n; i++) p[(int) (off + i)] = (float) ((rng.nextDouble() * 2 - 1) * bound);
    }

    public int maxRows() {
        return maxRows;
    }

    /** Parameters as a host copy. */
    public float[] readParams() {
        float[] p = new float[(int) SIZE];
        k.read(params, p);
        return p;
    }

    public void writeParams(float[] p) {
        if (p.length != SIZE) throw new IllegalArgumentException("expected " + SIZE + " parameters, got " + p.length);
        k.write(params, p);
    }

    public float[] readGrads() {
        float[] g = new float[(int) SIZE];
        k.read(grads, g);
        return g;
    }

    /** Copies another policy's parameters and resets the optimiser state. */
    public void copyFrom(MlpPolicy other) {
        k.copy(params, other.params, SIZE * 4);
        resetOptimizer();
    }

    public void resetOptimizer() {
        k.fill(m, SIZE, 0f);
        k.fill(v, SIZE, 0f);
        k.fill(grads, SIZE, 0f);
        step = 0;
    }

    public void zeroGrad() {
        k.fill(grads, SIZE, 0f);
    }

    /** One Adam update with learning rate lr from the accumulated gradients. */
    public void adamStep(float lr) {
        step++;
        k.adamw(params, grads, m, v, SIZE, lr, 0.9f, 0.999f, 1e-8f, 0f, step);
    }

    private MemorySegment p(long off, long n) {
        return params.asSlice(off * 4, n * 4);
    }

    private MemorySegment g(long off, long n) {
        return grads.asSlice(off * 4, n * 4);
    }

    /**
     * Forward of {@code rows} contexts (row-major [rows, 100]); returns the logits
     * [rows, 100] and keeps the activations for {@link #backward}.
     */
    public float[] forward(float[] contexts, int rows) {
        if (rows < 1 || rows > maxRows) throw new IllegalArgumentException("rows " + rows + " outside [1, " + maxRows + "]");
        if (contexts.length < rows * IN) throw new IllegalArgumentException("need " + rows * IN + " context values");
        lastRows = rows;
        k.write(x, contexts.length == rows * IN ? contexts : java.util.Arrays.copyOf(contexts, rows * IN));
        k.matmul(h1, x, p(W1, (long) IN * H1), p(B1, H1), rows, H1, IN, false, false, false);
        k.layerNormForward(ln, lnMean, lnRstd, h1, p(LNW, H1), p(LNB, H1), rows, H1);
        relu(a1, ln, rows * H1);
        k.matmul(h2, a1, p(W2, (long) H1 * H2), p(B2, H2), rows, H2, H1, false, false, false);
        relu(a2, h2, rows * H2);
        k.matmul(h3, a2, p(W3, (long) H2 * H3), p(B3, H3), rows, H3, H2, false, false, false);
        relu(a3, h3, rows * H3);
        k.matmul(logits, a3, p(W4, (long) H3 * OUT), p(B4, OUT), rows, OUT, H3, false, false, false);
        float[] out = new float[rows * OUT];
        k.read(logits.asSlice(0, (long) rows * OUT * 4), out);
        return out;
    }

    /** Accumulates (+=) the parameter gradients of the last forward given dLoss/dlogits [rows, 100]. */
    public void backward(float[] dLogits) {
        int n = lastRows;
        if (n == 0) throw new IllegalStateException("backward before forward");
        k.write(dlogits, dLogits.length == n * OUT ? dLogits : java.util.Arrays.copyOf(dLogits, n * OUT));
        // layer 4
        k.matmul(g(W4, (long) H3 * OUT), a3, dlogits, null, H3, OUT, n, true, false, true);
        k.biasBackward(g(B4, OUT), dlogits, n, OUT);
        k.matmul(da3, dlogits, p(W4, (long) H3 * OUT), null, n, H3, OUT, false, true, false);
        reluBackward(da3, h3, n * H3);
        // layer 3 (da3 now holds dh3)
        k.matmul(g(W3, (long) H2 * H3), a2, da3, null, H2, H3, n, true, false, true);
        k.biasBackward(g(B3, H3), da3, n, H3);
        k.matmul(da2, da3, p(W3, (long) H2 * H3), null, n, H2, H3, false, true, false);
        reluBackward(da2, h2, n * H2);
        // layer 2
        k.matmul(g(W2, (long) H1 * H2), a1, da2, null, H1, H2, n, true, false, true);
        k.biasBackward(g(B2, H2), da2, n, H2);
        k.matmul(da1, da2, p(W2, (long) H1 * H2), null, n, H1, H2, false, true, false);
        reluBackward(da1, ln, n * H1);
        // LayerNorm (dinp accumulates: start from zero)
        k.fill(dh1, (long) n * H1, 0f);
        k.layerNormBackward(dh1, g(LNW, H1), g(LNB, H1), da1, h1, p(LNW, H1), lnMean, lnRstd, n, H1);
        // layer 1 (the input needs no gradient)
        k.matmul(g(W1, (long) IN * H1), x, dh1, null, IN, H1, n, true, false, true);
        k.biasBackward(g(B1, H1), dh1, n, H1);
    }

    /** out = max(0, inp) over n elements, on the host. */
    private void relu(MemorySegment out, MemorySegment inp, int n) {
        float[] a = new float[n];
        k.read(inp.asSlice(0, n * 4L), a);
        for (int i = 0; i < n; i++) if (a[i] < 0) a[i] = 0;
        k.write(out, a);
    }

    /** d (in place) *= (pre > 0) over n elements. */
    private void reluBackward(MemorySegment d, MemorySegment pre, int n) {
        float[] dd = new float[n], pp = new float[n];
        k.read(d.asSlice(0, n * 4L), dd);
        k.read(pre.asSlice(0, n * 4L), pp);
        for (int i = 0; i < n; i++) if (!(pp[i] > 0)) dd[i] = 0;
        k.write(d, dd);
    }
}
