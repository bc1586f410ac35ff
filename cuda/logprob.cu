// logprob.cu - the chunked log-softmax gather (SPEC §2 kernel requirement). The Java side
// computes each vocabulary chunk of logits with a cuBLAS GEMM into a bounded [N, Vc]
// buffer and calls these kernels in the sequence documented in pref4j.h; no [N, V] buffer
// ever exists. Per row the stats hold (in double) the running max m, s = sum exp(z - m),
// t = sum exp(z - m) (z - m) and the target logit; chunks merge exactly as CpuLogprob merges
// its chunk partials: lse = m + log s, entropy = log s - t/s.
#include "common.cuh"

namespace p4j {

struct RowStats {
    double m, s, t, zt;
};
static_assert(sizeof(RowStats) == P4J_LOGPROB_STATS_FLOATS * sizeof(float), "stats layout");

constexpr int LP_THREADS = 256;

__global__ void logprob_init_kernel(RowStats* stats, int N) {
    int n = blockIdx.x * blockDim.x + threadIdx.x;
    if (n < N) stats[n] = RowStats{-INFINITY, 0.0, 0.0, 0.0};
}

// One block per row: the chunk's max, sum and t, merged into the row's stats by thread 0.
__global__ void __launch_bounds__(LP_THREADS) logprob_chunk_forward_kernel(RowStats* stats, const float* __restrict__ chunk,
                                                                           const int* __restrict__ targets, int v0,
                                                                           int Vc) {
    __shared__ float shf[32];
    __shared__ double shd[32];
    int n = blockIdx.x;
    int tgt = targets[n];
    if (tgt < 0) return;  // block-uniform
    const float* z = chunk + (long long)n * Vc;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < Vc; j += blockDim.x) mx = fmaxf(mx, z[j]);
    float mc = block_max(mx, shf);
    if (mc == -INFINITY) return;  // block-uniform: nothing in this chunk
    float s = 0.f, t = 0.f;
    for (int j = threadIdx.x; j < Vc; j += blockDim.x) {
        float d = z[j] - mc;
        float e = __expf(d);
        s += e;
        t += e * d;
    }
    double sc = block_sum((double)s, shd);
    double tc = block_sum((double)t, shd);
    if (threadIdx.x == 0) {
        RowStats r = stats[n];
        double m = fmax(r.m, (double)mc);
        double ns = 0, nt = 0;
        if (r.s > 0) {
            double f = exp(r.m - m);
            ns += f * r.s;
            nt += f * (r.t + r.s * (r.m - m));
        }
        double f = exp((double)mc - m);
        ns += f * sc;
        nt += f * (tc + sc * ((double)mc - m));
        r.m = m;
        r.s = ns;
        r.t = nt;
        if (tgt >= v0 && tgt < v0 + Vc) r.zt = z[tgt - v0];
        stats[n] = r;
    }
}

__global__ void logprob_finalize_kernel(float* logp, float* entropy, float* lse, const RowStats* stats,
                                        const int* targets, int N, int V) {
    int n = blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    int tgt = targets[n];
    float lp = 0.f, h = 0.f, l = 0.f;
    if (tgt >= V) {
        lp = h = l = __int_as_float(0x7fc00000);
    } else if (tgt >= 0) {
        RowStats r = stats[n];
        double logS = log(r.s), ls = r.m + logS;
        l = (float)ls;
        lp = (float)(r.zt - ls);
        h = (float)(logS - r.t / r.s);
    }
    logp[n] = lp;
    lse[n] = l;
    if (entropy) entropy[n] = h;
}

// One block per row: dz = dlogp (onehot - p) - dentropy p (log p + H), in place.
__global__ void __launch_bounds__(LP_THREADS) logprob_chunk_backward_kernel(float* chunk, const float* __restrict__ dlogp,
                                                                            const float* __restrict__ dentropy,
                                                                            const float* __restrict__ lse,
                                                                            const float* __restrict__ entropy,
                                                                            const int* __restrict__ targets, int v0,
                                                                            int Vc) {
    int n = blockIdx.x;
    float* z = chunk + (long long)n * Vc;
    int tgt = targets[n];
    if (tgt < 0) {
        for (int j = threadIdx.x; j < Vc; j += blockDim.x) z[j] = 0.f;
        return;
    }
    float dl = dlogp[n], l = lse[n];
    float de = dentropy ? dentropy[n] : 0.f;
    float H = (dentropy && entropy) ? entropy[n] : 0.f;
    int local = tgt - v0;
    for (int j = threadIdx.x; j < Vc; j += blockDim.x) {
        float lp = z[j] - l;
        float p = __expf(lp);
        float d = dl * ((j == local ? 1.f : 0.f) - p);
        if (de != 0.f) d -= de * p * (lp + H);
        z[j] = d;
    }
}

}  // namespace p4j

using namespace p4j;

P4J_API int p4j_logprob_init(void* stats, int N, void* stream) {
    if (N < 0 || (N > 0 && !stats)) return P4J_E_INVALID_ARGUMENT;
    if (N == 0) return 0;
    logprob_init_kernel<<<(N + 255) / 256, 256, 0, as_stream(stream)>>>(static_cast<RowStats*>(stats), N);
    return launch_status();
}

P4J_API int p4j_logprob_chunk_forward(void* stats, const void* chunk, const void* targets, int N, int v0, int Vc,
                                      int V, void* stream) {
    if (N < 0 || Vc < 0 || v0 < 0 || (long long)v0 + Vc > V) return P4J_E_INVALID_ARGUMENT;
    if (N == 0 || Vc == 0) return 0;
    if (!stats || !chunk || !targets) return P4J_E_INVALID_ARGUMENT;
    logprob_chunk_forward_kernel<<<N, LP_THREADS, 0, as_stream(stream)>>>(
        static_cast<RowStats*>(stats), static_cast<const float*>(chunk), static_cast<const int*>(targets), v0, Vc);
    return launch_status();
}

P4J_API int p4j_logprob_finalize(void* logp, void* entropy, void* lse, const void* stats, const void* targets, int N,
                                 int V, void* stream) {
    if (N < 0 || V < 0) return P4J_E_INVALID_ARGUMENT;
    if (N == 0) return 0;
    if (!logp || !lse || !stats || !targets) return P4J_E_INVALID_ARGUMENT;
    logprob_finalize_kernel<<<(N + 255) / 256, 256, 0, as_stream(stream)>>>(
        static_cast<float*>(logp), static_cast<float*>(entropy), static_cast<float*>(lse),
        static_cast<const RowStats*>(stats), static_cast<const int*>(targets), N, V);
    return launch_status();
}

P4J_API int p4j_logprob_chunk_backward(void* chunk, const void* dlogp, const void* dentropy, const void* lse,
                                       const void* entropy, const void* targets, int N, int v0, int Vc, void* stream) {
    if (N < 0 || Vc < 0 || v0 < 0) return P4J_E_INVALID_ARGUMENT;
    if (N == 0 || Vc == 0) return 0;
    if (!chunk || !dlogp || !lse || !targets || (dentropy && !entropy)) return P4J_E_INVALID_ARGUMENT;
    logprob_chunk_backward_kernel<<<N, LP_THREADS, 0, as_stream(stream)>>>(
        static_cast<float*>(chunk), static_cast<const float*>(dlogp), static_cast<const float*>(dentropy),
        static_cast<const float*>(lse), static_cast<const float*>(entropy), static_cast<const int*>(targets), v0, Vc);
    return launch_status();
}
