// llama.cu - the Llama-family layers other than attention: RMSNorm, Qwen3's per-head q/k
// RMSNorm, rotary position embedding (RoPE) and SwiGLU, fp32 in and out. The per-element
// arithmetic is in llama.cuh (host and device).
//
//  - RMSNorm and the q/k norm share one set of kernels over "head rows": row r = (n, h) of
//    N x H rows of D values at x + n*ld + h*D with its statistic at rstd[n*rs_ld + h].
//    RMSNorm is H = 1, D = ld = C; the q part of the q/k norm H = NH, D = HS, ld = QKV; the
//    k part the same from column NH*HS with H = NKV.
//  - Forward and the input gradient: one warp per row (sum of squares / the dot product in
//    fp32 by warp shuffles, a fixed order).
//  - dweight: a deterministic two-pass reduction, no atomics. Pass 1: a grid of
//    ceil(D/32) column stripes x P row chunks (P <= P4J_NORM_PARTIALS, fixed by the row
//    count), each block (32 x 8 threads) sums its chunk's rows of dy * x * rstd for 32
//    columns in a fixed order into scratch[p*D + c]. Pass 2: one thread per column adds the
//    P partials in order and then into dweight[c] (+=).
//  - RoPE: one thread per (row, q/k head, i < HS/2) pair, in place; positions out of the
//    table give NaN (the caller must size cos/sin for every position it uses).
//  - SwiGLU: one thread per output element.
#include "common.cuh"
#include "llama.cuh"

namespace p4j {

constexpr int NORM_THREADS = 256, NORM_WARPS = NORM_THREADS / 32;
constexpr int PART_Y = 8;            // rows in flight per column in pass 1
constexpr int PART_MIN_ROWS = 64;    // rows per chunk before another chunk is worth it
constexpr int EL_THREADS = 256;

// Where head row r = (n, h) starts.
struct HeadRows {
    long long R;    // rows: N * H
    int H, D;       // heads per n, values per head row
    long long ld;   // elements between consecutive n
    int rs_ld;      // rstd stride per n (rstd index n*rs_ld + h)
    __device__ __forceinline__ long long offset(long long r) const { return (r / H) * ld + (r % H) * (long long)D; }
    __device__ __forceinline__ long long stat(long long r) const { return (r / H) * rs_ld + (r % H); }
};

// out[r,:] = x[r,:] * rstd[r] * w, rstd[r] = 1/sqrt(mean(x^2) + eps). One warp per row.
__global__ void rms_forward_kernel(float* __restrict__ out, float* __restrict__ rstd, const float* __restrict__ inp,
                                   const float* __restrict__ weight, HeadRows g, float eps) {
    long long r = blockIdx.x * (long long)NORM_WARPS + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (r >= g.R) return;
    const float* x = inp + g.offset(r);
    float s = 0.f;
    for (int c = lane; c < g.D; c += 32) s += x[c] * x[c];
    float rs = rms_rstd_f(warp_sum(s), g.D, eps);
    float* o = out + g.offset(r);
    for (int c = lane; c < g.D; c += 32) o[c] = x[c] * rs * weight[c];
    if (lane == 0) rstd[g.stat(r)] = rs;
}

// dinp[r,:] (+= when accumulate, else =) rstd*w*dy - rstd^3/D * x * sum(w*dy*x). One warp per row.
__global__ void rms_backward_dinp_kernel(float* __restrict__ dinp, const float* __restrict__ dout,
                                         const float* __restrict__ inp, const float* __restrict__ weight,
                                         const float* __restrict__ rstd, HeadRows g, int accumulate) {
    long long r = blockIdx.x * (long long)NORM_WARPS + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (r >= g.R) return;
    long long off = g.offset(r);
    const float* x = inp + off;
    const float* dy = dout + off;
    float dot = 0.f;
    for (int c = lane; c < g.D; c += 32) dot += weight[c] * dy[c] * x[c];
    dot = warp_sum(dot) / (float)g.D;
    float rs = rstd[g.stat(r)];
    float* dx = dinp + off;
    for (int c = lane; c < g.D; c += 32) {
        float v = rms_dinp_f(x[c], weight[c] * dy[c], rs, dot);
        dx[c] = accumulate ? dx[c] + v : v;
    }
}

// Pass 1: partial[p*D + c] = sum over rows r in [p*chunk, (p+1)*chunk) of dy[r,c] x[r,c] rstd[r].
// Block (32, PART_Y), grid (ceil(D/32), P).
__global__ void rms_dweight_partial_kernel(float* __restrict__ partial, const float* __restrict__ dout,
                                           const float* __restrict__ inp, const float* __restrict__ rstd, HeadRows g,
                                           long long chunk) {
    __shared__ float sh[PART_Y][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    long long r0 = blockIdx.y * chunk, r1 = min(g.R, r0 + chunk);
    float a = 0.f;
    if (c < g.D) {
        for (long long r = r0 + threadIdx.y; r < r1; r += PART_Y) {
            long long i = g.offset(r) + c;
            a += dout[i] * inp[i] * rstd[g.stat(r)];
        }
    }
    sh[threadIdx.y][threadIdx.x] = a;
    __syncthreads();
    if (threadIdx.y == 0 && c < g.D) {
        float s = 0.f;
        for (int y = 0; y < PART_Y; y++) s += sh[y][threadIdx.x];
        partial[(long long)blockIdx.y * g.D + c] = s;
    }
}

// Pass 2: dweight[c] += sum_p partial[p*D + c], p in order.
__global__ void rms_dweight_finish_kernel(float* __restrict__ dweight, const float* __restrict__ partial, int P, int D) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= D) return;
    float s = 0.f;
    for (int p = 0; p < P; p++) s += partial[(long long)p * D + c];
    dweight[c] += s;
}

