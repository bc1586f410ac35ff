// layernorm.cu - LayerNorm over the last dimension (eps 1e-5, biased variance).
// Forward: one warp per row, two passes (mean, then sum of squared deviations), saves
// mean/rstd. Backward: dinp += by one warp per row (llm.c's formula); dweight += and
// dbias += by a separate column kernel, one block per 32-column stripe summing all N rows
// in a fixed order (deterministic, no atomics, no scratch).
#include "common.cuh"

namespace p4j {

constexpr float LN_EPS = 1e-5f;

__global__ void layer_norm_forward_kernel(float* __restrict__ out, float* __restrict__ mean, float* __restrict__ rstd,
                                          const float* __restrict__ inp, const float* __restrict__ weight,
                                          const float* __restrict__ bias, int N, int C) {
    int n = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (n >= N) return;
    const float* x = inp + (long long)n * C;
    float s = 0.f;
    for (int c = lane; c < C; c += 32) s += x[c];
    float m = warp_sum(s) / C;
    float v = 0.f;
    for (int c = lane; c < C; c += 32) {
        float d = x[c] - m;
        v += d * d;
    }
    float rs = rsqrtf(warp_sum(v) / C + LN_EPS);
    float* o = out + (long long)n * C;
    for (int c = lane; c < C; c += 32) o[c] = (x[c] - m) * rs * weight[c] + bias[c];
    if (lane == 0) {
        mean[n] = m;
        rstd[n] = rs;
    }
}

// dinp[n,:] += (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat)) * rstd, dnorm = dout * w.
__global__ void layer_norm_backward_dinp_kernel(float* __restrict__ dinp, const float* __restrict__ dout,
                                                const float* __restrict__ inp, const float* __restrict__ weight,
                                                const float* __restrict__ mean, const float* __restrict__ rstd,
                                                int N, int C) {
    int n = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (n >= N) return;
    const float* x = inp + (long long)n * C;
    const float* dy = dout + (long long)n * C;
    float m = mean[n], rs = rstd[n];
    float a = 0.f, b = 0.f;
    for (int c = lane; c < C; c += 32) {
        float dn = dy[c] * weight[c];
        a += dn;
        b += dn * (x[c] - m) * rs;
    }
    a = warp_sum(a) / C;
    b = warp_sum(b) / C;
    float* dx = dinp + (long long)n * C;
    for (int c = lane; c < C; c += 32) {
        float xh = (x[c] - m) * rs;
        float dn = dy[c] * weight[c];
        dx[c] += (dn - a - xh * b) * rs;
    }
}

// dweight[c] += sum_n dout[n,c] * xhat[n,c]; dbias[c] += sum_n dout[n,c]. Block (32,32).
__global__ void layer_norm_backward_params_kernel(float* __restrict__ dweight, float* __restrict__ dbias,
                                                  const float* __restrict__ dout, const float* __restrict__ inp,
                                                  const float* __restrict__ mean, const float* __restrict__ rstd,
                                                  int N, int C) {
    __shared__ float sw[32][33], sb[32][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    float aw = 0.f, ab = 0.f;
    if (c < C) {
        for (int n = threadIdx.y; n < N; n += 32) {
            long long i = (long long)n * C + c;
            float dy = dout[i];
            aw += dy * (inp[i] - mean[n]) * rstd[n];
            ab += dy;
        }
    }
    sw[threadIdx.y][threadIdx.x] = aw;
    sb[threadIdx.y][threadIdx.x] = ab;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float w = 0.f, b = 0.f;
        for (int y = 0; y < 32; y++) {
            w += sw[y][threadIdx.x];
            b += sb[y][threadIdx.x];
        }
        dweight[c] += w;
        dbias[c] += b;
    }
}

}  // namespace p4j

using namespace p4j;

P4J_API int p4j_layer_norm_forward(void* out, void* mean, void* rstd, const void* inp, const void* weight,
                                   const void* bias, int N, int C, void* stream) {
    if (N < 0 || C <= 0) return P4J_E_INVALID_ARGUMENT;
    if (N == 0) return 0;
    if (!out || !mean || !rstd || !inp || !weight || !bias) return P4J_E_INVALID_ARGUMENT;
    layer_norm_forward_kernel<<<(N + 7) / 8, 256, 0, as_stream(stream)>>>(
        static_cast<float*>(out), static_cast<float*>(mean), static_cast<float*>(rstd), static_cast<const float*>(inp),
        static_cast<const float*>(weight), static_cast<const float*>(bias), N, C);
    return launch_status();
}

P4J_API int p4j_layer_norm_backward(void* dinp, void* dweight, void* dbias, const void* dout, const void* inp,
                                    const void* weight, const void* mean, const void* rstd, int N, int C,
                                    void* stream) {
    if (N < 0 || C <= 0) return P4J_E_INVALID_ARGUMENT;
    if (N == 0) return 0;
    if (!dinp || !dweight || !dbias || !dout || !inp || !weight || !mean || !rstd) return P4J_E_INVALID_ARGUMENT;
    cudaStream_t s = as_stream(stream);
    layer_norm_backward_dinp_kernel<<<(N + 7) / 8, 256, 0, s>>>(
        static_cast<float*>(dinp), static_cast<const float*>(dout), static_cast<const float*>(inp),
        static_cast<const float*>(weight), static_cast<const float*>(mean), static_cast<const float*>(rstd), N, C);
    int st = launch_status();
    if (st) return st;
    layer_norm_backward_params_kernel<<<(C + 31) / 32, dim3(32, 32), 0, s>>>(
        static_cast<float*>(dweight), static_cast<float*>(dbias), static_cast<const float*>(dout),
        static_cast<const float*>(inp), static_cast<const float*>(mean), static_cast<const float*>(rstd), N, C);
    return launch_status();
}
