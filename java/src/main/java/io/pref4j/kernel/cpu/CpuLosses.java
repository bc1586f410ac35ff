package io.pref4j.kernel.cpu;

import io.pref4j.kernel.Kernels.LossOps;

import java.lang.foreign.MemorySegment;

import static io.pref4j.kernel.cpu.CpuKernels.F32;
import static io.pref4j.kernel.cpu.CpuKernels.I32;

/**
 * The fused losses of {@link io.pref4j.kernel.Kernels} ("losses" section): single-threaded
 * loops over per-sequence (or per-token, for PPO) buffers with every intermediate in
 * double. They are cheap next to the model, so clarity wins over speed here; the Javadoc
 * of each Kernels method is the specification. Per-group scratch (best-of-N, RWR filter,
 * per-prompt baselines, GRPO advantages) is kept across calls, so one instance must not be called from two
 * threads at once.
 */
final class CpuLosses {

    private double[] gSum = new double[0], gSq = new double[0];
    private int[] gCount = new int[0], gArg = new int[0], gArg2 = new int[0];
    private double[] seq = new double[0];

    /** Per-sequence double scratch, zeroed. */
    private double[] seq(int S) {
        if (seq.length < S) seq = new double[S];
        java.util.Arrays.fill(seq, 0, S, 0);
        return seq;
    }

    // ---------------------------------------------------------------- helpers

    private static float f(MemorySegment x, long i) {
        return x.getAtIndex(F32, i);
    }

    private static int in(MemorySegment x, long i) {
        return x.getAtIndex(I32, i);
    }

    private static void put(MemorySegment x, long i, double v) {
        x.setAtIndex(F32, i, (float) v);
    }

    /** log σ(x), stable for large |x|. */
    static double logSigmoid(double x) {
        return Math.min(x, 0) - Math.log1p(Math.exp(-Math.abs(x)));
    }

    static double sigmoid(double x) {
        if (x >= 0) return 1 / (1 + Math.exp(-x));
        double e = Math.exp(x);
        return e / (1 + e);
    }

    private void ensureGroups(int G) {
        if (gSum.length < G) {
            gSum = new double[G];
            gSq = new double[G];
            gCount = new int[G];
            gArg = new int[G];
            gArg2 = new int[G];
        }
        java.util.Arrays.fill(gSum, 0, G, 0);
        java.util.Arrays.fill(gSq, 0, G, 0);
        java.util.Arrays.fill(gCount, 0, G, 0);
        java.util.Arrays.fill(gArg, 0, G, -1);
        java.util.Arrays.fill(gArg2, 0, G, -1);
    }

    private static int group(MemorySegment groups, int i, int G) {
        int g = in(groups, i);
        if (g < 0 || g >= G) throw new IllegalArgumentException("groups[" + i + "] = " + g + " is outside [0, " + G + ")");
        return g;
    }

    /** Writes MEAN_REWARD and KL over S sequences when their inputs are present. */
    private static void rewardAndKl(MemorySegment metrics, MemorySegment logp, MemorySegment refLogp,
                                    MemorySegment rewards, int S) {
        if (S == 0) return;
        if (rewards != null) {
            double s = 0;
            for (int i = 0; i < S; i++) s += f(rewards, i);
            put(metrics, LossOps.MEAN_REWARD, s / S);
        }
        if (refLogp != null) {
            double s = 0;
            for (int i = 0; i < S; i++) s += (double) f(logp, i) - f(refLogp, i);
            put(metrics, LossOps.KL, s / S);
        }
    }

    // ---------------------------------------------------------------- pairwise

