// common.cuh - shared helpers of libpref4j_cuda.so: status handling, launch sizing,
// warp/block reductions, the per-thread status word of the validating (synchronising)
// functions. Not part of the ABI.
#pragma once

#include <cuda_runtime.h>
#include <cstdint>
#include <cmath>
#include "../native/include/pref4j.h"

#define P4J_API extern "C" __attribute__((visibility("default")))

namespace p4j {

inline cudaStream_t as_stream(void* s) { return reinterpret_cast<cudaStream_t>(s); }

// Status after a launch: 0 or the cudaError_t of the launch.
inline int launch_status() { return static_cast<int>(cudaGetLastError()); }

inline int check(cudaError_t e) { return static_cast<int>(e); }

// Grid for a grid-stride loop over n elements.
inline unsigned grid_for(long long n, int threads, int max_blocks = 65535 * 4) {
    long long b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    if (b > max_blocks) b = max_blocks;
    return static_cast<unsigned>(b);
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ double warp_sum(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ int warp_sum_int(int v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Block-wide sum (all threads get the result). blockDim.x multiple of 32, <= 1024.
// `sh` needs 32 slots. Contains __syncthreads: call from all threads.
template <typename T>
__device__ T block_sum(T v, T* sh) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    T r = 0;
    for (int i = 0; i < nw; i++) r += sh[i];  // fixed order: deterministic
    return r;
}

__device__ __forceinline__ float block_max(float v, float* sh) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    float r = -INFINITY;
    for (int i = 0; i < nw; i++) r = fmaxf(r, sh[i]);
    return r;
}

// A device int + pinned host int per (host thread, device): the validating functions
// write a status there, copy it back and synchronise.
struct StatusWord {
    int* dev = nullptr;
    int* host = nullptr;
};
int status_word(StatusWord** out);
// Launch-then-read protocol: reset (async memset), kernels write a non-zero code, then
// fetch() copies back, synchronises `stream` and returns the code (or a cudaError_t).
int status_reset(StatusWord* w, cudaStream_t stream);
int status_fetch(StatusWord* w, cudaStream_t stream);

}  // namespace p4j
