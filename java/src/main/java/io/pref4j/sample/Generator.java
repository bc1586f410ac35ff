package io.pref4j.sample;

import io.pref4j.model.CausalLm;
import io.pref4j.kernel.CounterRng;
import io.pref4j.kernel.Kernels;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Batched generation with the KV cache: prefill the prompts, then one decode step per
 * new token, sampling every row with the counter-based RNG (row r of a request uses the
 * seed {@link CounterRng#rowSeed}(seed, r) and the step as counter), so the same seed
 * gives the same tokens. A row stops after an end-of-sequence token ({@link Options#stops}) or
 * at maxNewTokens.
 */
public final class Generator {

    /**
     * Sampling settings. temperature ≤ 0 is greedy; topK 0 and topP 1 disable filtering. A row
     * stops after sampling eosId or any of stopIds (models such as Llama 3 have several
     * end-of-sequence tokens: generation_config.json's eos_token_id list); ids outside the
     * vocabulary never match.
     */
    public record Options(int maxNewTokens, float temperature, int topK, float topP, int eosId, long seed, int[] stopIds) {
        public Options {
            if (maxNewTokens < 1) throw new IllegalArgumentException("maxNewTokens must be >= 1");
            if (topK < 0) throw new IllegalArgumentException("topK must be >= 0");
            if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("topP must be in (0, 1]");
            stopIds = stopIds == null ? new int[0] : stopIds.clone();
        }

        /** Stops on eosId only. */
        public Options(int maxNewTokens, float temperature, int topK, float topP, int eosId, long seed) {
            this(maxNewTokens, temperature, topK, topP, eosId, seed, null);
        }

        /** Whether sampling {@code id} ends a row. */
        public boolean stops(int id) {
            if (id == eosId) return true;
            for (int s : stopIds) if (s == id) return true;
            return false;
        }
    }

    /**
     * One row's generation: the new tokens (ending with the EOS id when endedWithEos) and
     * each token's log-probability under the model's unfiltered softmax.
     */
    public record Sample(int[] tokens, float[] logps, boolean endedWithEos) {}

    private final CausalLm model;
    private final Kernels k;
    private final MemorySegment seeds, picked, pickedLogp;

    public Generator(CausalLm model) {
        this.model = model;
        this.k = model.kernels();
        this.seeds = k.allocLongs(model.maxBatch());
        this.picked = k.allocInts(model.maxBatch());
        this.pickedLogp = k.allocFloats(model.maxBatch());
    }

    /** Generates a continuation for each prompt (at most the model's maxBatch prompts). */
    public Sample[] generate(int[][] prompts, Options o) {
        int B = prompts.length;
        if (B == 0) return new Sample[0];
        if (B > model.maxBatch()) throw new IllegalArgumentException(B + " prompts exceed the batch limit " + model.maxBatch());
        int T = 0;
        int[] lens = new int[B];
        for (int b = 0; b < B; b++) {
            if (prompts[b].length == 0) throw new IllegalArgumentException("prompt " + b + " is empty");
            lens[b] = prompts[b].length;
            T = Math.max(T, lens[b]);
        }
        if (T >= model.maxT()) throw new IllegalArgumentException("a prompt of " + T + " tokens leaves no room to generate (limit " + model.maxT() + ")");
        int[] toks = new int[B * T];
        for (int b = 0; b < B; b++) System.arraycopy(prompts[b], 0, toks, b * T, lens[b]);
        long[] rowSeeds = new long[B];
        for (int b = 0; b < B; b++) rowSeeds[b] = CounterRng.rowSeed(o.seed(), b);
        k.writeLongs(seeds, rowSeeds);

        int steps = Math.min(o.maxNewTokens(), model.maxT() - T);
        int[][] out = new int[B][steps];
        float[][] lp = new float[B][steps];
        int[] count = new int[B];
        boolean[] done = new boolean[B];
        int[] next = new int[B], pos = new int[B];
        float[] nextLp = new float[B];
        int V = model.config().vocabSize();

        model.prefill(toks, lens, B, T);
        for (int s = 0; s < steps; s++) {
            k.sample(picked, pickedLogp, model.logitsBuffer(), seeds, s, B, V, o.temperature(), o.topK(), o.topP());
            k.readInts(picked, next);
            k.read(pickedLogp, nextLp);
            boolean all = true;
            for (int b = 0; b < B; b++) {
                if (done[b]) continue;
                out[b][count[b]] = next[b];
                lp[b][count[b]] = nextLp[b];
                count[b]++;
                if (o.stops(next[b])) done[b] = true;
                all &= done[b];
            }
            if (all || s == steps - 1) break;
            for (int b = 0; b < B; b++) {
                pos[b] = lens[b] + s;   // position of the token just sampled
                if (done[b]) next[b] = o.eosId() >= 0 && o.eosId() < V ? o.eosId() : 0;
            }
            model.decode(next, pos, B);
        }
        Sample[] res = new Sample[B];
        for (int b = 0; b < B; b++) {
            res[b] = new Sample(Arrays.copyOf(out[b], count[b]), Arrays.copyOf(lp[b], count[b]), done[b]);
        }
        return res;
    }
}
