// losses.cu - the fused preference / RL losses of Kernels (SPEC §2): each is ONE single-block
// kernel from per-sequence (PPO: per-token) inputs to the loss, the metric slots of
// Kernels.LossOps and the gradients (=), with every reduction in double in a fixed order
// (deterministic; GRPO's loss is warp per row, lanes over the tokens). Group statistics are recomputed per member by scanning the batch
// (O(S^2)/threads: S is the number of sequences in a step, small), so no scratch buffers
// are needed. Bad device indices (pairs, groups) or an rloo group of one set a status word
// that the host function reads back after synchronising the stream.
#include "common.cuh"
#include "formulas.cuh"

namespace p4j {

constexpr int LT = 512;  // threads of every loss kernel

enum { DPO = 0, IPO = 1, HINGE = 2, WDPO = 3, SIMPO = 4, ORPO = 5 };
enum { WEIGHT_NONE = 0, WEIGHT_EXP = 1, WEIGHT_SIGMOID = 2, WEIGHT_LINEAR = 3 };
enum { NEG_NONE = 0, NEG_AVERAGE_OVER_WORSE = 1, NEG_WORST = 2 };
enum { BASELINE_NONE = 0, BASELINE_MOVING_AVERAGE = 1, BASELINE_BATCH_MEAN = 2, BASELINE_PER_PROMPT_MEAN = 3,
       BASELINE_RLOO = 4 };
enum { LOSS = 0, MEAN_H = 1, CHOSEN_REWARD = 2, REJECTED_REWARD = 3, MARGIN = 4, ACCURACY = 5, MEAN_WEIGHT = 6,
       MEAN_REWARD = 7, KL = 8, ENTROPY = 9, POLICY_LOSS = 10, VALUE_LOSS = 11, CLIP_FRAC = 12, APPROX_KL = 13,
       MEAN_RETURN = 14, COUNT = 15, CLIP_LOW_FRAC = 16, CLIP_HIGH_FRAC = 17, REWARD_STD = 18, ZERO_STD_FRAC = 19,
       NLL = 20 };
enum { SCALE_NONE = 0, SCALE_GROUP = 1, SCALE_BATCH = 2 };
enum { AGG_GRPO = 0, AGG_BNPO = 1, AGG_DR_GRPO = 2, AGG_DAPO = 3 };
enum { IS_TOKEN = 0, IS_SEQUENCE = 1 };

// log_sigmoid and sigmoid (double, as CpuLosses) are in formulas.cuh.

__device__ double block_max_d(double v, double* sh) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    double r = -INFINITY;
    for (int i = 0; i < nw; i++) r = fmax(r, sh[i]);
    return r;
}

// Any thread with bad = true sets *status = code; returns true (block-uniform) if any did.
__device__ bool fail_if(bool bad, int code, int* status) {
    int any = __syncthreads_or(bad ? 1 : 0);
    if (any && threadIdx.x == 0) *status = code;
    return any != 0;
}

// MEAN_REWARD (with rewards) and KL (with ref) over S sequences.
__device__ void reward_and_kl(float* metrics, const float* logp, const float* ref, const float* rewards, int S,
                              double* sh) {
    if (S == 0) return;
    if (rewards) {
        double s = 0;
        for (int i = threadIdx.x; i < S; i += blockDim.x) s += rewards[i];
        s = block_sum(s, sh);
        if (threadIdx.x == 0) metrics[MEAN_REWARD] = (float)(s / S);
    }
    if (ref) {
        double s = 0;
        for (int i = threadIdx.x; i < S; i += blockDim.x) s += (double)logp[i] - ref[i];
        s = block_sum(s, sh);
        if (threadIdx.x == 0) metrics[KL] = (float)(s / S);
    }
}

// ------------------------------------------------------------------ pairwise

struct PairArgs {
    const float *logp, *ref, *rewards;
    const int *chosen, *rejected;
    int S, P, type, mode;
    double beta, eps, tau, beta2;
    bool weighted;
    double maxZ, sumE;  // exp weights
};

struct PairTerms {
    double l, g, w, h, lw, ll;  // per-pair loss (unweighted), dloss/dh incl. weight and 1/P, weight, ...
};

__device__ PairTerms pair_terms(const PairArgs& a, int i) {
    int c = a.chosen[i], r = a.rejected[i];
    PairTerms t;
    t.lw = (double)a.logp[c] - a.ref[c];
    t.ll = (double)a.logp[r] - a.ref[r];
    t.h = t.lw - t.ll;
    t.w = 1;
    if (a.weighted) {
        double z = a.beta2 * ((double)a.rewards[c] - a.rewards[r]);
        t.w = a.mode == WEIGHT_EXP ? a.P * exp(z - a.maxZ) / a.sumE : a.mode == WEIGHT_SIGMOID ? sigmoid(z) : z;
    }
    double dh;
    if (a.type == IPO) {
        double u = t.h - 1.0 / (2.0 * a.tau);
        t.l = u * u;
        dh = 2 * u;
    } else if (a.type == HINGE) {
        double u = 1 - a.beta * t.h;
        t.l = fmax(0.0, u);
        dh = u > 0 ? -a.beta : 0;
    } else {
        double x = a.beta * t.h;
        t.l = -(1 - a.eps) * log_sigmoid(x) - a.eps * log_sigmoid(-x);
        dh = -a.beta * ((1 - a.eps) * sigmoid(-x) - a.eps * sigmoid(x));
    }
    t.g = t.w * dh / a.P;
    return t;
}

constexpr int PAIR_SMEM = 4096;  // pairs whose gradient term is cached in shared memory