    void pairwise(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment refLogp,
                  MemorySegment rewards, MemorySegment chosenIdx, MemorySegment rejectedIdx, int S, int P,
                  int type, int weightMode, float beta, float labelSmoothing, float ipoTau, float beta2) {
        if (type == LossOps.SIMPO || type == LossOps.ORPO)
            throw new IllegalArgumentException("simpo and orpo are lengthNormPairwiseLoss types, not pairwiseLoss ones");
        if (type < LossOps.DPO || type > LossOps.WDPO) throw new IllegalArgumentException("unknown pairwise type " + type);
        if (weightMode < LossOps.WEIGHT_NONE || weightMode > LossOps.WEIGHT_LINEAR)
            throw new IllegalArgumentException("unknown weight mode " + weightMode);
        boolean weighted = type == LossOps.WDPO && weightMode != LossOps.WEIGHT_NONE;
        if (weighted && rewards == null) throw new IllegalArgumentException("wdpo weights need rewards");
        double[] grad = seq(S);
        for (int i = 0; i < P; i++) {
            int c = in(chosenIdx, i), r = in(rejectedIdx, i);
            if (c < 0 || c >= S || r < 0 || r >= S)
                throw new IllegalArgumentException("pair " + i + " indexes (" + c + ", " + r + ") outside [0, " + S + ")");
        }
        // exp weights: max and normaliser of β₂Δr over the batch
        double maxZ = Double.NEGATIVE_INFINITY, sumE = 0;
        if (weighted && weightMode == LossOps.WEIGHT_EXP) {
            for (int i = 0; i < P; i++) maxZ = Math.max(maxZ, beta2 * deltaR(rewards, chosenIdx, rejectedIdx, i));
            for (int i = 0; i < P; i++) sumE += Math.exp(beta2 * deltaR(rewards, chosenIdx, rejectedIdx, i) - maxZ);
        }
        double b = beta, eps = labelSmoothing;
        double loss = 0, sumH = 0, sumCw = 0, sumCl = 0, correct = 0, sumW = 0;
        for (int i = 0; i < P; i++) {
            int c = in(chosenIdx, i), r = in(rejectedIdx, i);
            double lw = (double) f(logp, c) - f(refLogp, c);
            double ll = (double) f(logp, r) - f(refLogp, r);
            double h = lw - ll;
            double w = 1;
            if (weighted) {
                double z = beta2 * deltaR(rewards, chosenIdx, rejectedIdx, i);
                w = switch (weightMode) {
                    case LossOps.WEIGHT_EXP -> P * Math.exp(z - maxZ) / sumE;
                    case LossOps.WEIGHT_SIGMOID -> sigmoid(z);
                    default -> z;
                };
            }
            double l, dh;
            switch (type) {
                case LossOps.IPO -> {
                    double u = h - 1.0 / (2.0 * ipoTau);
                    l = u * u;
                    dh = 2 * u;
                }
                case LossOps.HINGE -> {
                    double u = 1 - b * h;
                    l = Math.max(0, u);
                    dh = u > 0 ? -b : 0;
                }
                default -> { // DPO, WDPO
                    double x = b * h;
                    l = -(1 - eps) * logSigmoid(x) - eps * logSigmoid(-x);
                    dh = -b * ((1 - eps) * sigmoid(-x) - eps * sigmoid(x));
                }
            }
            loss += w * l;
            double g = w * dh / P;
            grad[c] += g;
            grad[r] -= g;
            sumH += h;
            sumCw += b * lw;
            sumCl += b * ll;
            if (h > 0) correct++;
            sumW += w;
        }
        for (int i = 0; i < S; i++) put(dlogp, i, grad[i]);
        double n = Math.max(P, 1);
        put(metrics, LossOps.LOSS, loss / n);
        put(metrics, LossOps.MEAN_H, sumH / n);
        put(metrics, LossOps.CHOSEN_REWARD, sumCw / n);
        put(metrics, LossOps.REJECTED_REWARD, sumCl / n);
        put(metrics, LossOps.MARGIN, (sumCw - sumCl) / n);
        put(metrics, LossOps.ACCURACY, correct / n);
        put(metrics, LossOps.MEAN_WEIGHT, P == 0 ? 0 : sumW / n);
        put(metrics, LossOps.COUNT, P);
    }

    private static double deltaR(MemorySegment rewards, MemorySegment chosenIdx, MemorySegment rejectedIdx, int i) {
        return (double) f(rewards, in(chosenIdx, i)) - f(rewards, in(rejectedIdx, i));
    }

    // ---------------------------------------------------------------- per-sample

    void sft(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment refLogp,
             MemorySegment lengths, MemorySegment rewards, int S) {
        int n = 0;
        for (int i = 0; i < S; i++) if (in(lengths, i) > 0) n++;
        double loss = 0;
        for (int i = 0; i < S; i++) {
            int len = in(lengths, i);
            if (len <= 0) {
                dlogp.setAtIndex(F32, i, 0f);
                continue;
            }
            loss -= f(logp, i) / (double) len;
            put(dlogp, i, -1.0 / ((double) len * n));
        }
        put(metrics, LossOps.LOSS, n == 0 ? 0 : loss / n);
        put(metrics, LossOps.MEAN_WEIGHT, n == 0 ? 0 : 1);
        put(metrics, LossOps.COUNT, n);
        rewardAndKl(metrics, logp, refLogp, rewards, S);
    }

