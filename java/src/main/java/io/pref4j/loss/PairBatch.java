package io.pref4j.loss;

import java.lang.foreign.MemorySegment;

/**
 * The input of a pairwise loss: per-sequence sums over response tokens for S sequences and
 * P pairs indexing into them (a sequence may be in several pairs, e.g. all-pairs
 * construction). Buffers belong to the Kernels backend that computes the loss.
 *
 * @param logp        [S] float: Σ_t log π_θ over each sequence's response tokens
 * @param refLogp     [S] float: the same under π_ref
 * @param rewards     [S] float: task rewards (wdpo weights only; may be null otherwise)
 * @param chosenIdx   [P] int: the preferred sequence of each pair
 * @param rejectedIdx [P] int: the other one
 */
public record PairBatch(MemorySegment logp, MemorySegment refLogp, MemorySegment rewards,
                        MemorySegment chosenIdx, MemorySegment rejectedIdx, int sequences, int pairs) {
    public PairBatch {
        if (sequences < 0 || pairs < 0) throw new IllegalArgumentException("negative size");
        if (logp == null || refLogp == null || chosenIdx == null || rejectedIdx == null)
            throw new IllegalArgumentException("logp, refLogp, chosenIdx and rejectedIdx are required");
    }
}