__global__ void __launch_bounds__(LT) pairwise_kernel(float* metrics, float* dlogp, PairArgs a, int* status) {
    __shared__ double sh[32];
    __shared__ double gs[PAIR_SMEM];
    int S = a.S, P = a.P;
    bool bad = false;
    for (int i = threadIdx.x; i < P; i += blockDim.x) {
        int c = a.chosen[i], r = a.rejected[i];
        bad |= c < 0 || c >= S || r < 0 || r >= S;
    }
    if (fail_if(bad, P4J_E_OUT_OF_RANGE, status)) return;
    if (a.weighted && a.mode == WEIGHT_EXP) {
        double m = -INFINITY;
        for (int i = threadIdx.x; i < P; i += blockDim.x)
            m = fmax(m, a.beta2 * ((double)a.rewards[a.chosen[i]] - a.rewards[a.rejected[i]]));
        a.maxZ = block_max_d(m, sh);
        double e = 0;
        for (int i = threadIdx.x; i < P; i += blockDim.x)
            e += exp(a.beta2 * ((double)a.rewards[a.chosen[i]] - a.rewards[a.rejected[i]]) - a.maxZ);
        a.sumE = block_sum(e, sh);
    }
    double loss = 0, sumH = 0, sumCw = 0, sumCl = 0, correct = 0, sumW = 0;
    for (int i = threadIdx.x; i < P; i += blockDim.x) {
        PairTerms t = pair_terms(a, i);
        loss += t.w * t.l;
        sumH += t.h;
        sumCw += a.beta * t.lw;
        sumCl += a.beta * t.ll;
        correct += t.h > 0 ? 1 : 0;
        sumW += t.w;
        if (i < PAIR_SMEM) gs[i] = t.g;
    }
    loss = block_sum(loss, sh);
    sumH = block_sum(sumH, sh);
    sumCw = block_sum(sumCw, sh);
    sumCl = block_sum(sumCl, sh);
    correct = block_sum(correct, sh);
    sumW = block_sum(sumW, sh);
    __syncthreads();
    // dlogp[s] = sum over pairs in pair order (as the CPU) of +g (chosen) / -g (rejected)
    for (int s = threadIdx.x; s < S; s += blockDim.x) {
        double g = 0;
        for (int i = 0; i < P; i++) {
            int c = a.chosen[i], r = a.rejected[i];
            if (c != s && r != s) continue;
            double gi = i < PAIR_SMEM ? gs[i] : pair_terms(a, i).g;
            if (c == s) g += gi;
            if (r == s) g -= gi;
        }
        dlogp[s] = (float)g;
    }
    if (threadIdx.x == 0) {
        double n = P > 1 ? P : 1;
        metrics[LOSS] = (float)(loss / n);
        metrics[MEAN_H] = (float)(sumH / n);
        metrics[CHOSEN_REWARD] = (float)(sumCw / n);
        metrics[REJECTED_REWARD] = (float)(sumCl / n);
        metrics[MARGIN] = (float)((sumCw - sumCl) / n);
        metrics[ACCURACY] = (float)(correct / n);
        metrics[MEAN_WEIGHT] = (float)(P == 0 ? 0 : sumW / n);
        metrics[COUNT] = (float)P;
    }
}

// ------------------------------------------------------------------ sft

__global__ void __launch_bounds__(LT) sft_kernel(float* metrics, float* dlogp, const float* logp, const float* ref,
                                                 const int* lengths, const float* rewards, int S) {
    __shared__ double sh[32];
    int n = 0;
    for (int i = threadIdx.x; i < S; i += blockDim.x) n += lengths[i] > 0;
    n = (int)block_sum((double)n, sh);
    double loss = 0;
    for (int i = threadIdx.x; i < S; i += blockDim.x) {
        int len = lengths[i];
        if (len <= 0) {
            dlogp[i] = 0.f;
            continue;
        }
        loss -= logp[i] / (double)len;
        dlogp[i] = (float)(-1.0 / ((double)len * n));
    }
    loss = block_sum(loss, sh);
    if (threadIdx.x == 0) {
        metrics[LOSS] = (float)(n == 0 ? 0 : loss / n);
        metrics[MEAN_WEIGHT] = n == 0 ? 0.f : 1.f;
        metrics[COUNT] = (float)n;
    }
    reward_and_kl(metrics, logp, ref, rewards, S, sh);
}

// ------------------------------------------------------------------ rwr

__device__ double rwr_weight(const float* rewards, const int* groups, int S, int i, bool filter, int topK,
                             double tau, double wMax) {
    if (!filter) return fmin(exp((double)rewards[i] / tau), wMax);
    int g = groups[i], rank = 0;
    float ri = rewards[i];
    for (int j = 0; j < S && rank < topK; j++) {
        if (j == i || groups[j] != g) continue;
        float rj = rewards[j];
        if (rj > ri || (rj == ri && j < i)) rank++;
    }
    return rank < topK ? 1 : 0;
}

__global__ void __launch_bounds__(LT) rwr_kernel(float* metrics, float* dlogp, const float* logp, const float* ref,
                                                 const int* lengths, const float* rewards, const int* groups, int S,
                                                 int G, bool filter, int topK, double tau, double wMax, int* status) {
    __shared__ double sh[32];
    if (filter) {
        bool bad = false;
        for (int i = threadIdx.x; i < S; i += blockDim.x) bad |= groups[i] < 0 || groups[i] >= G;
        if (fail_if(bad, P4J_E_OUT_OF_RANGE, status)) return;
    }
    double n = 0, norm = 0, sumW = 0;
    for (int i = threadIdx.x; i < S; i += blockDim.x) {
        if (lengths[i] <= 0) continue;
        double w = rwr_weight(rewards, groups, S, i, filter, topK, tau, wMax);
        n += 1;
        sumW += w;
        norm += filter ? w : 1;
    }
    n = block_sum(n, sh);
    norm = block_sum(norm, sh);
    sumW = block_sum(sumW, sh);
    double loss = 0;
    for (int i = threadIdx.x; i < S; i += blockDim.x) {
        int len = lengths[i];
        if (len <= 0 || norm == 0) {
            dlogp[i] = 0.f;
            continue;
        }
        double w = rwr_weight(rewards, groups, S, i, filter, topK, tau, wMax);
        loss -= w * logp[i] / len;
        dlogp[i] = (float)(0.0 - w / (len * norm));
    }
    loss = block_sum(loss, sh);
    if (threadIdx.x == 0) {
        metrics[LOSS] = (float)(norm == 0 ? 0 : loss / norm);
        metrics[MEAN_WEIGHT] = (float)(n == 0 ? 0 : sumW / n);
        metrics[COUNT] = (float)n;
    }
    reward_and_kl(metrics, logp, ref, rewards, S, sh);
}