// The chunking of pass 1 for R rows: P chunks of `chunk` rows (P >= 1 when R >= 1).
inline void partition_rows(long long R, int* P, long long* chunk) {
    long long p = (R + PART_MIN_ROWS - 1) / PART_MIN_ROWS;
    if (p > P4J_NORM_PARTIALS) p = P4J_NORM_PARTIALS;
    if (p < 1) p = 1;
    long long c = (R + p - 1) / p;
    *chunk = c < 1 ? 1 : c;
    *P = (int)((R + *chunk - 1) / *chunk);
    if (*P < 1) *P = 1;
}

int launch_rms_forward(float* out, float* rstd, const float* inp, const float* w, HeadRows g, float eps, cudaStream_t s) {
    long long blocks = (g.R + NORM_WARPS - 1) / NORM_WARPS;
    if (blocks > 0x7fffffffLL) return P4J_E_UNSUPPORTED;
    rms_forward_kernel<<<(unsigned)blocks, NORM_THREADS, 0, s>>>(out, rstd, inp, w, g, eps);
    return launch_status();
}

int launch_rms_backward(float* dinp, float* dweight, float* scratch, const float* dout, const float* inp,
                        const float* w, const float* rstd, HeadRows g, int accumulate, cudaStream_t s) {
    long long blocks = (g.R + NORM_WARPS - 1) / NORM_WARPS;
    if (blocks > 0x7fffffffLL) return P4J_E_UNSUPPORTED;
    rms_backward_dinp_kernel<<<(unsigned)blocks, NORM_THREADS, 0, s>>>(dinp, dout, inp, w, rstd, g, accumulate);
    int st = launch_status();
    if (st) return st;
    int P;
    long long chunk;
    partition_rows(g.R, &P, &chunk);
    rms_dweight_partial_kernel<<<dim3((g.D + 31) / 32, P), dim3(32, PART_Y), 0, s>>>(scratch, dout, inp, rstd, g, chunk);
    st = launch_status();
    if (st) return st;
    rms_dweight_finish_kernel<<<(g.D + 255) / 256, 256, 0, s>>>(dweight, scratch, P, g.D);
    return launch_status();
}

// v part of N rows of the fused layout: cols [v0, v0 + width) of rows with stride ld, dst = src.
int copy_columns(float* dst, const float* src, int N, long long ld, long long v0, long long width, cudaStream_t s) {
    size_t pitch = (size_t)ld * sizeof(float);
    return check(cudaMemcpy2DAsync(dst + v0, pitch, src + v0, pitch, (size_t)width * sizeof(float), (size_t)N,
                                   cudaMemcpyDeviceToDevice, s));
}

// RoPE over the NH + NKV q/k heads of each row (they are contiguous from column 0), in
// place. One thread per (row, head, i < half), i fastest.
__global__ void rope_kernel(float* __restrict__ x, const float* __restrict__ cosT, const float* __restrict__ sinT,
                            const int* __restrict__ positions, int T, int heads, int HS, long long rs, int maxPos,
                            long long n, int backward) {
    const int half = HS / 2;
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < n;
         idx += (long long)gridDim.x * blockDim.x) {
        int i = (int)(idx % half);
        long long rest = idx / half;
        int hh = (int)(rest % heads);
        long long bt = rest / heads;
        int t = (int)(bt % T), b = (int)(bt / T);
        long long p = (long long)(positions ? positions[b] : 0) + t;
        float* row = x + bt * rs + (long long)hh * HS;
        float x1 = row[i], x2 = row[i + half];
        if (p < 0 || p >= maxPos) {
            x1 = x2 = NAN;
        } else {
            float c = cosT[p * half + i], s = sinT[p * half + i];
            if (backward) rope_rotate_back_f(x1, x2, c, s);
            else rope_rotate_f(x1, x2, c, s);
        }
        row[i] = x1;
        row[i + half] = x2;
    }
}

