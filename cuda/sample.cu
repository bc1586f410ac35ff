// sample.cu - token sampling, one block per row, the algorithm of Kernels.sample /
// CpuSampler with CounterRng reproduced bit-exactly:
//   temperature <= 0: argmax (lowest index on ties);
//   else s = z / temperature, w = exp(s - max s); every token gets a 64-bit key
//   (descending s, then ascending index: smaller key = better) so "top k" and "top p"
//   are both key thresholds:
//   - top-k: the k-th smallest key by an 8-bit radix select (integer counts: exact);
//   - top-p: the best m = min(candidates, 2048) keys are gathered, sorted (bitonic) and
//     their masses prefix-summed in descending order; the first prefix reaching
//     topP * candidate mass gives the threshold; if 2048 do not reach it, a binary search
//     over s with block sums in double finds it (slow path, deterministic);
//   - the kept tokens (key <= threshold) are walked in ascending index order: each thread
//     owns a contiguous segment, a block scan of the segment sums gives the segment where
//     the running sum first exceeds u * total, and that thread walks it.
// All sums are in double and in a fixed order, so the result is deterministic; it matches
// the CPU except where a running sum lies within rounding of a threshold.
#include "common.cuh"
#include "formulas.cuh"

namespace p4j {

constexpr int SM_THREADS = 512;
constexpr int SM_CAP = 2048;  // top-p candidates sorted in shared memory

// mix64 and counter_uniform (CounterRng, bit-exact) are in formulas.cuh.

__device__ __forceinline__ unsigned int ordered(float v) {
    unsigned int b = __float_as_uint(v);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
__device__ __forceinline__ unsigned long long make_key(float s, int i) {
    return ((unsigned long long)(~ordered(s)) << 32) | (unsigned int)i;
}

struct SampleSmem {
    unsigned int hist[256];
    unsigned long long keys[SM_CAP];
    double red[32];
    float redf[32];
    int redi[32];
    unsigned long long bcast;
    int count;
};

struct RowCtx {
    const float* z;
    int V;
    float temp, smax;
    __device__ float s(int i) const { return z[i] / temp; }
    __device__ float w(int i) const { return __expf(s(i) - smax); }
    __device__ unsigned long long key(int i) const { return make_key(s(i), i); }
};

// Block scan of doubles in thread order (fixed tree: deterministic). Returns the exclusive
// prefix and sets *incl to the inclusive one such that thread t+1's exclusive prefix is
// bitwise thread t's inclusive prefix (so exactly one thread sees a crossing).
__device__ double block_scan(double v, double* sh, double* incl) {
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    double x = v;
    for (int o = 1; o < 32; o <<= 1) {
        double y = __shfl_up_sync(0xffffffffu, x, o);
        if (lane >= o) x += y;
    }
    double prev = __shfl_up_sync(0xffffffffu, x, 1);
    __syncthreads();
    if (lane == 31) sh[wid] = x;
    __syncthreads();
    double off = 0;
    for (int i = 0; i < wid; i++) off += sh[i];
    *incl = off + x;
    return lane == 0 ? off : off + prev;
}

// The rank-th smallest (1-based) key among tokens with key <= bound.
__device__ unsigned long long select_key(const RowCtx& c, SampleSmem& sm, unsigned long long bound, int rank) {
    unsigned long long prefix = 0;
    int remaining = rank;
    for (int shift = 56; shift >= 0; shift -= 8) {
        if (shift < 32 && (((unsigned)(c.V - 1)) >> shift) == 0) continue;  // index digits all 0 here
        unsigned long long himask = shift == 56 ? 0ull : ~((1ull << (shift + 8)) - 1);
        for (int b = threadIdx.x; b < 256; b += blockDim.x) sm.hist[b] = 0;
        __syncthreads();
        for (int i = threadIdx.x; i < c.V; i += blockDim.x) {
            unsigned long long k = c.key(i);
            if (k <= bound && (k & himask) == prefix) atomicAdd(&sm.hist[(k >> shift) & 255], 1u);
        }
        __syncthreads();
        if (threadIdx.x < 32) {
            int lane = threadIdx.x;
            unsigned int local = 0;
            for (int b = 0; b < 8; b++) local += sm.hist[lane * 8 + b];
            unsigned int incl = local;
            for (int o = 1; o < 32; o <<= 1) {
                unsigned int y = __shfl_up_sync(0xffffffffu, incl, o);
                if (lane >= o) incl += y;
            }
            unsigned int excl = incl - local;
            bool here = excl < (unsigned)remaining && incl >= (unsigned)remaining;
            if (here) {
                unsigned int cum = excl;
                int digit = lane * 8;
                for (int b = 0; b < 8; b++) {
                    unsigned int h = sm.hist[lane * 8 + b];
                    if (cum + h >= (unsigned)remaining) {
                        digit = lane * 8 + b;
                        break;
                    }
                    cum += h;
                }
                sm.bcast = prefix | ((unsigned long long)digit << shift);
                sm.count = remaining - (int)cum;
            }
        }
        __syncthreads();
        prefix = sm.bcast;
        remaining = sm.count;
        __syncthreads();
    }
    return prefix;
}

// Sum of w over tokens with key <= bound and (key >> 32) <= hi32 (or < when strict).
__device__ double mass_where(const RowCtx& c, SampleSmem& sm, unsigned long long bound, unsigned int hi32, bool strict) {
    double acc = 0;
    for (int i = threadIdx.x; i < c.V; i += blockDim.x) {
        unsigned long long k = c.key(i);
        unsigned int h = (unsigned int)(k >> 32);
        if (k <= bound && (strict ? h < hi32 : h <= hi32)) acc += c.w(i);
    }
    return block_sum(acc, sm.red);
}
__device__ int count_where(const RowCtx& c, SampleSmem& sm, unsigned long long bound, unsigned int hi32) {
    int n = 0;
    for (int i = threadIdx.x; i < c.V; i += blockDim.x) {
        unsigned long long k = c.key(i);
        n += k <= bound && (unsigned int)(k >> 32) < hi32;
    }
    return (int)block_sum((double)n, sm.red);
}

// Top-p threshold key among candidates key <= bound (nCand of them, mass `mass`).
__device__ unsigned long long nucleus_key(const RowCtx& c, SampleSmem& sm, unsigned long long bound, int nCand,
                                          double need) {
    int m = nCand < SM_CAP ? nCand : SM_CAP;
    unsigned long long km = m == nCand ? bound : select_key(c, sm, bound, m);
    if (threadIdx.x == 0) sm.count = 0;
    for (int j = threadIdx.x; j < SM_CAP; j += blockDim.x) sm.keys[j] = ~0ull;
    __syncthreads();
    for (int i = threadIdx.x; i < c.V; i += blockDim.x) {
        unsigned long long k = c.key(i);
        if (k <= km) sm.keys[atomicAdd(&sm.count, 1)] = k;
    }
    __syncthreads();
    // bitonic sort of SM_CAP keys, ascending
    for (int size = 2; size <= SM_CAP; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int j = threadIdx.x; j < SM_CAP; j += blockDim.x) {
                int p = j ^ stride;
                if (p > j) {
                    bool up = (j & size) == 0;
                    unsigned long long a = sm.keys[j], b = sm.keys[p];
                    if ((a > b) == up) {
                        sm.keys[j] = b;
                        sm.keys[p] = a;
                    }
                }
            }
            __syncthreads();
        }
    }
    // prefix masses in descending-probability order: thread t owns sorted slots [t*P, t*P+P)
    constexpr int PER = SM_CAP / SM_THREADS;
    double local = 0;
    for (int q = 0; q < PER; q++) {
        int j = threadIdx.x * PER + q;
        if (j < m) local += c.w((int)(sm.keys[j] & 0xffffffffu));
    }
    double incl;
    double run = block_scan(local, sm.red, &incl);
    if (threadIdx.x == 0) sm.bcast = ~0ull;
    __syncthreads();
    if (run < need && incl >= need) {  // exactly one thread
        unsigned long long pick = ~0ull;
        for (int q = 0; q < PER; q++) {
            int j = threadIdx.x * PER + q;
            if (j >= m) break;
            pick = sm.keys[j];  // last of the segment if rounding never crosses below
            run += c.w((int)(pick & 0xffffffffu));
            if (run >= need) break;
        }
        sm.bcast = pick;
    }
    __syncthreads();
    unsigned long long kp = sm.bcast;
    __syncthreads();
    if (kp != ~0ull || m == nCand) return kp == ~0ull ? bound : kp;
    // Slow path: binary search on the value part (32 bits) for the smallest hv with
    // mass(key>>32 <= hv) >= need, then the ties of hv in index order.
    unsigned int lo = 0, hi = 0xffffffffu;
    if (mass_where(c, sm, bound, hi, false) < need) return bound;
    while (lo < hi) {
        unsigned int mid = lo + (hi - lo) / 2;
        if (mass_where(c, sm, bound, mid, false) >= need) hi = mid;
        else lo = mid + 1;
    }
    double above = mass_where(c, sm, bound, lo, true);
    int nAbove = count_where(c, sm, bound, lo);
    float sv = __uint_as_float(0);  // the tied value's w
    {
        unsigned int o = ~lo;  // ordered(s)
        unsigned int b = (o & 0x80000000u) ? (o & 0x7fffffffu) : ~o;
        sv = __expf(__uint_as_float(b) - c.smax);
    }
    int nTies = count_where(c, sm, bound, lo + 1 == 0 ? lo : lo + 1) - nAbove;
    int take = 1;
    double cum = above + sv;
    while (cum < need && take < nTies) {
        cum += sv;
        take++;
    }
    return select_key(c, sm, bound, nAbove + take);
}