    void rwr(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment refLogp,
             MemorySegment lengths, MemorySegment rewards, MemorySegment groups, int S, int G,
             boolean filter, int topK, float tau, float wMax) {
        if (rewards == null) throw new IllegalArgumentException("rwr needs rewards");
        if (filter) {
            if (groups == null) throw new IllegalArgumentException("rwr filter mode needs groups");
            if (topK < 1) throw new IllegalArgumentException("topK must be >= 1, got " + topK);
            for (int i = 0; i < S; i++) group(groups, i, G);
        }
        // pass 1: weights, the normaliser
        double[] ws = seq(S);
        int n = 0;
        double norm = 0, sumW = 0;
        for (int i = 0; i < S; i++) {
            double w;
            if (filter) {
                // rank of i within its group: members with a higher reward, or equal and a lower index
                int g = in(groups, i), rank = 0;
                float ri = f(rewards, i);
                for (int j = 0; j < S && rank < topK; j++) {
                    if (j == i || in(groups, j) != g) continue;
                    float rj = f(rewards, j);
                    if (rj > ri || (rj == ri && j < i)) rank++;
                }
                w = rank < topK ? 1 : 0;
            } else {
                w = Math.min(Math.exp((double) f(rewards, i) / tau), wMax);
            }
            ws[i] = w;
            if (in(lengths, i) > 0) {
                n++;
                sumW += w;
                norm += filter ? w : 1;
            }
        }
        double loss = 0;
        for (int i = 0; i < S; i++) {
            int len = in(lengths, i);
            double w = ws[i];
            if (len <= 0 || norm == 0) {
                dlogp.setAtIndex(F32, i, 0f);
                continue;
            }
            loss -= w * f(logp, i) / len;
            put(dlogp, i, 0.0 - w / (len * norm));
        }
        put(metrics, LossOps.LOSS, norm == 0 ? 0 : loss / norm);
        put(metrics, LossOps.MEAN_WEIGHT, n == 0 ? 0 : sumW / n);
        put(metrics, LossOps.COUNT, n);
        rewardAndKl(metrics, logp, refLogp, rewards, S);
    }

    void bestOfN(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment refLogp,
                 MemorySegment rewards, MemorySegment groups, int S, int G, int negativeMode, float betaNeg) {
        if (negativeMode < LossOps.NEG_NONE || negativeMode > LossOps.NEG_WORST)
            throw new IllegalArgumentException("unknown negative mode " + negativeMode);
        ensureGroups(G);
        // best (gArg) and worst (gArg2) per group, ties to the lower index
        for (int i = 0; i < S; i++) {
            int g = group(groups, i, G);
            gCount[g]++;
            float r = f(rewards, i);
            if (gArg[g] < 0 || r > f(rewards, gArg[g])) gArg[g] = i;
            if (gArg2[g] < 0 || r < f(rewards, gArg2[g])) gArg2[g] = i;
        }
        // number of strictly worse members per group (in gSum)
        for (int i = 0; i < S; i++) {
            int g = in(groups, i);
            if (f(rewards, i) < f(rewards, gArg[g])) gSum[g]++;
        }
        int groupsUsed = 0;
        for (int g = 0; g < G; g++) if (gCount[g] > 0) groupsUsed++;
        double loss = 0, sumC = 0;
        for (int i = 0; i < S; i++) {
            int g = in(groups, i), best = gArg[g];
            double c = 0;
            if (i == best) c = 1;
            else if (f(rewards, i) < f(rewards, best)) {
                if (negativeMode == LossOps.NEG_AVERAGE_OVER_WORSE) c = -betaNeg / gSum[g];
                else if (negativeMode == LossOps.NEG_WORST && i == gArg2[g]) c = -(double) betaNeg;
            }
            loss -= c * f(logp, i);
            sumC += c;
            put(dlogp, i, groupsUsed == 0 ? 0 : 0.0 - c / groupsUsed);
        }
        put(metrics, LossOps.LOSS, groupsUsed == 0 ? 0 : loss / groupsUsed);
        put(metrics, LossOps.MEAN_WEIGHT, S == 0 ? 0 : sumC / S);
        put(metrics, LossOps.COUNT, groupsUsed);
        rewardAndKl(metrics, logp, refLogp, rewards, S);
    }

