// embedding.cu - token + position embedding. Forward: out[b,t,:] = wte[tok,:] + wpe[t,:]
// (a token outside [0,V) gives a NaN row). Backward: dwte[tok,:] += dout (fp32 atomicAdd:
// tokens repeat; rounding order varies run to run), dwpe[t,:] += sum_b dout[b,t,:] (one
// thread per (t,c), b summed in order: deterministic).
#include "common.cuh"

namespace p4j {

__global__ void embedding_forward_kernel(float* __restrict__ out, const int* __restrict__ tokens,
                                         const float* __restrict__ wte, const float* __restrict__ wpe,
                                         int T, int C, int V) {
    int bt = blockIdx.x;  // row b*T + t
    int t = bt % T;
    int tok = tokens[bt];
    float* o = out + (long long)bt * C;
    const float* p = wpe + (long long)t * C;
    if (tok < 0 || tok >= V) {
        for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = __int_as_float(0x7fc00000);
        return;
    }
    const float* e = wte + (long long)tok * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = e[c] + p[c];
}

__global__ void embedding_backward_wte_kernel(float* dwte, const float* __restrict__ dout,
                                              const int* __restrict__ tokens, int C, int V) {
    int bt = blockIdx.x;
    int tok = tokens[bt];
    if (tok < 0 || tok >= V) return;
    const float* d = dout + (long long)bt * C;
    float* w = dwte + (long long)tok * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) atomicAdd(w + c, d[c]);
}

__global__ void embedding_backward_wpe_kernel(float* __restrict__ dwpe, const float* __restrict__ dout,
                                              int B, int T, int C) {
    long long n = (long long)T * C;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float s = 0.f;
        for (int b = 0; b < B; b++) s += dout[(long long)b * n + i];
        dwpe[i] += s;
    }
}

}  // namespace p4j

using namespace p4j;

P4J_API int p4j_embedding_forward(void* out, const void* tokens, const void* wte, const void* wpe,
                                  int B, int T, int C, int V, void* stream) {
    if (B < 0 || T < 0 || C < 0 || V < 0) return P4J_E_INVALID_ARGUMENT;
    if (B == 0 || T == 0 || C == 0) return 0;
    if (!out || !tokens || !wte || !wpe) return P4J_E_INVALID_ARGUMENT;
    embedding_forward_kernel<<<B * T, 128, 0, as_stream(stream)>>>(
        static_cast<float*>(out), static_cast<const int*>(tokens), static_cast<const float*>(wte),
        static_cast<const float*>(wpe), T, C, V);
    return launch_status();
}

P4J_API int p4j_embedding_backward(void* dwte, void* dwpe, const void* dout, const void* tokens,
                                   int B, int T, int C, int V, void* stream) {
    if (B < 0 || T < 0 || C < 0 || V < 0) return P4J_E_INVALID_ARGUMENT;
    if (B == 0 || T == 0 || C == 0) return 0;
    if (!dwte || !dwpe || !dout || !tokens) return P4J_E_INVALID_ARGUMENT;
    cudaStream_t s = as_stream(stream);
    embedding_backward_wte_kernel<<<B * T, 128, 0, s>>>(static_cast<float*>(dwte), static_cast<const float*>(dout),
                                                        static_cast<const int*>(tokens), C, V);
    int st = launch_status();
    if (st) return st;
    long long n = (long long)T * C;
    embedding_backward_wpe_kernel<<<grid_for(n, 256), 256, 0, s>>>(static_cast<float*>(dwpe),
                                                                   static_cast<const float*>(dout), B, T, C);
    return launch_status();
}