// ------------------------------------------------------------------ best-of-N

__global__ void __launch_bounds__(LT) best_of_n_kernel(float* metrics, float* dlogp, const float* logp,
                                                       const float* ref, const float* rewards, const int* groups,
                                                       int S, int G, int mode, double betaNeg, int* status) {
    __shared__ double sh[32];
    bool bad = false;
    for (int i = threadIdx.x; i < S; i += blockDim.x) bad |= groups[i] < 0 || groups[i] >= G;
    if (fail_if(bad, P4J_E_OUT_OF_RANGE, status)) return;
    // groups used = members that are the lowest index of their group
    double used = 0;
    for (int i = threadIdx.x; i < S; i += blockDim.x) {
        bool first = true;
        for (int j = 0; j < i && first; j++) first = groups[j] != groups[i];
        used += first;
    }
    used = block_sum(used, sh);
    double loss = 0, sumC = 0;
    for (int i = threadIdx.x; i < S; i += blockDim.x) {
        int g = groups[i];
        int best = -1, worst = -1, worse = 0;
        for (int j = 0; j < S; j++) {
            if (groups[j] != g) continue;
            if (best < 0 || rewards[j] > rewards[best]) best = j;
            if (worst < 0 || rewards[j] < rewards[worst]) worst = j;
        }
        for (int j = 0; j < S; j++) worse += groups[j] == g && rewards[j] < rewards[best];
        double c = 0;
        if (i == best) c = 1;
        else if (rewards[i] < rewards[best]) {
            if (mode == NEG_AVERAGE_OVER_WORSE) c = -betaNeg / worse;
            else if (mode == NEG_WORST && i == worst) c = -betaNeg;
        }
        loss -= c * logp[i];
        sumC += c;
        dlogp[i] = (float)(used == 0 ? 0 : 0.0 - c / used);
    }
    loss = block_sum(loss, sh);
    sumC = block_sum(sumC, sh);
    if (threadIdx.x == 0) {
        metrics[LOSS] = (float)(used == 0 ? 0 : loss / used);
        metrics[MEAN_WEIGHT] = (float)(S == 0 ? 0 : sumC / S);
        metrics[COUNT] = (float)used;
    }
    reward_and_kl(metrics, logp, ref, rewards, S, sh);
}

// ------------------------------------------------------------------ reinforce

__device__ __forceinline__ double shaped_reward(const float* logp, const float* ref, const float* rewards, int i,
                                                double klCoef) {
    double r = rewards[i];
    if (klCoef != 0) r -= klCoef * ((double)logp[i] - ref[i]);
    return r;
}

__global__ void __launch_bounds__(LT) reinforce_kernel(float* metrics, float* dlogp, float* state, const float* logp,
                                                       const float* ref, const float* rewards, const int* groups,
                                                       int S, int G, int baseline, float decay, double klCoef,
                                                       double clipAdv, int* status) {
    __shared__ double sh[32];
    bool perPrompt = baseline == BASELINE_PER_PROMPT_MEAN || baseline == BASELINE_RLOO;
    if (perPrompt) {
        bool bad = false;
        for (int i = threadIdx.x; i < S; i += blockDim.x) bad |= groups[i] < 0 || groups[i] >= G;
        if (fail_if(bad, P4J_E_OUT_OF_RANGE, status)) return;
    }
    double mean = 0;
    for (int i = threadIdx.x; i < S; i += blockDim.x) mean += shaped_reward(logp, ref, rewards, i, klCoef);
    mean = block_sum(mean, sh);
    mean = S == 0 ? 0 : mean / S;
    if (baseline == BASELINE_RLOO) {
        bool bad = false;
        for (int i = threadIdx.x; i < S; i += blockDim.x) {
            int cnt = 0;
            for (int j = 0; j < S && cnt < 2; j++) cnt += groups[j] == groups[i];
            bad |= cnt == 1;
        }
        if (fail_if(bad, P4J_E_GROUP_TOO_SMALL, status)) return;
    }
    double bShared = 0;
    if (baseline == BASELINE_BATCH_MEAN) bShared = mean;
    else if (baseline == BASELINE_MOVING_AVERAGE) bShared = state[1] == 0.f ? mean : (double)state[0];
    double loss = 0, sumA = 0;
    for (int i = threadIdx.x; i < S; i += blockDim.x) {
        double r = shaped_reward(logp, ref, rewards, i, klCoef);
        double b = bShared;
        if (perPrompt) {
            int g = groups[i], cnt = 0;
            double sum = 0;
            for (int j = 0; j < S; j++)
                if (groups[j] == g) {
                    sum += shaped_reward(logp, ref, rewards, j, klCoef);
                    cnt++;
                }
            b = baseline == BASELINE_RLOO ? (sum - r) / (cnt - 1) : sum / cnt;
        }
        double a = fmax(-clipAdv, fmin(clipAdv, r - b));
        loss -= a * logp[i];
        sumA += a;
        dlogp[i] = (float)(0.0 - a / S);
    }
    loss = block_sum(loss, sh);
    sumA = block_sum(sumA, sh);
    if (threadIdx.x == 0) {
        if (baseline == BASELINE_MOVING_AVERAGE && S > 0) {
            if (state[1] == 0.f) {
                state[0] = (float)mean;
                state[1] = 1.f;
            } else {
                state[0] = (float)(decay * state[0] + (1 - (double)decay) * mean);
            }
        }
        metrics[LOSS] = (float)(S == 0 ? 0 : loss / S);
        metrics[MEAN_WEIGHT] = (float)(S == 0 ? 0 : sumA / S);
        metrics[COUNT] = (float)S;
    }
    reward_and_kl(metrics, logp, ref, rewards, S, sh);
}

// ------------------------------------------------------------------ PPO advantages