    void reinforce(MemorySegment metrics, MemorySegment dlogp, MemorySegment state, MemorySegment logp,
                   MemorySegment refLogp, MemorySegment rewards, MemorySegment groups, int S, int G,
                   int baseline, float decay, float klCoef, float clipAdv) {
        if (baseline < LossOps.BASELINE_NONE || baseline > LossOps.BASELINE_RLOO)
            throw new IllegalArgumentException("unknown baseline " + baseline);
        if (klCoef != 0 && refLogp == null) throw new IllegalArgumentException("a KL penalty needs reference log-probs");
        boolean perPrompt = baseline == LossOps.BASELINE_PER_PROMPT_MEAN || baseline == LossOps.BASELINE_RLOO;
        if (perPrompt) {
            if (groups == null) throw new IllegalArgumentException("a per-prompt baseline needs groups");
            ensureGroups(G);
        }
        if (baseline == LossOps.BASELINE_MOVING_AVERAGE && state == null)
            throw new IllegalArgumentException("the moving-average baseline needs its state buffer");
        // r' = r − c·(logp − ref), a constant
        double[] rp = seq(S);
        double mean = 0;
        for (int i = 0; i < S; i++) {
            double r = f(rewards, i);
            if (klCoef != 0) r -= klCoef * ((double) f(logp, i) - f(refLogp, i));
            rp[i] = r;
            mean += r;
            if (perPrompt) {
                int g = group(groups, i, G);
                gSum[g] += r;
                gCount[g]++;
            }
        }
        mean = S == 0 ? 0 : mean / S;
        if (baseline == LossOps.BASELINE_RLOO) {
            for (int g = 0; g < G; g++)
                if (gCount[g] == 1)
                    throw new IllegalArgumentException("rloo needs at least 2 responses per prompt; group " + g + " has 1");
        }
        double bShared = switch (baseline) {
            case LossOps.BASELINE_BATCH_MEAN -> mean;
            case LossOps.BASELINE_MOVING_AVERAGE -> f(state, 1) == 0 ? mean : f(state, 0);
            default -> 0;
        };
        double loss = 0, sumA = 0;
        for (int i = 0; i < S; i++) {
            double r = rp[i];
            double b = bShared;
            if (perPrompt) {
                int g = in(groups, i);
                b = baseline == LossOps.BASELINE_RLOO ? (gSum[g] - r) / (gCount[g] - 1) : gSum[g] / gCount[g];
            }
            double a = Math.max(-clipAdv, Math.min(clipAdv, r - b));
            loss -= a * f(logp, i);
            sumA += a;
            put(dlogp, i, 0.0 - a / S);
        }
        if (baseline == LossOps.BASELINE_MOVING_AVERAGE && S > 0) {
            if (f(state, 1) == 0) {
                put(state, 0, mean);
                put(state, 1, 1);
            } else {
                put(state, 0, decay * f(state, 0) + (1 - (double) decay) * mean);
            }
        }
        put(metrics, LossOps.LOSS, S == 0 ? 0 : loss / S);
        put(metrics, LossOps.MEAN_WEIGHT, S == 0 ? 0 : sumA / S);
        put(metrics, LossOps.COUNT, S);
        rewardAndKl(metrics, logp, refLogp, rewards, S);
    }

    // ---------------------------------------------------------------- PPO

