/**
 * The losses of SPEC §2, thin over the fused loss kernels of {@link io.pref4j.kernel.Kernels}
 * (the "losses" section there is the exact definition of each).
 *
 * <p>Use: {@code Loss loss = Losses.create(LossConfig.fromMap(fields))}, then by family
 * <ul>
 *   <li>{@link io.pref4j.loss.PairwiseLoss} (dpo, ipo, hinge, wdpo):
 *       {@code compute(k, new PairBatch(logp, ref, rewards, chosenIdx, rejectedIdx, S, P), dlogp)};</li>
 *   <li>{@link io.pref4j.loss.SampleLoss} (sft/nll, rwr, bon, reinforce):
 *       {@code compute(k, new SampleBatch(logp, ref, lengths, rewards, groups, S, G, entropy), dlogp)};</li>
 *   <li>{@link io.pref4j.loss.PpoLoss}: {@code advantages(k, batch)} once per rollout,
 *       {@code compute(k, batch, dlogp, dvalue)} per minibatch, and
 *       {@code klController().update(kl, n)} after each rollout;</li>
 *   <li>{@link io.pref4j.loss.GrpoLoss} (grpo, with loss_type, scale_rewards and
 *       importance_sampling_level giving DAPO, Dr. GRPO, GSPO): {@code advantages(k, batch)}
 *       once per generation batch, {@code compute(k, batch, dlogp)} per minibatch (per-token
 *       dlogp, as PPO);</li>
 *   <li>{@link io.pref4j.loss.KtoLoss}: {@code compute(k, new KtoBatch(logp, ref, labels, S,
 *       zRef), dlogp)} with zRef from {@code KtoLoss.klEstimate} over mismatched pairs;</li>
 *   <li>simpo and orpo are {@link io.pref4j.loss.PairwiseLoss} types that need the batch's
 *       lengths and no reference log-probs ({@code needsLengths()}, {@code needsReference()}).</li>
 * </ul>
 * Each returns a {@link io.pref4j.loss.LossResult} (loss, ordered metrics) and overwrites
 * the gradient buffers with ∂loss/∂(per-sequence log-prob sums) (PPO: per-token log-probs and
 * values), which the trainer spreads over the response tokens for the model's backward.
 *
 * <p>Choices the SPEC leaves open, made here:
 * <ul>
 *   <li>Log-probs are sums over response tokens everywhere; IPO's h uses those sums (not
 *       TRL's per-token averages), so 1/(2τ) is a margin on summed log-ratios.</li>
 *   <li>Every loss is a mean: over pairs (pairwise), over sequences with a response
 *       (sft, rwr; rwr filter mode over the kept ones), over prompt groups (bon), over
 *       sequences (reinforce), over response tokens of the batch (ppo).</li>
 *   <li>Zero-length responses are skipped by sft and rwr (no loss, no gradient, not
 *       counted); their log-prob is 0 for the other losses.</li>
 *   <li>wdpo weights and the REINFORCE KL penalty r' = r − c·(logp − ref) are constants: no
 *       gradient flows through them. Advantages are clipped to ±adv_clip (10) after the
 *       baseline. The moving-average baseline starts at the first batch's mean.</li>
 *   <li>PPO advantages come from the rollout's (old) log-probs and values, are whitened
 *       over all response tokens of the rollout batch passed to {@code advantages} (unbiased
 *       variance, eps 1e-8, as TRL), and returns = unwhitened advantages + old values.</li>
 *   <li>Label smoothing also applies to wdpo's DPO term; implicit-reward metrics use β for
 *       every pairwise type except orpo (λ·lp, as TRL).</li>
 *   <li>grpo follows TRL's GRPOTrainer: advantages r − group mean over (std + 1e-4), unbiased
 *       std; every prompt group needs ≥ 2 responses; dapo equals bnpo here (one process, no
 *       global token count); dr_grpo's constant is the batch's maxCompletionLength; the KL
 *       term is k3 and needs reference log-probs only when beta ≠ 0 (beta may be 0 for grpo
 *       alone); epsilon_high = 0 means epsilon.</li>
 *   <li>kto's reference point is the caller's (TRL: max(0, mean over mismatched pairs),
 *       detached); the loss is the mean over all examples of the weighted terms.</li>
 *   <li>orpo's SFT term is the chosen response's token mean averaged over pairs (the paper);
 *       TRL averages it over all chosen tokens of the batch, the same when lengths are equal.</li>
 * </ul>
 */
package io.pref4j.loss;
