package io.pref4j.loss;

import java.lang.foreign.MemorySegment;

/**
 * The token-level input of PPO: B rows of T positions, every per-token buffer [B·T] float
 * (mask int). Position t of a row holds the log-prob of the action taken at t (the target
 * token) and the value of the state before it, as the GPT's forward writes them.
 *
 * @param logp        current policy log-probs (recomputed each minibatch)
 * @param oldLogp     behaviour-policy log-probs from the rollout
 * @param refLogp     π_ref log-probs
 * @param values      current value-head outputs
 * @param oldValues   value-head outputs from the rollout
 * @param scores      [B] the sequence reward, added at each row's last response token
 * @param mask        [B·T] int, ≠ 0 on response tokens
 * @param advantages  [B·T] written by {@link PpoLoss#advantages}, read by {@link PpoLoss#compute}
 * @param returns     [B·T] likewise
 * @param meanEntropy mean per-token entropy if the caller has it, else NaN
 */
public record PpoBatch(MemorySegment logp, MemorySegment oldLogp, MemorySegment refLogp,
                       MemorySegment values, MemorySegment oldValues, MemorySegment scores, MemorySegment mask,
                       MemorySegment advantages, MemorySegment returns, int rows, int T, double meanEntropy) {
    public PpoBatch {
        if (rows < 0 || T < 0) throw new IllegalArgumentException("negative size");
    }
}