// GAE of one row, backwards; mode 0: sums (adv, ret, kl, count); 1: sum of squared
// deviations from mean; 2: write advantages (whitened when rstd given) and returns.
__global__ void __launch_bounds__(LT) ppo_advantages_kernel(float* metrics, float* advantages, float* returns,
                                                            const float* oldLogp, const float* ref,
                                                            const float* oldValues, const float* scores,
                                                            const int* mask, int B, int T, double klCoef,
                                                            double gamma, double lambda, bool whiten) {
    __shared__ double sh[32];
    double rows = 0, count = 0, sumScore = 0, sumKl = 0, sumAdv = 0, sumRet = 0;
    double mean = 0, rstd = 1;
    for (int pass = 0; pass < 3; pass++) {
        if (pass == 1 && !whiten) continue;
        double ss = 0;
        for (int b = threadIdx.x; b < B; b += blockDim.x) {
            long long base = (long long)b * T;
            int last = -1;
            for (int t = T - 1; t >= 0; t--)
                if (mask[base + t] != 0) {
                    last = t;
                    break;
                }
            double a = 0, vNext = 0, kl = 0;
            for (int t = T - 1; t >= 0; t--) {
                long long i = base + t;
                if (mask[i] == 0) {
                    if (pass == 2) {
                        advantages[i] = 0.f;
                        returns[i] = 0.f;
                    }
                    continue;
                }
                double logRatio = (double)oldLogp[i] - ref[i];
                kl += logRatio;
                double r = -klCoef * logRatio;
                if (t == last) r += scores[b];
                double v = oldValues[i];
                double delta = r + gamma * vNext - v;
                a = delta + gamma * lambda * a;  // (double) gamma * lambda, as the CPU
                vNext = v;
                if (pass == 0) {
                    sumAdv += a;
                    sumRet += a + v;
                    count += 1;
                } else if (pass == 1) {
                    ss += (a - mean) * (a - mean);
                } else {
                    returns[i] = (float)(a + v);
                    advantages[i] = (float)(whiten ? (a - mean) * rstd : a);
                }
            }
            if (pass == 0 && last >= 0) {
                rows += 1;
                sumScore += scores[b];
                sumKl += kl;
            }
        }
        if (pass == 0) {
            rows = block_sum(rows, sh);
            count = block_sum(count, sh);
            sumScore = block_sum(sumScore, sh);
            sumKl = block_sum(sumKl, sh);
            sumAdv = block_sum(sumAdv, sh);
            sumRet = block_sum(sumRet, sh);
            mean = count > 0 ? sumAdv / count : 0;
            if (count == 0) whiten = false;
        } else if (pass == 1) {
            ss = block_sum(ss, sh);
            double var = count > 1 ? ss / (count - 1) : 0;
            rstd = 1 / sqrt(var + 1e-8);
        }
    }
    if (threadIdx.x == 0) {
        metrics[MEAN_REWARD] = (float)(rows == 0 ? 0 : sumScore / rows);
        metrics[KL] = (float)(rows == 0 ? 0 : sumKl / rows);
        metrics[MEAN_RETURN] = (float)(count == 0 ? 0 : sumRet / count);
        metrics[COUNT] = (float)count;
    }
}

// ------------------------------------------------------------------ PPO loss

__global__ void __launch_bounds__(LT) ppo_loss_kernel(float* metrics, float* dlogp, float* dvalue, const float* logp,
                                                      const float* oldLogp, const float* values,
                                                      const float* oldValues, const float* advantages,
                                                      const float* returns, const int* mask, long long n,
                                                      double clipEps, double valueClip, double vfCoef) {
    __shared__ double sh[32];
    double count = 0;
    for (long long i = threadIdx.x; i < n; i += blockDim.x) count += mask[i] != 0;
    count = block_sum(count, sh);
    double inv = count == 0 ? 0 : 1.0 / count;
    double pg = 0, vl = 0, clipped = 0, approxKl = 0;
    double lo = 1 - clipEps, hi = 1 + clipEps;
    for (long long i = threadIdx.x; i < n; i += blockDim.x) {
        if (mask[i] == 0) {
            dlogp[i] = 0.f;
            dvalue[i] = 0.f;
            continue;
        }
        double d = (double)logp[i] - oldLogp[i];
        double ratio = exp(d);
        double a = advantages[i];
        double l1 = -a * ratio;
        double l2 = -a * fmin(hi, fmax(lo, ratio));
        bool ratioInside = ratio >= lo && ratio <= hi;
        double dl;
        if (l1 > l2) dl = -a * ratio;
        else if (l1 < l2) dl = ratioInside ? -a * ratio : 0;
        else dl = ratioInside ? -a * ratio : -a * ratio * 0.5;
        pg += fmax(l1, l2);
        if (l2 > l1) clipped += 1;
        approxKl += 0.5 * d * d;
        dlogp[i] = (float)(dl * inv);

        double v = values[i], vOld = oldValues[i], ret = returns[i];
        double vc = fmin(vOld + valueClip, fmax(vOld - valueClip, v));
        bool vInside = v >= vOld - valueClip && v <= vOld + valueClip;
        double u1 = (v - ret) * (v - ret), u2 = (vc - ret) * (vc - ret);
        double dv;
        if (u1 > u2) dv = 2 * (v - ret);
        else if (u1 < u2) dv = vInside ? 2 * (vc - ret) : 0;
        else dv = vInside ? 2 * (v - ret) : (v - ret);
        vl += 0.5 * fmax(u1, u2);
        dvalue[i] = (float)(0.5 * dv * vfCoef * inv);
    }
    pg = block_sum(pg, sh);
    vl = block_sum(vl, sh);
    clipped = block_sum(clipped, sh);
    approxKl = block_sum(approxKl, sh);
    if (threadIdx.x == 0) {
        metrics[POLICY_LOSS] = (float)(pg * inv);
        metrics[VALUE_LOSS] = (float)(vl * inv);
        metrics[LOSS] = (float)((pg + vfCoef * vl) * inv);
        metrics[CLIP_FRAC] = (float)(clipped * inv);
        metrics[APPROX_KL] = (float)(approxKl * inv);
        metrics[COUNT] = (float)count;
    }
}

// ------------------------------------------------------------------ GRPO advantages

