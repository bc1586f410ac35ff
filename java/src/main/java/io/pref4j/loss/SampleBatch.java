package io.pref4j.loss;

import java.lang.foreign.MemorySegment;

/**
 * The input of a per-sample loss (sft/nll, rwr, bon, reinforce) over S sequences.
 *
 * @param logp        [S] float: Σ_t log π_θ over response tokens
 * @param refLogp     [S] float or null: the same under π_ref (needed by a reinforce KL
 *                    penalty; gives the "kl" metric when present)
 * @param lengths     [S] int: response tokens (sft and rwr divide by it; 0 = skipped)
 * @param rewards     [S] float or null: task rewards (rwr, bon, reinforce)
 * @param groups      [S] int or null: prompt index in [0, numGroups) (bon, rwr filter,
 *                    per-prompt baselines)
 * @param meanEntropy the policy's mean per-token entropy if the caller has it (reported as
 *                    "entropy"), else NaN
 */
public record SampleBatch(MemorySegment logp, MemorySegment refLogp, MemorySegment lengths,
                          MemorySegment rewards, MemorySegment groups, int sequences, int numGroups,
                          double meanEntropy) {
    public SampleBatch {
        if (sequences < 0 || numGroups < 0) throw new IllegalArgumentException("negative size");
        if (logp == null) throw new IllegalArgumentException("logp is required");
    }
}