__global__ void __launch_bounds__(SM_THREADS) sample_kernel(int* tokens, float* logp, const float* logits,
                                                            const long long* seeds, long long counter, int V,
                                                            float temperature, int topK, float topP) {
    __shared__ SampleSmem sm;
    int b = blockIdx.x;
    RowCtx c{logits + (long long)b * V, V, temperature, 0.f};
    const float* z = c.z;

    // raw max (and argmax, lowest index) for greedy / fallback and the log-prob
    float mx = -INFINITY;
    int arg = 0x7fffffff;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        float v = z[i];
        if (v > mx || (v == mx && i < arg)) {
            mx = v;
            arg = i;
        }
    }
    float zmax = block_max(mx, sm.redf);
    int cand = (mx == zmax) ? arg : 0x7fffffff;
    for (int o = 16; o > 0; o >>= 1) cand = min(cand, __shfl_xor_sync(0xffffffffu, cand, o));
    __syncthreads();
    if ((threadIdx.x & 31) == 0) sm.redi[threadIdx.x >> 5] = cand;
    __syncthreads();
    int argmax = 0x7fffffff;
    for (int w = 0; w < (int)(blockDim.x >> 5); w++) argmax = min(argmax, sm.redi[w]);
    if (argmax == 0x7fffffff) argmax = 0;  // all NaN or -inf: index 0, as the CPU

    int tok = argmax;
    if (temperature > 0.f) {
        float smx = -INFINITY;
        bool nan = false;
        for (int i = threadIdx.x; i < V; i += blockDim.x) {
            float s = z[i] / temperature;
            nan |= isnan(s);
            smx = fmaxf(smx, s);
        }
        c.smax = block_max(smx, sm.redf);
        bool anyNan = __syncthreads_or(nan) != 0;
        if (!(c.smax == -INFINITY || anyNan)) {
            bool filterK = topK > 0 && topK < V, filterP = topP < 1.f;
            unsigned long long bound = ~0ull;
            int nCand = V;
            if (filterK) {
                bound = select_key(c, sm, ~0ull, topK);
                nCand = topK;
            }
            if (filterP) {
                double mass = 0;
                for (int i = threadIdx.x; i < V; i += blockDim.x)
                    if (c.key(i) <= bound) mass += c.w(i);
                mass = block_sum(mass, sm.red);
                bound = nucleus_key(c, sm, bound, nCand, (double)topP * mass);
            }
            // walk the kept tokens in index order
            float u = counter_uniform(seeds[b], counter);
            int per = (V + blockDim.x - 1) / blockDim.x;
            int i0 = threadIdx.x * per, i1 = min(V, i0 + per);
            double local = 0;
            int lastPos = -1;
            for (int i = i0; i < i1; i++)
                if (c.key(i) <= bound) {
                    float w = c.w(i);
                    local += w;
                    if (w > 0.f) lastPos = i;
                }
            double incl;
            double run = block_scan(local, sm.red, &incl);
            if (threadIdx.x == blockDim.x - 1) sm.bcast = __double_as_longlong(incl);
            if (threadIdx.x == 0) sm.count = -1;
            __syncthreads();
            double target = (double)u * __longlong_as_double(sm.bcast);  // u * total
            if (run <= target && incl > target) {  // exactly one thread
                int pick = -1;
                for (int i = i0; i < i1; i++)
                    if (c.key(i) <= bound) {
                        float w = c.w(i);
                        if (w > 0.f) pick = i;
                        run += w;
                        if (run > target) break;
                    }
                sm.count = pick;
            }
            __syncthreads();
            int chosen = sm.count;
            if (chosen < 0) {  // no sum exceeded the target: the last kept token with w > 0
                int last = lastPos;
                for (int o = 16; o > 0; o >>= 1) last = max(last, __shfl_xor_sync(0xffffffffu, last, o));
                __syncthreads();
                if ((threadIdx.x & 31) == 0) sm.redi[threadIdx.x >> 5] = last;
                __syncthreads();
                chosen = -1;
                for (int w = 0; w < (int)(blockDim.x >> 5); w++) chosen = max(chosen, sm.redi[w]);
                if (chosen < 0) chosen = argmax;
            }
            tok = chosen;
        }
    }
    if (logp) {
        float acc = 0.f;
        if (zmax != -INFINITY)
            for (int i = threadIdx.x; i < V; i += blockDim.x) acc += __expf(z[i] - zmax);
        double sum = block_sum((double)acc, sm.red);
        if (threadIdx.x == 0) logp[b] = (float)((double)z[tok] - ((double)zmax + log(sum)));
    }
    if (threadIdx.x == 0) tokens[b] = tok;
}

}  // namespace p4j

using namespace p4j;

P4J_API int p4j_sample(void* tokens, void* logp, const void* logits, const void* seeds, long long counter, int B,
                       int V, float temperature, int topK, float topP, void* stream) {
    if (B < 0 || V <= 0) return P4J_E_INVALID_ARGUMENT;
    if (B == 0) return 0;
    if (!tokens || !logits || !seeds) return P4J_E_INVALID_ARGUMENT;
    sample_kernel<<<B, SM_THREADS, 0, as_stream(stream)>>>(static_cast<int*>(tokens), static_cast<float*>(logp),
                                                           static_cast<const float*>(logits),
                                                           static_cast<const long long*>(seeds), counter, V,
                                                           temperature, topK, topP);
    return launch_status();
}