    void ppoAdvantages(MemorySegment metrics, MemorySegment advantages, MemorySegment returns,
                       MemorySegment oldLogp, MemorySegment refLogp, MemorySegment oldValues,
                       MemorySegment scores, MemorySegment mask, int B, int T,
                       float klCoef, float gamma, float lambda, boolean whiten) {
        double[] adv = seq(B * T);
        int rows = 0;
        long count = 0;
        double sumScore = 0, sumKl = 0, sumAdv = 0, sumRet = 0;
        for (int b = 0; b < B; b++) {
            long base = (long) b * T;
            int last = -1;
            for (int t = T - 1; t >= 0; t--) {
                if (in(mask, base + t) != 0) {
                    last = t;
                    break;
                }
            }
            double a = 0, vNext = 0, kl = 0;
            for (int t = T - 1; t >= 0; t--) {
                long i = base + t;
                if (in(mask, i) == 0) {
                    advantages.setAtIndex(F32, i, 0f);
                    returns.setAtIndex(F32, i, 0f);
                    continue;
                }
                double logRatio = (double) f(oldLogp, i) - f(refLogp, i);
                kl += logRatio;
                double r = -klCoef * logRatio;
                if (t == last) r += f(scores, b);
                double v = f(oldValues, i);
                double delta = r + gamma * vNext - v;
                a = delta + (double) gamma * lambda * a;
                vNext = v;
                adv[(int) i] = a;
                put(returns, i, a + v);
                sumAdv += a;
                sumRet += a + v;
                count++;
            }
            if (last >= 0) {
                rows++;
                sumScore += f(scores, b);
                sumKl += kl;
            }
        }
        if (whiten && count > 0) {
            double mean = sumAdv / count, ss = 0;
            for (int i = 0; i < B * T; i++) {
                if (in(mask, i) == 0) continue;
                double d = adv[i] - mean;
                ss += d * d;
            }
            // unbiased variance, as TRL's masked_var; one token gives 0
            double var = count > 1 ? ss / (count - 1) : 0;
            double rstd = 1 / Math.sqrt(var + 1e-8);
            for (int i = 0; i < B * T; i++) if (in(mask, i) != 0) adv[i] = (adv[i] - mean) * rstd;
        }
        for (int i = 0; i < B * T; i++) put(advantages, i, adv[i]);
        put(metrics, LossOps.MEAN_REWARD, rows == 0 ? 0 : sumScore / rows);
        put(metrics, LossOps.KL, rows == 0 ? 0 : sumKl / rows);
        put(metrics, LossOps.MEAN_RETURN, count == 0 ? 0 : sumRet / count);
        put(metrics, LossOps.COUNT, count);
    }

