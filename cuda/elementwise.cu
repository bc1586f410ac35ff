// elementwise.cu - fill, add, accumulate, scale, GELU (tanh form) forward and backward over
// n fp32 elements: grid-stride loops, memory-bound. GELU uses 0.5(1 + tanh u) = sigmoid(2u)
// exactly as CpuLayers (accurate in the negative tail, z clamped to +-80).
#include "common.cuh"
#include "formulas.cuh"

namespace p4j {

constexpr int EW_THREADS = 256;

#define GRID_LOOP(i, n) \
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

__global__ void fill_kernel(float* x, long long n, float v) { GRID_LOOP(i, n) x[i] = v; }

__global__ void add_kernel(float* out, const float* a, const float* b, long long n) {
    GRID_LOOP(i, n) out[i] = a[i] + b[i];
}

__global__ void accumulate_kernel(float* __restrict__ y, const float* __restrict__ x, long long n) {
    GRID_LOOP(i, n) y[i] += x[i];
}

__global__ void scale_kernel(float* x, long long n, float s) { GRID_LOOP(i, n) x[i] *= s; }

// out = x * sigmoid(2u), u = sqrt(2/pi)(x + 0.044715 x^3)  (formulas.cuh: gelu_f)
__global__ void gelu_forward_kernel(float* __restrict__ out, const float* __restrict__ inp, long long n) {
    GRID_LOOP(i, n) out[i] = gelu_f(inp[i]);
}

// dinp = dout * [sg (1 + x * 2u' * (e^-z sg))], sg = sigmoid(z), z = 2u. dinp may alias dout.
__global__ void gelu_backward_kernel(float* dinp, const float* __restrict__ inp, const float* dout, long long n) {
    GRID_LOOP(i, n) dinp[i] = gelu_grad_f(inp[i]) * dout[i];
}

}  // namespace p4j

using namespace p4j;

#define EW_PROLOGUE(n, ...)                                      \
    if ((n) < 0) return P4J_E_INVALID_ARGUMENT;                  \
    if ((n) == 0) return 0;                                      \
    if (__VA_ARGS__) return P4J_E_INVALID_ARGUMENT;              \
    cudaStream_t s = as_stream(stream);                          \
    unsigned grid = grid_for((n), EW_THREADS);

P4J_API int p4j_fill(void* x, long long n, float value, void* stream) {
    EW_PROLOGUE(n, x == nullptr)
    fill_kernel<<<grid, EW_THREADS, 0, s>>>(static_cast<float*>(x), n, value);
    return launch_status();
}

P4J_API int p4j_add(void* out, const void* a, const void* b, long long n, void* stream) {
    EW_PROLOGUE(n, !out || !a || !b)
    add_kernel<<<grid, EW_THREADS, 0, s>>>(static_cast<float*>(out), static_cast<const float*>(a),
                                           static_cast<const float*>(b), n);
    return launch_status();
}

P4J_API int p4j_accumulate(void* y, const void* x, long long n, void* stream) {
    EW_PROLOGUE(n, !y || !x)
    accumulate_kernel<<<grid, EW_THREADS, 0, s>>>(static_cast<float*>(y), static_cast<const float*>(x), n);
    return launch_status();
}

P4J_API int p4j_scale(void* x, long long n, float sc, void* stream) {
    EW_PROLOGUE(n, !x)
    scale_kernel<<<grid, EW_THREADS, 0, s>>>(static_cast<float*>(x), n, sc);
    return launch_status();
}

P4J_API int p4j_gelu_forward(void* out, const void* inp, long long n, void* stream) {
    EW_PROLOGUE(n, !out || !inp)
    gelu_forward_kernel<<<grid, EW_THREADS, 0, s>>>(static_cast<float*>(out), static_cast<const float*>(inp), n);
    return launch_status();
}

P4J_API int p4j_gelu_backward(void* dinp, const void* inp, const void* dout, long long n, void* stream) {
    EW_PROLOGUE(n, !dinp || !inp || !dout)
    gelu_backward_kernel<<<grid, EW_THREADS, 0, s>>>(static_cast<float*>(dinp), static_cast<const float*>(inp),
                                                     static_cast<const float*>(dout), n);
    return launch_status();
}
