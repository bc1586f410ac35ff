package io.pref4j.loss;

import java.lang.foreign.MemorySegment;

/**
 * The input of a pairwise loss: per-sequence sums over response tokens for S sequences and
 * P pairs indexing into them (a sequence may be in several pairs, e.g. all-pairs
 * construction). Buffers belong to the Kernels backend that computes the loss.
 *
 * @param logp        [S] float: Σ_t log π_θ over each sequence's response tokens
 * @param refLogp     [S] float: the same under π_ref (required by dpo, ipo, hinge, wdpo;
 *                    simpo and orpo are reference-free and ignore it, so it may be null there)
 * @param rewards     [S] float: task rewards (wdpo weights only; may be null otherwise)
 * @param chosenIdx   [P] int: the preferred sequence of each pair
 * @param rejectedIdx [P] int: the other one
 * @param lengths     [S] int: response tokens per sequence (simpo and orpo divide by them,
 *                    ≥ 1 for every sequence in a pair; may be null for the other types)
 */
public record PairBatch(MemorySegment logp, MemorySegment refLogp, MemorySegment rewards,
                        MemorySegment chosenIdx, MemorySegment rejectedIdx, int sequences, int pairs,
                        MemorySegment lengths) {
    public PairBatch {
        if (sequences < 0 || pairs < 0) throw new IllegalArgumentException("negative size");
        if (logp == null || chosenIdx == null || rejectedIdx == null)
            throw new IllegalArgumentException("logp, chosenIdx and rejectedIdx are required");
    }

    /** A batch without lengths (dpo, ipo, hinge, wdpo). */
    public PairBatch(MemorySegment logp, MemorySegment refLogp, MemorySegment rewards,
                     MemorySegment chosenIdx, MemorySegment rejectedIdx, int sequences, int pairs) {
        this(logp, refLogp, rewards, chosenIdx, rejectedIdx, sequences, pairs, null);
    }
}
