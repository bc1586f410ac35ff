package io.pref4j.train;

import io.pref4j.kernel.Kernels;
import io.pref4j.model.CausalLm;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * What an {@link Objective} needs to run one minibatch through the policy: the packing
 * buffers, per-sequence and per-token device buffers allocated once, the forward, and the
 * two backward forms (a gradient per sequence, spread over its response tokens, or one per
 * token). Rows are laid out as {@link Sequences#pack}: response token j of row r sits at
 * position r·T + max(1, |prompt|) − 1 + j.
 */
final class PolicyPass {
    final Kernels k;
    final CausalLm policy, ref;
    final int eos, maxRows, maxT;
    final Sequences.Packed packed;
    final MemorySegment seqLogp, seqRef, seqReward, seqDlogp, idxA, idxB, intsA, intsB;
    final MemorySegment tokDlogp, tokDvalue;
    private final IntFunction<int[]> promptIds;
    private final MemorySegment[] tokFloats = new MemorySegment[6];
    private final MemorySegment[] tokInts = new MemorySegment[2];
    private long tokens;

    PolicyPass(Kernels k, CausalLm policy, CausalLm ref, int eos, IntFunction<int[]> promptIds) {
        this.k = k;
        this.policy = policy;
        this.ref = ref;
        this.eos = eos;
        this.promptIds = promptIds;
        this.maxRows = policy.maxBatch();
        this.maxT = policy.maxT();
        this.packed = new Sequences.Packed(maxRows, maxT);
        seqLogp = k.allocFloats(maxRows);
        seqRef = k.allocFloats(maxRows);
        seqReward = k.allocFloats(maxRows);
        seqDlogp = k.allocFloats(maxRows);
        idxA = k.allocInts(maxRows);
        idxB = k.allocInts(maxRows);
        intsA = k.allocInts(maxRows);
        intsB = k.allocInts(maxRows);
        long nt = (long) maxRows * maxT;
        tokDlogp = k.allocFloats(nt);
        tokDvalue = k.allocFloats(nt);
    }

    /** A [maxRows·maxT] float buffer of this pass (slot 0..5), allocated on first use. */
    MemorySegment tokenFloats(int slot) {
        if (tokFloats[slot] == null) tokFloats[slot] = k.allocFloats((long) maxRows * maxT);
        return tokFloats[slot];
    }

    /** A [maxRows·maxT] int buffer of this pass (slot 0..1), allocated on first use. */
    MemorySegment tokenInts(int slot) {
        if (tokInts[slot] == null) tokInts[slot] = k.allocInts((long) maxRows * maxT);
        return tokInts[slot];
    }

    int[] promptIds(int prompt) {
        return promptIds.apply(prompt);
    }

    /** Prompt + the example's chosen (or rejected) response, for each example. */
    List<Sequences.Seq> seqs(List<Engine.Example> mb, boolean rejected) {
        List<Sequences.Seq> out = new ArrayList<>();
        for (Engine.Example e : mb) out.add(new Sequences.Seq(promptIds(e.prompt()), rejected ? e.rejected().ids : e.chosen().ids));
        return out;
    }

    /** Packs seqs and runs the policy's forward (counting the tokens for the step's metrics). */
    void forward(List<Sequences.Seq> seqs) {
        Sequences.pack(seqs, eos, packed);
        for (int b = 0; b < packed.B; b++) tokens += packed.lengths[b];
        policy.forward(packed.tokens(), packed.lengths(), packed.targets(), packed.B, packed.T);
    }

    /** Σ_t log π over each row's response tokens of the last forward, into {@link #seqLogp}. */
    MemorySegment rowLogp() {
        k.rowSum(seqLogp, policy.tokenLogpBuffer(), packed.B, packed.T);
        return seqLogp;
    }

    /** Backward of a per-sequence gradient in {@link #seqDlogp} (spread over every response token). */
    void backwardPerSequence() {
        k.rowBroadcast(tokDlogp, seqDlogp, packed.B, packed.T);
        policy.backwardFromBuffers(tokDlogp, null, null);
    }

    /** Position of response token 0 of row r of the last packing. */
    int responseStart(int r, List<Sequences.Seq> seqs) {
        return r * packed.T + Math.max(1, seqs.get(r).prompt().length) - 1;
    }

    /** A per-token host array [B·T] of the last packing with each row's values at its response positions. */
    float[] perToken(List<Sequences.Seq> seqs, List<float[]> rows) {
        float[] out = new float[packed.B * packed.T];
        for (int r = 0; r < packed.B; r++) {
            float[] v = rows.get(r);
            System.arraycopy(v, 0, out, responseStart(r, seqs), v.length);
        }
        return out;
    }

    /** The response-token mask [B·T] of the last packing. */
    int[] mask(List<Sequences.Seq> seqs) {
        int[] out = new int[packed.B * packed.T];
        for (int r = 0; r < packed.B; r++) {
            int s = responseStart(r, seqs);
            for (int j = 0; j < seqs.get(r).response().length; j++) out[s + j] = 1;
        }
        return out;
    }

    /** Mean per-token entropy of the policy over the last forward's response tokens. */
    double meanEntropy() {
        float[] h = policy.tokenEntropy();
        double sum = 0;
        int n = 0;
        for (int i = 0; i < packed.B * packed.T; i++) {
            if (packed.targets[i] >= 0) {
                sum += h[i];
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    /** Tokens forwarded since the last call. */
    long takeTokens() {
        long t = tokens;
        tokens = 0;
        return t;
    }
}
