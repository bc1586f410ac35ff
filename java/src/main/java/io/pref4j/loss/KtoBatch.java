package io.pref4j.loss;

import java.lang.foreign.MemorySegment;

/**
 * The input of KTO: S unpaired sequences with a boolean label.
 *
 * @param logp    [S] float: Σ_t log π_θ over each sequence's response tokens
 * @param refLogp [S] float: the same under π_ref
 * @param labels  [S] int: 1 desirable, 0 undesirable
 * @param zRef    the reference point: the detached KL estimate max(0, mean(logp − ref)) over
 *                mismatched prompt–completion pairs ({@link KtoLoss#klEstimate}); 0 turns it off
 */
public record KtoBatch(MemorySegment logp, MemorySegment refLogp, MemorySegment labels, int sequences, double zRef) {
    public KtoBatch {
        if (sequences < 0) throw new IllegalArgumentException("negative size");
        if (logp == null || refLogp == null || labels == null)
            throw new IllegalArgumentException("logp, refLogp and labels are required");
        if (!Double.isFinite(zRef)) throw new IllegalArgumentException("zRef must be finite, got " + zRef);
    }
}
