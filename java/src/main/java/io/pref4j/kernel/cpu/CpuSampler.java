package io.pref4j.kernel.cpu;

import io.pref4j.kernel.CounterRng;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Token sampling from logits[B, V], one row per task, exactly the algorithm of
 * {@code Kernels.sample}:
 * <ol>
 *   <li>temperature ≤ 0: greedy argmax (lowest index on ties);</li>
 *   <li>otherwise s = z / temperature (fp32) and unnormalised probabilities
 *       w = exp(s − max s);</li>
 *   <li>topK in (0, V): keep the topK largest s, ties to the lower index — found with a
 *       quickselect threshold in O(V), no sort of the vocabulary;</li>
 *   <li>topP &lt; 1: among the kept tokens in descending probability (ties to the lower
 *       index), keep the shortest prefix whose mass reaches topP·(kept mass), at least one
 *       token. Only the top candidates are sorted: the top 64, then 4× more while the
 *       prefix has not reached topP;</li>
 *   <li>walk the kept tokens in ascending index order summing w (in double) and take the
 *       first whose running sum exceeds u·total, u = CounterRng.uniform(seeds[b], counter).</li>
 * </ol>
 * logp[b] is the chosen token's log-probability under the softmax of the raw logits
 * (no temperature, no filtering). The logits buffer is only read.
 */
final class CpuSampler {

    private static final VectorSpecies<Float> S = CpuMatmul.S;
    private static final int L = S.length();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG;

    /** Per-thread scratch of V-sized arrays, grown on demand. */
    private static final class Row {
        float[] z = new float[0], s = new float[0], w = new float[0], sel = new float[0];
        int[] kept = new int[0];
        long[] keys = new long[0];

        void ensure(int V) {
            if (z.length < V) {
                z = new float[V];
                s = new float[V];
                w = new float[V];
                sel = new float[V];
                kept = new int[V];
                keys = new long[V];
            }
        }
    }

    private static final ThreadLocal<Row> LOCAL = ThreadLocal.withInitial(Row::new);

    private final Parallel par;

    CpuSampler(Parallel par) {
        this.par = par;
    }

    void sample(MemorySegment tokens, MemorySegment logp, MemorySegment logits, MemorySegment seeds,
                long counter, int B, int V, float temperature, int topK, float topP) {
        if (B <= 0) return;
        if (V <= 0) throw new IllegalArgumentException("sample: V must be positive, got " + V);
        par.range(B, 1, (s, e) -> {
            Row row = LOCAL.get();
            row.ensure(V);
            for (int b = s; b < e; b++) {
                MemorySegment.copy(logits, F32, (long) b * V * 4, row.z, 0, V);
                int tok = temperature <= 0f
                        ? argmax(row.z, V)
                        : sampleRow(row, V, temperature, topK, topP, CounterRng.uniform(seeds.getAtIndex(I64, b), counter));
                tokens.setAtIndex(I32, b, tok);
                if (logp != null) logp.setAtIndex(F32, b, (float) (row.z[tok] - logSumExp(row.z, V)));
            }
        });
    }

    /** Index of the largest value, the lowest index among equals. */
    static int argmax(float[] x, int n) {
        int best = 0;
        float bv = x[0];
        for (int i = 1; i < n; i++) {
            if (x[i] > bv) {
                bv = x[i];
                best = i;
            }
        }
        return best;
    }