__global__ void __launch_bounds__(LT) grpo_advantages_kernel(float* metrics, float* adv, const float* rewards,
                                                             const int* groups, int B, int G, int scale,
                                                             int* status) {
    __shared__ double sh[32];
    bool bad = false;
    for (int i = threadIdx.x; i < B; i += blockDim.x) bad |= groups[i] < 0 || groups[i] >= G;
    if (fail_if(bad, P4J_E_OUT_OF_RANGE, status)) return;
    bad = false;
    for (int i = threadIdx.x; i < B; i += blockDim.x) {
        int cnt = 0;
        for (int j = 0; j < B && cnt < 2; j++) cnt += groups[j] == groups[i];
        bad |= cnt == 1;
    }
    if (fail_if(bad, P4J_E_GROUP_TOO_SMALL, status)) return;
    double sum = 0;
    for (int i = threadIdx.x; i < B; i += blockDim.x) sum += rewards[i];
    sum = block_sum(sum, sh);
    double mean = B == 0 ? 0 : sum / B;
    double ss = 0;
    for (int i = threadIdx.x; i < B; i += blockDim.x) {
        double d = (double)rewards[i] - mean;
        ss += d * d;
    }
    ss = block_sum(ss, sh);
    double batchStd = B > 1 ? sqrt(ss / (B - 1)) : 0;
    double sumStd = 0, used = 0, zero = 0;
    for (int i = threadIdx.x; i < B; i += blockDim.x) {
        int g = groups[i], cnt = 0;
        bool first = true;
        double gs = 0;
        for (int j = 0; j < B; j++)
            if (groups[j] == g) {
                gs += rewards[j];
                cnt++;
                first &= j >= i;
            }
        double gm = gs / cnt, gss = 0;
        for (int j = 0; j < B; j++)
            if (groups[j] == g) {
                double d = (double)rewards[j] - gm;
                gss += d * d;
            }
        double groupStd = sqrt(gss / (cnt - 1));
        double std = scale == SCALE_BATCH ? batchStd : groupStd;
        double a = (double)rewards[i] - gm;
        if (scale != SCALE_NONE) a /= std + 1e-4;
        adv[i] = (float)a;
        sumStd += std;
        if (first) {
            used += 1;
            zero += gss == 0 ? 1 : 0;
        }
    }
    sumStd = block_sum(sumStd, sh);
    used = block_sum(used, sh);
    zero = block_sum(zero, sh);
    if (threadIdx.x == 0) {
        metrics[MEAN_REWARD] = (float)mean;
        metrics[REWARD_STD] = (float)(B == 0 ? 0 : sumStd / B);
        metrics[ZERO_STD_FRAC] = (float)(used == 0 ? 0 : zero / used);
        metrics[COUNT] = (float)used;
    }
}

// ------------------------------------------------------------------ GRPO loss

// -min(r a, clip(r, lo, hi) a): value and d/dr, with PyTorch's gradients (as CpuLosses.surrogate).
__device__ __forceinline__ void surrogate(double ratio, double a, double lo, double hi, double& value, double& grad) {
    double l1 = ratio * a, l2 = fmin(hi, fmax(lo, ratio)) * a;
    bool inside = ratio >= lo && ratio <= hi;
    value = -fmin(l1, l2);
    if (l1 < l2) grad = -a;
    else if (l1 > l2) grad = inside ? -a : 0;
    else grad = inside ? -a : -a * 0.5;
}