__global__ void swiglu_forward_kernel(float* __restrict__ out, const float* __restrict__ inp, int I, long long n) {
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < n;
         idx += (long long)gridDim.x * blockDim.x) {
        long long r = idx / I;
        int j = (int)(idx % I);
        const float* row = inp + r * 2 * I;
        out[idx] = swiglu_f(row[j], row[I + j]);
    }
}

__global__ void swiglu_backward_kernel(float* __restrict__ dinp, const float* __restrict__ dout,
                                       const float* __restrict__ inp, int I, long long n) {
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < n;
         idx += (long long)gridDim.x * blockDim.x) {
        long long r = idx / I;
        int j = (int)(idx % I);
        const float* row = inp + r * 2 * I;
        float dg, du;
        swiglu_grad_f(row[j], row[I + j], dout[idx], dg, du);
        dinp[r * 2 * I + j] = dg;
        dinp[r * 2 * I + I + j] = du;
    }
}

int check_qk_shape(int N, int NH, int NKV, int HS) {
    if (N < 0 || NH <= 0 || NKV <= 0 || HS <= 0 || NH % NKV != 0) return P4J_E_INVALID_ARGUMENT;
    return 0;
}

}  // namespace p4j

using namespace p4j;

P4J_API int p4j_rms_norm_forward(void* out, void* rstd, const void* inp, const void* weight, int N, int C, float eps,
                                 void* stream) {
    if (N < 0 || C <= 0 || !(eps >= 0.f)) return P4J_E_INVALID_ARGUMENT;
    if (N == 0) return 0;
    if (!out || !rstd || !inp || !weight) return P4J_E_INVALID_ARGUMENT;
    HeadRows g{N, 1, C, C, 1};
    return launch_rms_forward(static_cast<float*>(out), static_cast<float*>(rstd), static_cast<const float*>(inp),
                              static_cast<const float*>(weight), g, eps, as_stream(stream));
}

P4J_API int p4j_rms_norm_backward(void* dinp, void* dweight, void* scratch, const void* dout, const void* inp,
                                  const void* weight, const void* rstd, int N, int C, void* stream) {
    if (N < 0 || C <= 0) return P4J_E_INVALID_ARGUMENT;
    if (N == 0) return 0;
    if (!dinp || !dweight || !scratch || !dout || !inp || !weight || !rstd) return P4J_E_INVALID_ARGUMENT;
    HeadRows g{N, 1, C, C, 1};
    return launch_rms_backward(static_cast<float*>(dinp), static_cast<float*>(dweight), static_cast<float*>(scratch),
                               static_cast<const float*>(dout), static_cast<const float*>(inp),
                               static_cast<const float*>(weight), static_cast<const float*>(rstd), g, 1,
                               as_stream(stream));
}

P4J_API int p4j_qk_norm_forward(void* qkv_out, void* rstd, const void* qkv_in, const void* q_weight,
                                const void* k_weight, int N, int NH, int NKV, int HS, float eps, void* stream) {
    int st = check_qk_shape(N, NH, NKV, HS);
    if (st) return st;
    if (!(eps >= 0.f)) return P4J_E_INVALID_ARGUMENT;
    if (N == 0) return 0;
    if (!qkv_out || !rstd || !qkv_in || !q_weight || !k_weight) return P4J_E_INVALID_ARGUMENT;
    cudaStream_t s = as_stream(stream);
    float* out = static_cast<float*>(qkv_out);
    float* rs = static_cast<float*>(rstd);
    const float* x = static_cast<const float*>(qkv_in);
    const long long ld = (long long)(NH + 2 * NKV) * HS;
    HeadRows gq{(long long)N * NH, NH, HS, ld, NH + NKV};
    st = launch_rms_forward(out, rs, x, static_cast<const float*>(q_weight), gq, eps, s);
    if (st) return st;
    HeadRows gk{(long long)N * NKV, NKV, HS, ld, NH + NKV};
    const long long k0 = (long long)NH * HS;
    st = launch_rms_forward(out + k0, rs + NH, x + k0, static_cast<const float*>(k_weight), gk, eps, s);
    if (st) return st;
    return copy_columns(out, x, N, ld, (long long)(NH + NKV) * HS, (long long)NKV * HS, s);
}