    private static float max(float[] x, int n) {
        FloatVector vm = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int i = 0, bound = S.loopBound(n);
        for (; i < bound; i += L) vm = vm.max(FloatVector.fromArray(S, x, i));
        float m = vm.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) m = Math.max(m, x[i]);
        return m;
    }

    /** w[i] = exp(x[i] − m) for i < n. */
    private static void expShifted(float[] x, float m, float[] w, int n) {
        FloatVector vm = FloatVector.broadcast(S, m);
        int i = 0, bound = S.loopBound(n);
        for (; i < bound; i += L) VectorMath.exp(FloatVector.fromArray(S, x, i).sub(vm)).intoArray(w, i);
        for (; i < n; i++) w[i] = (float) Math.exp(x[i] - m);
    }

    /** log Σ exp(z) of the raw logits (vector exp; partial sums of 4096 terms added in double). */
    private static double logSumExp(float[] z, int V) {
        float m = max(z, V);
        if (m == Float.NEGATIVE_INFINITY) return Double.NEGATIVE_INFINITY;
        FloatVector vm = FloatVector.broadcast(S, m);
        double sum = 0;
        int bound = S.loopBound(V), i = 0;
        while (i < bound) {
            int end = Math.min(bound, i + 4096);
            FloatVector acc = FloatVector.zero(S);
            for (; i < end; i += L) acc = acc.add(VectorMath.exp(FloatVector.fromArray(S, z, i).sub(vm)));
            sum += VectorMath.sum(acc);
        }
        for (; i < V; i++) sum += Math.exp((double) z[i] - m);
        return m + Math.log(sum);
    }

    private static int sampleRow(Row row, int V, float temperature, int topK, float topP, float u) {
        float[] z = row.z, s = row.s, w = row.w;
        for (int i = 0; i < V; i++) s[i] = z[i] / temperature;
        float smax = max(s, V);
        if (smax == Float.NEGATIVE_INFINITY || Float.isNaN(smax)) return argmax(z, V); // nothing to sample
        expShifted(s, smax, w, V);

        boolean filterK = topK > 0 && topK < V, filterP = topP < 1f;
        if (!filterK && !filterP) {
            // All tokens, already in index order: no selection, no sort.
            double total = 0;
            for (int i = 0; i < V; i++) total += w[i];
            double target = u * total, run = 0;
            int last = 0;
            for (int i = 0; i < V; i++) {
                if (w[i] > 0) last = i;
                run += w[i];
                if (run > target) return i;
            }
            return last;
        }

        int[] kept = row.kept;
        int nKept;
        if (filterK) {
            nKept = selectTop(row, V, topK); // kept[0..topK) ascending index
        } else {
            nKept = V;
        }
        if (filterP) nKept = nucleus(row, V, filterK, nKept, topP);

        double total = 0;
        for (int j = 0; j < nKept; j++) total += w[kept[j]];
        double target = u * total, run = 0;
        int last = kept[0];
        for (int j = 0; j < nKept; j++) {
            int i = kept[j];
            if (w[i] > 0) last = i;
            run += w[i];
            if (run > target) return i;
        }
        return last;
    }

    /**
     * The k largest of s[0..V) with ties to the lower index, written to kept[0..k) in
     * ascending index order: a quickselect finds the k-th largest value t, then every
     * s &gt; t is kept and the lowest-indexed s == t fill the remaining places.
     */
    private static int selectTop(Row row, int V, int k) {
        float[] s = row.s, sel = row.sel;
        int[] kept = row.kept;
        System.arraycopy(s, 0, sel, 0, V);
        float t = kthSmallest(sel, V, V - k);
        int greater = 0;
        for (int i = 0; i < V; i++) if (s[i] > t) greater++;
        int ties = k - greater, n = 0;
        for (int i = 0; i < V; i++) {
            float x = s[i];
            if (x > t) kept[n++] = i;
            else if (x == t && ties > 0) {
                kept[n++] = i;
                ties--;
            }
        }
        return n;
    }

    /**
     * Hoare-partition quickselect (median-of-three pivot): the value that would sit at
     * index k of a[0..n) sorted ascending. Reorders a.
     */
    static float kthSmallest(float[] a, int n, int k) {
        int lo = 0, hi = n - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            float x = median(a[lo], a[mid], a[hi]);
            int i = lo, j = hi;
            do {
                while (a[i] < x) i++;
                while (x < a[j]) j--;
                if (i <= j) {
                    float tmp = a[i];
                    a[i] = a[j];
                    a[j] = tmp;
                    i++;
                    j--;
                }
            } while (i <= j);
            if (j < k) lo = i;
            if (k < i) hi = j;
        }
        return a[k];
    }

    private static float median(float a, float b, float c) {
        return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
    }

    /** Sort key: descending value, then ascending index, as one signed long. */
    private static long key(float v, int i) {
        int bits = Float.floatToRawIntBits(v);
        int ordered = bits ^ ((bits >> 31) & 0x7fffffff); // monotone in v as a signed int
        return ((long) ~ordered << 32) | (i & 0xffffffffL);
    }

    /**
     * Top-p over the current candidates (kept[0..nKept) when filtered by top-k, else all V):
     * the shortest prefix in descending probability (ties to lower index) whose mass reaches
     * topP·(candidate mass), at least one token. Leaves it in kept[0..result) in ascending
     * index order.
     */
    private static int nucleus(Row row, int V, boolean fromKept, int nKept, float topP) {
        float[] s = row.s, w = row.w;
        int[] kept = row.kept;
        long[] keys = row.keys;
        double mass = 0;
        if (fromKept) for (int j = 0; j < nKept; j++) mass += w[kept[j]];
        else for (int i = 0; i < V; i++) mass += w[i];
        double need = (double) topP * mass;

        int m = fromKept ? nKept : Math.min(V, 64);
        while (true) {
            // Candidates: the m best, sorted by (value desc, index asc).
            if (fromKept) {
                for (int j = 0; j < nKept; j++) keys[j] = key(s[kept[j]], kept[j]);
            } else if (m < V) {
                int n = selectTop(row, V, m);
                for (int j = 0; j < n; j++) keys[j] = key(s[kept[j]], kept[j]);
            } else {
                for (int i = 0; i < V; i++) keys[i] = key(s[i], i);
            }
            Arrays.sort(keys, 0, m);
            double cum = 0;
            int c = 0;
            boolean reached = false;
            while (c < m) {
                cum += w[(int) keys[c]];
                c++;
                if (cum >= need) {
                    reached = true;
                    break;
                }
            }
            if (reached || m == (fromKept ? nKept : V)) {
                for (int j = 0; j < c; j++) kept[j] = (int) keys[j];
                Arrays.sort(kept, 0, c);
                return c;
            }
            m = (int) Math.min(V, 4L * m);
        }
    }
}