__global__ void __launch_bounds__(LT) grpo_loss_kernel(float* metrics, float* dlogp, const float* logp,
                                                       const float* oldLogp, const float* ref, const float* adv,
                                                       const int* mask, int B, int T, int lossType, int level,
                                                       double lo, double hi, double beta, int maxLen) {
    __shared__ double sh[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    long long n = (long long)B * T;
    double count = 0;
    for (long long i = threadIdx.x; i < n; i += blockDim.x) count += mask[i] != 0;
    count = block_sum(count, sh);
    bool seqLevel = level == IS_SEQUENCE;
    double loss = 0, kl = 0, low = 0, high = 0, region = 0;
    for (int b = warp; b < B; b += nw) {  // warp per row
        long long base = (long long)b * T;
        double nb = 0, sumD = 0;
        for (int t = lane; t < T; t += 32)
            if (mask[base + t] != 0) {
                nb += 1;
                sumD += (double)logp[base + t] - oldLogp[base + t];
            }
        nb = warp_sum(nb);
        sumD = warp_sum(sumD);
        double w = lossType == AGG_GRPO      ? 1.0 / ((double)B * fmax(nb, 1.0))
                   : lossType == AGG_DR_GRPO ? 1.0 / ((double)B * maxLen)
                   : count == 0              ? 0
                                             : 1.0 / count;
        double a = adv[b];
        double sValue = 0, sGrad = 0;
        if (seqLevel) {
            double s = exp(sumD / fmax(nb, 1.0)), g;
            surrogate(s, a, lo, hi, sValue, g);
            sGrad = g * s;
            if (lane == 0) {
                bool l = s < lo && a < 0, h = s > hi && a > 0;
                low += l;
                high += h;
                region += l || h;
            }
        }
        for (int t = lane; t < T; t += 32) {
            long long i = base + t;
            if (mask[i] == 0) {
                dlogp[i] = 0.f;
                continue;
            }
            double lp = logp[i], term, g;
            if (seqLevel) {
                term = sValue;
                g = sGrad;
            } else {
                double ratio = exp(lp - oldLogp[i]), gr;
                surrogate(ratio, a, lo, hi, term, gr);
                g = gr * ratio;
                bool l = ratio < lo && a < 0, h = ratio > hi && a > 0;
                low += l;
                high += h;
                region += l || h;
            }
            if (ref) {
                double dr = ref[i] - lp, e = exp(dr);
                double k3 = e - dr - 1;
                kl += k3;
                if (beta != 0) {
                    term += beta * k3;
                    g += beta * (1 - e);
                }
            }
            loss += w * term;
            dlogp[i] = (float)(w * g);
        }
    }
    loss = block_sum(loss, sh);
    kl = block_sum(kl, sh);
    low = block_sum(low, sh);
    high = block_sum(high, sh);
    region = block_sum(region, sh);
    if (threadIdx.x == 0) {
        double frac = seqLevel ? (B == 0 ? 0 : 1.0 / B) : (count == 0 ? 0 : 1.0 / count);
        metrics[LOSS] = (float)loss;
        if (ref) metrics[KL] = (float)(count == 0 ? 0 : kl / count);
        metrics[CLIP_LOW_FRAC] = (float)(low * frac);
        metrics[CLIP_HIGH_FRAC] = (float)(high * frac);
        metrics[CLIP_FRAC] = (float)(region * frac);
        metrics[COUNT] = (float)count;
    }
}

// ------------------------------------------------------------------ KTO

__global__ void __launch_bounds__(LT) kto_kernel(float* metrics, float* dlogp, const float* logp, const float* ref,
                                                 const int* labels, int S, double beta, double z, double wd,
                                                 double wu, int* status) {
    __shared__ double sh[32];
    bool bad = false;
    for (int i = threadIdx.x; i < S; i += blockDim.x) bad |= labels[i] != 0 && labels[i] != 1;
    if (fail_if(bad, P4J_E_OUT_OF_RANGE, status)) return;
    double loss = 0, sumW = 0, sumC = 0, sumR = 0, nc = 0, nr = 0;
    for (int i = threadIdx.x; i < S; i += blockDim.x) {
        double x = (double)logp[i] - ref[i], w, g;
        if (labels[i] == 1) {
            w = wd;
            double sg = sigmoid(beta * (x - z));
            loss += w * (1 - sg);
            g = -w * beta * sg * (1 - sg);
            sumC += beta * x;
            nc += 1;
        } else {
            w = wu;
            double sg = sigmoid(beta * (z - x));
            loss += w * (1 - sg);
            g = w * beta * sg * (1 - sg);
            sumR += beta * x;
            nr += 1;
        }
        sumW += w;
        dlogp[i] = (float)(g / S);
    }
    loss = block_sum(loss, sh);
    sumW = block_sum(sumW, sh);
    sumC = block_sum(sumC, sh);
    sumR = block_sum(sumR, sh);
    nc = block_sum(nc, sh);
    nr = block_sum(nr, sh);
    if (threadIdx.x == 0) {
        metrics[LOSS] = (float)(S == 0 ? 0 : loss / S);
        metrics[CHOSEN_REWARD] = (float)(nc == 0 ? 0 : sumC / nc);
        metrics[REJECTED_REWARD] = (float)(nr == 0 ? 0 : sumR / nr);
        metrics[KL] = (float)z;
        metrics[MEAN_WEIGHT] = (float)(S == 0 ? 0 : sumW / S);
        metrics[COUNT] = (float)S;
    }
}

// ------------------------------------------------------------------ SimPO, ORPO

struct NormPairArgs {
    const float* logp;
    const int *lengths, *chosen, *rejected;
    int S, P, type;
    double beta, eps, gamma, lambda;
};

struct NormPairTerms {
    double l, m, lw, ll, gw, gl;  // loss, sigmoid argument, lp_w, lp_l, dlogp contributions (incl. 1/(len P))
};

__device__ NormPairTerms norm_pair_terms(const NormPairArgs& a, int i) {
    int c = a.chosen[i], r = a.rejected[i];
    double lenW = a.lengths[c], lenL = a.lengths[r];
    NormPairTerms t;
    t.lw = a.logp[c] / lenW;
    t.ll = a.logp[r] / lenL;
    double gw, gl;
    if (a.type == ORPO) {
        double qw = -expm1(t.lw), ql = -expm1(t.ll);
        t.m = (t.lw - log(qw)) - (t.ll - log(ql));
        double dm = -a.lambda * sigmoid(-t.m);
        t.l = -t.lw - a.lambda * log_sigmoid(t.m);
        gw = -1 + dm / qw;
        gl = -dm / ql;
    } else {
        t.m = a.beta * (t.lw - t.ll) - a.gamma;
        double dm = -(1 - a.eps) * sigmoid(-t.m) + a.eps * sigmoid(t.m);
        t.l = -(1 - a.eps) * log_sigmoid(t.m) - a.eps * log_sigmoid(-t.m);
        gw = dm * a.beta;
        gl = -dm * a.beta;
    }
    t.gw = gw / (lenW * a.P);
    t.gl = gl / (lenL * a.P);
    return t;
}

constexpr int NORM_PAIR_SMEM = 2048;  // pairs whose two gradient terms are cached in shared memory

__global__ void __launch_bounds__(LT) length_norm_pairwise_kernel(float* metrics, float* dlogp, NormPairArgs a,
                                                                  int* status) {
    __shared__ double sh[32];
    __shared__ double gw[NORM_PAIR_SMEM], gl[NORM_PAIR_SMEM];
    int S = a.S, P = a.P;
    bool bad = false;
    for (int i = threadIdx.x; i < P; i += blockDim.x) {
        int c = a.chosen[i], r = a.rejected[i];
        bad |= c < 0 || c >= S || r < 0 || r >= S;
    }
    if (fail_if(bad, P4J_E_OUT_OF_RANGE, status)) return;
    bad = false;
    for (int i = threadIdx.x; i < P; i += blockDim.x) bad |= a.lengths[a.chosen[i]] < 1 || a.lengths[a.rejected[i]] < 1;
    if (fail_if(bad, P4J_E_OUT_OF_RANGE, status)) return;
    double rewardScale = a.type == ORPO ? a.lambda : a.beta;
    double loss = 0, sumM = 0, sumCw = 0, sumCl = 0, correct = 0, nll = 0;
    for (int i = threadIdx.x; i < P; i += blockDim.x) {
        NormPairTerms t = norm_pair_terms(a, i);
        loss += t.l;
        sumM += t.m;
        sumCw += rewardScale * t.lw;
        sumCl += rewardScale * t.ll;
        correct += t.lw > t.ll ? 1 : 0;
        nll -= t.lw;
        if (i < NORM_PAIR_SMEM) {
            gw[i] = t.gw;
            gl[i] = t.gl;
        }
    }
    loss = block_sum(loss, sh);
    sumM = block_sum(sumM, sh);
    sumCw = block_sum(sumCw, sh);
    sumCl = block_sum(sumCl, sh);
    correct = block_sum(correct, sh);
    nll = block_sum(nll, sh);
    __syncthreads();
    // dlogp[s]: the pairs' terms in pair order, chosen before rejected (as the CPU)
    for (int s = threadIdx.x; s < S; s += blockDim.x) {
        double g = 0;
        for (int i = 0; i < P; i++) {
            int c = a.chosen[i], r = a.rejected[i];
            if (c != s && r != s) continue;
            double tw, tl;
            if (i < NORM_PAIR_SMEM) {
                tw = gw[i];
                tl = gl[i];
            } else {
                NormPairTerms t = norm_pair_terms(a, i);
                tw = t.gw;
                tl = t.gl;
            }
            if (c == s) g += tw;
            if (r == s) g += tl;
        }
        dlogp[s] = (float)g;
    }
    if (threadIdx.x == 0) {
        double n = P > 1 ? P : 1;
        metrics[LOSS] = (float)(loss / n);
        metrics[MEAN_H] = (float)(sumM / n);
        metrics[CHOSEN_REWARD] = (float)(sumCw / n);
        metrics[REJECTED_REWARD] = (float)(sumCl / n);
        metrics[MARGIN] = (float)((sumCw - sumCl) / n);
        metrics[ACCURACY] = (float)(correct / n);
        metrics[MEAN_WEIGHT] = P == 0 ? 0.f : 1.f;
        metrics[COUNT] = (float)P;
        if (a.type == ORPO) metrics[NLL] = (float)(nll / n);
    }
}

// Launch a validating loss kernel: reset the status word, launch, read it back (synchronises).
template <typename Launch>
int run_validated(void* stream, Launch launch) {
    StatusWord* w;
    int st = status_word(&w);
    if (st) return st;
    cudaStream_t s = as_stream(stream);
    if ((st = status_reset(w, s))) return st;
    launch(s, w->dev);
    if ((st = launch_status())) return st;
    return status_fetch(w, s);
}

}  // namespace p4j

