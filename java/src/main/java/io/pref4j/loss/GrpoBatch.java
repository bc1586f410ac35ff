package io.pref4j.loss;

import java.lang.foreign.MemorySegment;

/**
 * The input of GRPO: B rows (completions) of T positions, every per-token buffer [B·T] float
 * (mask int), laid out as {@link PpoBatch}'s; per-row buffers [B].
 *
 * @param logp        current policy log-probs (recomputed each minibatch)
 * @param oldLogp     log-probs of the policy that generated the rows (with one iteration per
 *                    generation, μ = 1, the current ones detached)
 * @param refLogp     π_ref log-probs, or null when beta = 0
 * @param mask        [B·T] int, ≠ 0 on completion tokens
 * @param rewards     [B] the rows' rewards (read by {@link GrpoLoss#advantages})
 * @param groups      [B] int: each row's prompt group in [0, numGroups)
 * @param advantages  [B] written by {@link GrpoLoss#advantages}, read by {@link GrpoLoss#compute}
 * @param maxCompletionLength the generation's maximum completion length (TRL's
 *                    max_completion_length): dr_grpo's constant normaliser (≥ 1 there; unread otherwise)
 * @param meanEntropy mean per-token entropy if the caller has it, else NaN
 */
public record GrpoBatch(MemorySegment logp, MemorySegment oldLogp, MemorySegment refLogp, MemorySegment mask,
                        MemorySegment rewards, MemorySegment groups, MemorySegment advantages,
                        int rows, int T, int numGroups, int maxCompletionLength, double meanEntropy) {
    public GrpoBatch {
        if (rows < 0 || T < 0 || numGroups < 0) throw new IllegalArgumentException("negative size");
        if (advantages == null) throw new IllegalArgumentException("advantages are required");
    }
}
