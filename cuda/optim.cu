// optim.cu - AdamW (decoupled weight decay, PyTorch semantics, bias corrections computed
// in double on the host) and sum_squares (sum x^2 in double: a fixed grid of 1023 blocks
// writes per-block partials into out[1..], one block then sums them in order: deterministic).
#include "common.cuh"

namespace p4j {

__global__ void adamw_kernel(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                             float* __restrict__ v, long long n, float lr, float b1, float b2, float eps, float wd,
                             float decay, float step_size, float bc2_sqrt) {
    // PyTorch's form (as CpuOptim): p *= 1 - lr*wd; p -= step_size * m / (sqrt(v)/sqrt(bc2) + eps)
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float gi = g[i];
        float mi = fmaf(gi - m[i], 1.f - b1, m[i]);
        float vi = b2 * v[i] + (1.f - b2) * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] = p[i] * decay - mi / denom * step_size;
    }
}

constexpr int SS_BLOCKS = P4J_SUM_SQUARES_OUT_DOUBLES - 1;
constexpr int SS_THREADS = 256;

__global__ void sum_squares_partial_kernel(double* out, const float* __restrict__ x, long long n) {
    __shared__ double sh[32];
    double acc = 0;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        double xi = x[i];
        acc += xi * xi;
    }
    acc = block_sum(acc, sh);
    if (threadIdx.x == 0) out[1 + blockIdx.x] = acc;
}

__global__ void sum_squares_final_kernel(double* out, int parts) {
    __shared__ double sh[32];
    double acc = 0;
    for (int i = threadIdx.x; i < parts; i += blockDim.x) acc += out[1 + i];
    acc = block_sum(acc, sh);
    if (threadIdx.x == 0) out[0] = acc;
}

}  // namespace p4j

using namespace p4j;

P4J_API int p4j_adamw(void* params, const void* grads, void* m, void* v, long long n, float lr, float beta1,
                      float beta2, float eps, float weight_decay, int step, void* stream) {
    if (n < 0 || step < 1) return P4J_E_INVALID_ARGUMENT;
    if (n == 0) return 0;
    if (!params || !grads || !m || !v) return P4J_E_INVALID_ARGUMENT;
    float decay = static_cast<float>(1.0 - static_cast<double>(lr) * weight_decay);
    float step_size = static_cast<float>(lr / (1.0 - std::pow(static_cast<double>(beta1), step)));
    float bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(static_cast<double>(beta2), step)));
    adamw_kernel<<<grid_for(n, 256), 256, 0, as_stream(stream)>>>(
        static_cast<float*>(params), static_cast<const float*>(grads), static_cast<float*>(m), static_cast<float*>(v),
        n, lr, beta1, beta2, eps, weight_decay, decay, step_size, bc2_sqrt);
    return launch_status();
}

P4J_API int p4j_sum_squares(void* out, const void* x, long long n, void* stream) {
    if (n < 0 || !out || (n > 0 && !x)) return P4J_E_INVALID_ARGUMENT;
    cudaStream_t s = as_stream(stream);
    int blocks = n == 0 ? 1 : static_cast<int>(grid_for(n, SS_THREADS, SS_BLOCKS));
    sum_squares_partial_kernel<<<blocks, SS_THREADS, 0, s>>>(static_cast<double*>(out), static_cast<const float*>(x), n);
    int st = launch_status();
    if (st) return st;
    sum_squares_final_kernel<<<1, SS_THREADS, 0, s>>>(static_cast<double*>(out), blocks);
    return launch_status();
}