using namespace p4j;

#define F(x) static_cast<float*>(x)
#define CF(x) static_cast<const float*>(x)
#define CI(x) static_cast<const int*>(x)

P4J_API int p4j_pairwise_loss(void* metrics, void* dlogp, const void* logp, const void* ref_logp, const void* rewards,
                              const void* chosen_idx, const void* rejected_idx, int S, int P, int type,
                              int weight_mode, float beta, float label_smoothing, float ipo_tau, float beta2,
                              void* stream) {
    if (S < 0 || P < 0 || type < DPO || type > WDPO || weight_mode < WEIGHT_NONE || weight_mode > WEIGHT_LINEAR)
        return P4J_E_INVALID_ARGUMENT;
    bool weighted = type == WDPO && weight_mode != WEIGHT_NONE;
    if (!metrics || (S > 0 && (!dlogp || !logp || !ref_logp)) || (P > 0 && (!chosen_idx || !rejected_idx)) ||
        (weighted && !rewards))
        return P4J_E_INVALID_ARGUMENT;
    PairArgs a{CF(logp), CF(ref_logp), CF(rewards), CI(chosen_idx), CI(rejected_idx), S, P, type, weight_mode,
               beta, label_smoothing, ipo_tau, beta2, weighted, 0.0, 1.0};
    return run_validated(stream, [&](cudaStream_t s, int* st) {
        pairwise_kernel<<<1, LT, 0, s>>>(F(metrics), F(dlogp), a, st);
    });
}

P4J_API int p4j_sft_loss(void* metrics, void* dlogp, const void* logp, const void* ref_logp, const void* lengths,
                         const void* rewards, int S, void* stream) {
    if (S < 0 || !metrics || (S > 0 && (!dlogp || !logp || !lengths))) return P4J_E_INVALID_ARGUMENT;
    sft_kernel<<<1, LT, 0, as_stream(stream)>>>(F(metrics), F(dlogp), CF(logp), CF(ref_logp), CI(lengths),
                                                CF(rewards), S);
    return launch_status();
}

P4J_API int p4j_rwr_loss(void* metrics, void* dlogp, const void* logp, const void* ref_logp, const void* lengths,
                         const void* rewards, const void* groups, int S, int G, int filter, int topK, float tau,
                         float w_max, void* stream) {
    if (S < 0 || G < 0 || !metrics || !rewards || (S > 0 && (!dlogp || !logp || !lengths)) ||
        (filter && (!groups || topK < 1)))
        return P4J_E_INVALID_ARGUMENT;
    return run_validated(stream, [&](cudaStream_t s, int* st) {
        rwr_kernel<<<1, LT, 0, s>>>(F(metrics), F(dlogp), CF(logp), CF(ref_logp), CI(lengths), CF(rewards),
                                    CI(groups), S, G, filter != 0, topK, tau, w_max, st);
    });
}

P4J_API int p4j_best_of_n_loss(void* metrics, void* dlogp, const void* logp, const void* ref_logp, const void* rewards,
                               const void* groups, int S, int G, int negative_mode, float beta_neg, void* stream) {
    if (S < 0 || G < 0 || negative_mode < NEG_NONE || negative_mode > NEG_WORST || !metrics ||
        (S > 0 && (!dlogp || !logp || !rewards || !groups)))
        return P4J_E_INVALID_ARGUMENT;
    return run_validated(stream, [&](cudaStream_t s, int* st) {
        best_of_n_kernel<<<1, LT, 0, s>>>(F(metrics), F(dlogp), CF(logp), CF(ref_logp), CF(rewards), CI(groups), S, G,
                                          negative_mode, beta_neg, st);
    });
}

