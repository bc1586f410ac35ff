// rows.cu - row/column reductions and row movement: bias_backward (column sums, one block
// per 32-column stripe, fixed order: deterministic), row_sum (one warp per row),
// row_broadcast, gather_rows, scatter_add_rows (fp32 atomicAdd: rows may repeat).
#include "common.cuh"

namespace p4j {

// dbias[c] += sum_m dout[m, c]. Block (32, 32): threadIdx.x = column in the stripe,
// threadIdx.y strides rows; then a fixed-order reduction over y in shared memory.
__global__ void column_sum_kernel(float* __restrict__ dbias, const float* __restrict__ dout, int M, int N) {
    __shared__ float sh[32][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    float acc = 0.f;
    if (c < N)
        for (int m = threadIdx.y; m < M; m += 32) acc += dout[(long long)m * N + c];
    sh[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < N) {
        float s = 0.f;
        for (int y = 0; y < 32; y++) s += sh[y][threadIdx.x];
        dbias[c] += s;
    }
}

__global__ void row_sum_kernel(float* __restrict__ out, const float* __restrict__ x, int rows, int cols) {
    int r = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (r >= rows) return;
    const float* row = x + (long long)r * cols;
    float s = 0.f;
    for (int c = lane; c < cols; c += 32) s += row[c];
    s = warp_sum(s);
    if (lane == 0) out[r] = s;
}

__global__ void row_broadcast_kernel(float* __restrict__ out, const float* __restrict__ x, int rows, int cols) {
    long long n = (long long)rows * cols;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = x[i / cols];
}

// one block (128 threads) per output row
__global__ void gather_rows_kernel(float* __restrict__ out, const float* __restrict__ x, const int* __restrict__ rows, int C) {
    int b = blockIdx.x;
    int r = rows[b];
    float* o = out + (long long)b * C;
    if (r < 0) {
        for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = 0.f;
        return;
    }
    const float* src = x + (long long)r * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = src[c];
}

__global__ void scatter_add_rows_kernel(float* dx, const float* __restrict__ dout, const int* __restrict__ rows, int C) {
    int b = blockIdx.x;
    int r = rows[b];
    if (r < 0) return;
    const float* src = dout + (long long)b * C;
    float* d = dx + (long long)r * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) atomicAdd(d + c, src[c]);
}

}  // namespace p4j

using namespace p4j;

P4J_API int p4j_bias_backward(void* dbias, const void* dout, int M, int N, void* stream) {
    if (M < 0 || N < 0) return P4J_E_INVALID_ARGUMENT;
    if (M == 0 || N == 0) return 0;
    if (!dbias || !dout) return P4J_E_INVALID_ARGUMENT;
    column_sum_kernel<<<(N + 31) / 32, dim3(32, 32), 0, as_stream(stream)>>>(
        static_cast<float*>(dbias), static_cast<const float*>(dout), M, N);
    return launch_status();
}

P4J_API int p4j_row_sum(void* out, const void* x, int rows, int cols, void* stream) {
    if (rows < 0 || cols < 0) return P4J_E_INVALID_ARGUMENT;
    if (rows == 0) return 0;
    if (!out || (cols > 0 && !x)) return P4J_E_INVALID_ARGUMENT;
    row_sum_kernel<<<(rows + 7) / 8, 256, 0, as_stream(stream)>>>(static_cast<float*>(out),
                                                                  static_cast<const float*>(x), rows, cols);
    return launch_status();
}

P4J_API int p4j_row_broadcast(void* out, const void* x, int rows, int cols, void* stream) {
    if (rows < 0 || cols < 0) return P4J_E_INVALID_ARGUMENT;
    if (rows == 0 || cols == 0) return 0;
    if (!out || !x) return P4J_E_INVALID_ARGUMENT;
    long long n = (long long)rows * cols;
    row_broadcast_kernel<<<grid_for(n, 256), 256, 0, as_stream(stream)>>>(static_cast<float*>(out),
                                                                          static_cast<const float*>(x), rows, cols);
    return launch_status();
}

P4J_API int p4j_gather_rows(void* out, const void* x, const void* rows, int R, int C, void* stream) {
    if (R < 0 || C < 0) return P4J_E_INVALID_ARGUMENT;
    if (R == 0 || C == 0) return 0;
    if (!out || !x || !rows) return P4J_E_INVALID_ARGUMENT;
    gather_rows_kernel<<<R, 128, 0, as_stream(stream)>>>(static_cast<float*>(out), static_cast<const float*>(x),
                                                         static_cast<const int*>(rows), C);
    return launch_status();
}

P4J_API int p4j_scatter_add_rows(void* dx, const void* dout, const void* rows, int R, int C, void* stream) {
    if (R < 0 || C < 0) return P4J_E_INVALID_ARGUMENT;
    if (R == 0 || C == 0) return 0;
    if (!dx || !dout || !rows) return P4J_E_INVALID_ARGUMENT;
    scatter_add_rows_kernel<<<R, 128, 0, as_stream(stream)>>>(static_cast<float*>(dx), static_cast<const float*>(dout),
                                                              static_cast<const int*>(rows), C);
    return launch_status();
}