    void ppoLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment dvalue,
                 MemorySegment logp, MemorySegment oldLogp, MemorySegment values, MemorySegment oldValues,
                 MemorySegment advantages, MemorySegment returns, MemorySegment mask, int B, int T,
                 float clipEps, float valueClip, float vfCoef) {
        long n = (long) B * T, count = 0;
        for (long i = 0; i < n; i++) if (in(mask, i) != 0) count++;
        double inv = count == 0 ? 0 : 1.0 / count;
        double pg = 0, vl = 0, clipped = 0, approxKl = 0;
        double lo = 1 - (double) clipEps, hi = 1 + (double) clipEps;
        for (long i = 0; i < n; i++) {
            if (in(mask, i) == 0) {
                dlogp.setAtIndex(F32, i, 0f);
                dvalue.setAtIndex(F32, i, 0f);
                continue;
            }
            double d = (double) f(logp, i) - f(oldLogp, i);
            double ratio = Math.exp(d);
            double a = f(advantages, i);
            double l1 = -a * ratio;
            double l2 = -a * Math.min(hi, Math.max(lo, ratio));
            boolean ratioInside = ratio >= lo && ratio <= hi;
            double dl; // d max(l1, l2) / d logp
            if (l1 > l2) dl = -a * ratio;
            else if (l1 < l2) dl = ratioInside ? -a * ratio : 0;
            else dl = ratioInside ? -a * ratio : -a * ratio * 0.5; // tie: PyTorch splits the gradient
            pg += Math.max(l1, l2);
            if (l2 > l1) clipped++;
            approxKl += 0.5 * d * d;
            put(dlogp, i, dl * inv);

            double v = f(values, i), vOld = f(oldValues, i), ret = f(returns, i);
            double vc = Math.min(vOld + valueClip, Math.max(vOld - valueClip, v));
            boolean vInside = v >= vOld - valueClip && v <= vOld + valueClip;
            double u1 = (v - ret) * (v - ret), u2 = (vc - ret) * (vc - ret);
            double dv;
            if (u1 > u2) dv = 2 * (v - ret);
            else if (u1 < u2) dv = vInside ? 2 * (vc - ret) : 0;
            else dv = vInside ? 2 * (v - ret) : (v - ret);
            vl += 0.5 * Math.max(u1, u2);
            put(dvalue, i, 0.5 * dv * vfCoef * inv);
        }
        put(metrics, LossOps.POLICY_LOSS, pg * inv);
        put(metrics, LossOps.VALUE_LOSS, vl * inv);
        put(metrics, LossOps.LOSS, (pg + vfCoef * vl) * inv);
        put(metrics, LossOps.CLIP_FRAC, clipped * inv);
        put(metrics, LossOps.APPROX_KL, approxKl * inv);
        put(metrics, LossOps.COUNT, count);
    }
    // ---------------------------------------------------------------- GRPO

    void grpoAdvantages(MemorySegment metrics, MemorySegment advantages, MemorySegment rewards,
                        MemorySegment groups, int B, int G, int scaleRewards) {
        if (scaleRewards < LossOps.SCALE_NONE || scaleRewards > LossOps.SCALE_BATCH)
            throw new IllegalArgumentException("unknown reward scaling " + scaleRewards);
        ensureGroups(G);
        double sum = 0;
        for (int i = 0; i < B; i++) {
            int g = group(groups, i, G);
            double r = f(rewards, i);
            gSum[g] += r;
            gCount[g]++;
            sum += r;
        }
        int used = 0;
        for (int g = 0; g < G; g++) {
            if (gCount[g] == 1)
                throw new IllegalArgumentException("grpo needs at least 2 responses per prompt; group " + g + " has 1");
            if (gCount[g] > 0) used++;
        }
        double mean = B == 0 ? 0 : sum / B, ss = 0;
        for (int i = 0; i < B; i++) {
            int g = in(groups, i);
            double r = f(rewards, i), dg = r - gSum[g] / gCount[g], db = r - mean;
            gSq[g] += dg * dg;
            ss += db * db;
        }
        double batchStd = B > 1 ? Math.sqrt(ss / (B - 1)) : 0;
        double sumStd = 0;
        for (int i = 0; i < B; i++) {
            int g = in(groups, i);
            double groupStd = Math.sqrt(gSq[g] / (gCount[g] - 1));
            double std = scaleRewards == LossOps.SCALE_BATCH ? batchStd : groupStd;
            double a = f(rewards, i) - gSum[g] / gCount[g];
            if (scaleRewards != LossOps.SCALE_NONE) a /= std + 1e-4;
            put(advantages, i, a);
            sumStd += std;
        }
        int zero = 0;
        for (int g = 0; g < G; g++) if (gCount[g] > 0 && gSq[g] == 0) zero++;
        put(metrics, LossOps.MEAN_REWARD, mean);
        put(metrics, LossOps.REWARD_STD, B == 0 ? 0 : sumStd / B);
        put(metrics, LossOps.ZERO_STD_FRAC, used == 0 ? 0 : (double) zero / used);
        put(metrics, LossOps.COUNT, used);
    }

    /**
     * The clipped surrogate −min(ρA, clip(ρ, lo, hi)·A) at ratio ρ: {value, ∂/∂ρ}, with
     * PyTorch's gradients (clamp passes it on the closed interval; a tie of the min splits it).
     */
    static void surrogate(double ratio, double a, double lo, double hi, double[] out) {
        double l1 = ratio * a, l2 = Math.min(hi, Math.max(lo, ratio)) * a;
        boolean inside = ratio >= lo && ratio <= hi;
        out[0] = -Math.min(l1, l2);
        if (l1 < l2) out[1] = -a;
        else if (l1 > l2) out[1] = inside ? -a : 0;
        else out[1] = inside ? -a : -a * 0.5;
    }

    void grpoLoss(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment oldLogp,
                  MemorySegment refLogp, MemorySegment advantages, MemorySegment mask, int B, int T,
                  int lossType, int importanceLevel, float epsilon, float epsilonHigh, float beta,
                  int maxCompletionLength) {
        if (lossType < LossOps.AGG_GRPO || lossType > LossOps.AGG_DAPO)
            throw new IllegalArgumentException("unknown grpo loss type " + lossType);
        if (importanceLevel != LossOps.IS_TOKEN && importanceLevel != LossOps.IS_SEQUENCE)
            throw new IllegalArgumentException("unknown importance-sampling level " + importanceLevel);
        if (beta != 0 && refLogp == null) throw new IllegalArgumentException("a KL term (beta != 0) needs reference log-probs");
        if (lossType == LossOps.AGG_DR_GRPO && maxCompletionLength < 1)
            throw new IllegalArgumentException("dr_grpo needs maxCompletionLength >= 1, got " + maxCompletionLength);
        long n = (long) B * T, count = 0;
        for (long i = 0; i < n; i++) if (in(mask, i) != 0) count++;
        double lo = 1 - (double) epsilon, hi = 1 + (double) epsilonHigh, bt = beta;
        boolean seqLevel = importanceLevel == LossOps.IS_SEQUENCE;
        double loss = 0, kl = 0, low = 0, high = 0, region = 0;
        double[] u = new double[2];
        for (int b = 0; b < B; b++) {
            long base = (long) b * T;
            int nb = 0;
            double sumD = 0;
            for (int t = 0; t < T; t++) {
                if (in(mask, base + t) == 0) continue;
                nb++;
                sumD += (double) f(logp, base + t) - f(oldLogp, base + t);
            }
            double w = switch (lossType) { // the weight of each of the row's token terms
                case LossOps.AGG_GRPO -> 1.0 / ((double) B * Math.max(nb, 1));
                case LossOps.AGG_DR_GRPO -> 1.0 / ((double) B * maxCompletionLength);
                default -> count == 0 ? 0 : 1.0 / count;
            };
            double a = f(advantages, b);
            double sRatio = 0, sGrad = 0, sValue = 0;
            if (seqLevel) {
                sRatio = Math.exp(sumD / Math.max(nb, 1));
                surrogate(sRatio, a, lo, hi, u);
                sValue = u[0];
                sGrad = u[1] * sRatio; // ∂u/∂(mean d); ∂(mean d)/∂logp_t = 1/n_b, times the n_b terms
                boolean l = sRatio < lo && a < 0, h = sRatio > hi && a > 0;
                if (l) low++;
                if (h) high++;
                if (l || h) region++;
            }
            for (int t = 0; t < T; t++) {
                long i = base + t;
                if (in(mask, i) == 0) {
                    dlogp.setAtIndex(F32, i, 0f);
                    continue;
                }
                double lp = f(logp, i);
                double term, g;
                if (seqLevel) {
                    term = sValue;
                    g = sGrad;
                } else {
                    double ratio = Math.exp(lp - f(oldLogp, i));
                    surrogate(ratio, a, lo, hi, u);
                    term = u[0];
                    g = u[1] * ratio;
                    boolean l = ratio < lo && a < 0, h = ratio > hi && a > 0;
                    if (l) low++;
                    if (h) high++;
                    if (l || h) region++;
                }
                if (refLogp != null) {
                    double dr = f(refLogp, i) - lp, e = Math.exp(dr);
                    double k3 = e - dr - 1;
                    kl += k3;
                    if (bt != 0) {
                        term += bt * k3;
                        g += bt * (1 - e);
                    }
                }
                loss += w * term;
                put(dlogp, i, w * g);
            }
        }
        double frac = seqLevel ? (B == 0 ? 0 : 1.0 / B) : (count == 0 ? 0 : 1.0 / count);
        put(metrics, LossOps.LOSS, loss);
        if (refLogp != null) put(metrics, LossOps.KL, count == 0 ? 0 : kl / count);
        put(metrics, LossOps.CLIP_LOW_FRAC, low * frac);
        put(metrics, LossOps.CLIP_HIGH_FRAC, high * frac);
        put(metrics, LossOps.CLIP_FRAC, region * frac);
        put(metrics, LossOps.COUNT, count);
    }

    // ---------------------------------------------------------------- KTO

    void kto(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment refLogp,
             MemorySegment labels, int S, float beta, float zRef, float desirableWeight, float undesirableWeight) {
        for (int i = 0; i < S; i++) {
            int l = in(labels, i);
            if (l != 0 && l != 1) throw new IllegalArgumentException("labels[" + i + "] = " + l + " is neither 0 nor 1");
        }
        double b = beta, z = zRef;
        double loss = 0, sumW = 0, sumC = 0, sumR = 0;
        int nc = 0, nr = 0;
        for (int i = 0; i < S; i++) {
            double x = (double) f(logp, i) - f(refLogp, i);
            double w, l, g;
            if (in(labels, i) == 1) {
                w = desirableWeight;
                double sg = sigmoid(b * (x - z));
                l = w * (1 - sg);
                g = -w * b * sg * (1 - sg);
                sumC += b * x;
                nc++;
            } else {
                w = undesirableWeight;
                double sg = sigmoid(b * (z - x));
                l = w * (1 - sg);
                g = w * b * sg * (1 - sg);
                sumR += b * x;
                nr++;
            }
            loss += l;
            sumW += w;
            put(dlogp, i, g / S);
        }
        put(metrics, LossOps.LOSS, S == 0 ? 0 : loss / S);
        put(metrics, LossOps.CHOSEN_REWARD, nc == 0 ? 0 : sumC / nc);
        put(metrics, LossOps.REJECTED_REWARD, nr == 0 ? 0 : sumR / nr);
        put(metrics, LossOps.KL, z);
        put(metrics, LossOps.MEAN_WEIGHT, S == 0 ? 0 : sumW / S);
        put(metrics, LossOps.COUNT, S);
    }

    // ---------------------------------------------------------------- SimPO, ORPO

    void lengthNormPairwise(MemorySegment metrics, MemorySegment dlogp, MemorySegment logp, MemorySegment lengths,
                            MemorySegment chosenIdx, MemorySegment rejectedIdx, int S, int P, int type,
                            float beta, float labelSmoothing, float simpoGamma, float orpoLambda) {
        if (type != LossOps.SIMPO && type != LossOps.ORPO)
            throw new IllegalArgumentException("not a length-normalised pairwise type: " + type);
        for (int i = 0; i < P; i++) {
            int c = in(chosenIdx, i), r = in(rejectedIdx, i);
            if (c < 0 || c >= S || r < 0 || r >= S)
                throw new IllegalArgumentException("pair " + i + " indexes (" + c + ", " + r + ") outside [0, " + S + ")");
            if (in(lengths, c) < 1 || in(lengths, r) < 1)
                throw new IllegalArgumentException("pair " + i + " has an empty response (lengths " + in(lengths, c)
                        + ", " + in(lengths, r) + ")");
        }
        double[] grad = seq(S);
        boolean orpo = type == LossOps.ORPO;
        double b = beta, eps = labelSmoothing, gamma = simpoGamma, lambda = orpoLambda;
        double rewardScale = orpo ? lambda : b;
        double loss = 0, sumM = 0, sumCw = 0, sumCl = 0, correct = 0, nll = 0;
        for (int i = 0; i < P; i++) {
            int c = in(chosenIdx, i), r = in(rejectedIdx, i);
            double lenW = in(lengths, c), lenL = in(lengths, r);
            double lw = f(logp, c) / lenW, ll = f(logp, r) / lenL;
            double m, l, gw, gl; // gw, gl: ∂ℓ/∂lp_w, ∂ℓ/∂lp_l
            if (orpo) {
                double qw = -Math.expm1(lw), ql = -Math.expm1(ll); // 1 − exp(lp)
                m = (lw - Math.log(qw)) - (ll - Math.log(ql));
                double dm = -lambda * sigmoid(-m);
                l = -lw - lambda * logSigmoid(m);
                gw = -1 + dm / qw;
                gl = -dm / ql;
                nll -= lw;
            } else {
                m = b * (lw - ll) - gamma;
                double dm = -(1 - eps) * sigmoid(-m) + eps * sigmoid(m);
                l = -(1 - eps) * logSigmoid(m) - eps * logSigmoid(-m);
                gw = dm * b;
                gl = -dm * b;
            }
            loss += l;
            grad[c] += gw / (lenW * P);
            grad[r] += gl / (lenL * P);
            sumM += m;
            sumCw += rewardScale * lw;
            sumCl += rewardScale * ll;
            if (lw > ll) correct++;
        }
        for (int i = 0; i < S; i++) put(dlogp, i, grad[i]);
        double n = Math.max(P, 1);
        put(metrics, LossOps.LOSS, loss / n);
        put(metrics, LossOps.MEAN_H, sumM / n);
        put(metrics, LossOps.CHOSEN_REWARD, sumCw / n);
        put(metrics, LossOps.REJECTED_REWARD, sumCl / n);
        put(metrics, LossOps.MARGIN, (sumCw - sumCl) / n);
        put(metrics, LossOps.ACCURACY, correct / n);
        put(metrics, LossOps.MEAN_WEIGHT, P == 0 ? 0 : 1);
        put(metrics, LossOps.COUNT, P);
        if (orpo) put(metrics, LossOps.NLL, nll / n);
    }
}