P4J_API int p4j_reinforce_loss(void* metrics, void* dlogp, void* state, const void* logp, const void* ref_logp,
                               const void* rewards, const void* groups, int S, int G, int baseline, float decay,
                               float kl_coef, float clip_adv, void* stream) {
    if (S < 0 || G < 0 || baseline < BASELINE_NONE || baseline > BASELINE_RLOO || !metrics) return P4J_E_INVALID_ARGUMENT;
    bool perPrompt = baseline == BASELINE_PER_PROMPT_MEAN || baseline == BASELINE_RLOO;
    if ((kl_coef != 0.f && !ref_logp) || (perPrompt && S > 0 && !groups) ||
        (baseline == BASELINE_MOVING_AVERAGE && !state) || (S > 0 && (!dlogp || !logp || !rewards)))
        return P4J_E_INVALID_ARGUMENT;
    return run_validated(stream, [&](cudaStream_t s, int* st) {
        reinforce_kernel<<<1, LT, 0, s>>>(F(metrics), F(dlogp), F(state), CF(logp), CF(ref_logp), CF(rewards),
                                          CI(groups), S, G, baseline, decay, kl_coef, clip_adv, st);
    });
}

P4J_API int p4j_ppo_advantages(void* metrics, void* advantages, void* returns, const void* old_logp,
                               const void* ref_logp, const void* old_values, const void* scores, const void* mask,
                               int B, int T, float kl_coef, float gamma, float lambda, int whiten, void* stream) {
    if (B < 0 || T < 0 || !metrics) return P4J_E_INVALID_ARGUMENT;
    if ((long long)B * T > 0 && (!advantages || !returns || !old_logp || !ref_logp || !old_values || !scores || !mask))
        return P4J_E_INVALID_ARGUMENT;
    ppo_advantages_kernel<<<1, LT, 0, as_stream(stream)>>>(F(metrics), F(advantages), F(returns), CF(old_logp),
                                                           CF(ref_logp), CF(old_values), CF(scores), CI(mask), B, T,
                                                           kl_coef, gamma, lambda, whiten != 0);
    return launch_status();
}

P4J_API int p4j_ppo_loss(void* metrics, void* dlogp, void* dvalue, const void* logp, const void* old_logp,
                         const void* values, const void* old_values, const void* advantages, const void* returns,
                         const void* mask, int B, int T, float clip_eps, float value_clip, float vf_coef,
                         void* stream) {
    if (B < 0 || T < 0 || !metrics) return P4J_E_INVALID_ARGUMENT;
    long long n = (long long)B * T;
    if (n > 0 && (!dlogp || !dvalue || !logp || !old_logp || !values || !old_values || !advantages || !returns || !mask))
        return P4J_E_INVALID_ARGUMENT;
    ppo_loss_kernel<<<1, LT, 0, as_stream(stream)>>>(F(metrics), F(dlogp), F(dvalue), CF(logp), CF(old_logp),
                                                     CF(values), CF(old_values), CF(advantages), CF(returns), CI(mask),
                                                     n, clip_eps, value_clip, vf_coef);
    return launch_status();
}

P4J_API int p4j_grpo_advantages(void* metrics, void* advantages, const void* rewards, const void* groups, int B, int G,
                                int scale_rewards, void* stream) {
    if (B < 0 || G < 0 || scale_rewards < SCALE_NONE || scale_rewards > SCALE_BATCH || !metrics ||
        (B > 0 && (!advantages || !rewards || !groups)))
        return P4J_E_INVALID_ARGUMENT;
    return run_validated(stream, [&](cudaStream_t s, int* st) {
        grpo_advantages_kernel<<<1, LT, 0, s>>>(F(metrics), F(advantages), CF(rewards), CI(groups), B, G, scale_rewards,
                                                st);
    });
}

P4J_API int p4j_grpo_loss(void* metrics, void* dlogp, const void* logp, const void* old_logp, const void* ref_logp,
                          const void* advantages, const void* mask, int B, int T, int loss_type, int importance_level,
                          float epsilon, float epsilon_high, float beta, int max_completion_length, void* stream) {
    if (B < 0 || T < 0 || loss_type < AGG_GRPO || loss_type > AGG_DAPO || importance_level < IS_TOKEN ||
        importance_level > IS_SEQUENCE || !metrics || (beta != 0.f && !ref_logp) ||
        (loss_type == AGG_DR_GRPO && max_completion_length < 1))
        return P4J_E_INVALID_ARGUMENT;
    if ((long long)B * T > 0 && (!dlogp || !logp || !old_logp || !advantages || !mask)) return P4J_E_INVALID_ARGUMENT;
    grpo_loss_kernel<<<1, LT, 0, as_stream(stream)>>>(F(metrics), F(dlogp), CF(logp), CF(old_logp), CF(ref_logp),
                                                      CF(advantages), CI(mask), B, T, loss_type, importance_level,
                                                      1 - (double)epsilon, 1 + (double)epsilon_high, beta,
                                                      max_completion_length);
    return launch_status();
}

P4J_API int p4j_kto_loss(void* metrics, void* dlogp, const void* logp, const void* ref_logp, const void* labels, int S,
                         float beta, float z_ref, float desirable_weight, float undesirable_weight, void* stream) {
    if (S < 0 || !metrics || (S > 0 && (!dlogp || !logp || !ref_logp || !labels))) return P4J_E_INVALID_ARGUMENT;
    return run_validated(stream, [&](cudaStream_t s, int* st) {
        kto_kernel<<<1, LT, 0, s>>>(F(metrics), F(dlogp), CF(logp), CF(ref_logp), CI(labels), S, beta, z_ref,
                                    desirable_weight, undesirable_weight, st);
    });
}

P4J_API int p4j_length_norm_pairwise_loss(void* metrics, void* dlogp, const void* logp, const void* lengths,
                                          const void* chosen_idx, const void* rejected_idx, int S, int P, int type,
                                          float beta, float label_smoothing, float simpo_gamma, float orpo_lambda,
                                          void* stream) {
    if (S < 0 || P < 0 || (type != SIMPO && type != ORPO) || !metrics ||
        (S > 0 && (!dlogp || !logp || !lengths)) || (P > 0 && (!chosen_idx || !rejected_idx)))
        return P4J_E_INVALID_ARGUMENT;
    NormPairArgs a{CF(logp), CI(lengths), CI(chosen_idx), CI(rejected_idx), S, P, type,
                   beta, label_smoothing, simpo_gamma, orpo_lambda};
    return run_validated(stream, [&](cudaStream_t s, int* st) {
        length_norm_pairwise_kernel<<<1, LT, 0, s>>>(F(metrics), F(dlogp), a, st);
    });
}