P4J_API int p4j_qk_norm_backward(void* dqkv_in, void* dq_weight, void* dk_weight, void* scratch,
                                 const void* dqkv_out, const void* qkv_in, const void* q_weight,
                                 const void* k_weight, const void* rstd, int N, int NH, int NKV, int HS,
                                 void* stream) {
    int st = check_qk_shape(N, NH, NKV, HS);
    if (st) return st;
    if (N == 0) return 0;
    if (!dqkv_in || !dq_weight || !dk_weight || !scratch || !dqkv_out || !qkv_in || !q_weight || !k_weight || !rstd)
        return P4J_E_INVALID_ARGUMENT;
    cudaStream_t s = as_stream(stream);
    float* dx = static_cast<float*>(dqkv_in);
    float* sc = static_cast<float*>(scratch);
    const float* dy = static_cast<const float*>(dqkv_out);
    const float* x = static_cast<const float*>(qkv_in);
    const float* rs = static_cast<const float*>(rstd);
    const long long ld = (long long)(NH + 2 * NKV) * HS;
    HeadRows gq{(long long)N * NH, NH, HS, ld, NH + NKV};
    st = launch_rms_backward(dx, static_cast<float*>(dq_weight), sc, dy, x, static_cast<const float*>(q_weight), rs, gq,
                             0, s);
    if (st) return st;
    HeadRows gk{(long long)N * NKV, NKV, HS, ld, NH + NKV};
    const long long k0 = (long long)NH * HS;
    // the same scratch again: the stream orders the k part's first pass after the q part's second
    st = launch_rms_backward(dx + k0, static_cast<float*>(dk_weight), sc, dy + k0, x + k0,
                             static_cast<const float*>(k_weight), rs + NH, gk, 0, s);
    if (st) return st;
    return copy_columns(dx, dy, N, ld, (long long)(NH + NKV) * HS, (long long)NKV * HS, s);
}

static int rope(void* qkv, const void* cos, const void* sin, const void* positions, int B, int T, int NH, int NKV,
                int HS, int max_pos, int backward, void* stream) {
    if (B < 0 || T < 0 || NH <= 0 || NKV <= 0 || HS <= 0 || HS % 2 != 0 || NH % NKV != 0 || max_pos < 0)
        return P4J_E_INVALID_ARGUMENT;
    if (B == 0 || T == 0) return 0;
    if (!qkv || !cos || !sin) return P4J_E_INVALID_ARGUMENT;
    long long n = (long long)B * T * (NH + NKV) * (HS / 2);
    rope_kernel<<<grid_for(n, EL_THREADS), EL_THREADS, 0, as_stream(stream)>>>(
        static_cast<float*>(qkv), static_cast<const float*>(cos), static_cast<const float*>(sin),
        static_cast<const int*>(positions), T, NH + NKV, HS, (long long)(NH + 2 * NKV) * HS, max_pos, n, backward);
    return launch_status();
}

P4J_API int p4j_rope_forward(void* qkv, const void* cos, const void* sin, const void* positions, int B, int T, int NH,
                             int NKV, int HS, int max_pos, void* stream) {
    return rope(qkv, cos, sin, positions, B, T, NH, NKV, HS, max_pos, 0, stream);
}

P4J_API int p4j_rope_backward(void* dqkv, const void* cos, const void* sin, const void* positions, int B, int T, int NH,
                              int NKV, int HS, int max_pos, void* stream) {
    return rope(dqkv, cos, sin, positions, B, T, NH, NKV, HS, max_pos, 1, stream);
}

P4J_API int p4j_swiglu_forward(void* out, const void* inp, int N, int I, void* stream) {
    if (N < 0 || I < 0) return P4J_E_INVALID_ARGUMENT;
    if (N == 0 || I == 0) return 0;
    if (!out || !inp) return P4J_E_INVALID_ARGUMENT;
    long long n = (long long)N * I;
    swiglu_forward_kernel<<<grid_for(n, EL_THREADS), EL_THREADS, 0, as_stream(stream)>>>(
        static_cast<float*>(out), static_cast<const float*>(inp), I, n);
    return launch_status();
}

P4J_API int p4j_swiglu_backward(void* dinp, const void* dout, const void* inp, int N, int I, void* stream) {
    if (N < 0 || I < 0) return P4J_E_INVALID_ARGUMENT;
    if (N == 0 || I == 0) return 0;
    if (!dinp || !dout || !inp) return P4J_E_INVALID_ARGUMENT;
    long long n = (long long)N * I;
    swiglu_backward_kernel<<<grid_for(n, EL_THREADS), EL_THREADS, 0, as_stream(stream)>>>(
        static_cast<float*>(dinp), static_cast<const float*>(dout), static_cast<const float*>(inp), I, n);
    return launch_status();
}
