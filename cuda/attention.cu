// attention.cu - causal grouped-query self-attention over the fused qkv[B,T,(NH+2*NKV)*HS]
// (each row [q (NH*HS) | k (NKV*HS) | v (NKV*HS)]; query head h uses kv head h/(NH/NKV);
// NKV = NH is GPT-2's multi-head attention) with per-sequence lengths (right padding),
// flash-style: online softmax, no T x T buffer.
//
//  - attention_forward_mma<HS> (HS 64, 128): FlashAttention-2 forward. One block of 4
//    warps per (64-query tile, b, h); each warp owns 16 query rows. Q, K, V tiles are
//    converted fp32 -> bf16 into shared memory; S = Q K^T and O += P V run on tensor cores
//    (mma.sync.m16n8k16 bf16, fp32 accumulate); the softmax is online, in fp32 registers
//    (log2 domain), P is re-packed from the S accumulators straight into A fragments.
//  - attention_backward_mma<HS, BR>: FlashAttention-2 backward. One block per (64-key tile,
//    b, kv head), each warp owns 16 keys, loops over the group's NH/NKV query heads and for
//    each over query tiles t >= keys: recomputes
//    P^T = exp(K Q^T scale - lse), dP^T = V dO^T, dS^T = P^T (dP^T - D) with
//    D = rowsum(dO o O), accumulates dV += P^T dO and dK += dS^T Q in registers over all the
//    group's heads (so dK, dV of a kv head have one writer: race-free, plain stores, fixed
//    order), and dQ += dS K through shared memory and fp32 atomicAdd (order-dependent
//    rounding, as FA2).
//  - *_generic: fp32 fallbacks for other head sizes (<= 256): one warp per query (the
//    backward adds dk, dv with atomics).
//  - kv_cache_write (caches [B, NKV, maxT, HS]), attention_decode (one block per (b, h),
//    fp32, warps split the keys; the new token's k, v are read from qkv and written to the
//    cache by the group's first head only, so no block reads what another writes).
// Rows t >= lengths[b] get out = 0, lse = 0 and no gradient flows to or from them.
#include "common.cuh"
#include <cuda_bf16.h>

namespace p4j {

// ------------------------------------------------------------------ mma helpers

__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x = lo (low 16 bits)
    return *reinterpret_cast<uint32_t*>(&v);
}
__device__ __forceinline__ uint32_t pack2(__nv_bfloat16 lo, __nv_bfloat16 hi) {
    return (uint32_t)__bfloat16_as_ushort(lo) | ((uint32_t)__bfloat16_as_ushort(hi) << 16);
}
// Two consecutive bf16 (4-byte aligned) as one register.
__device__ __forceinline__ uint32_t ld32(const __nv_bfloat16* p) { return *reinterpret_cast<const uint32_t*>(p); }

// Fragment coordinates (PTX ISA, mma.m16n8k16 .bf16): lane = 4*g + q.
//  A (16x16, row): reg r -> row g + 8*(r&1), cols 2q + 8*(r>>1) + {0,1}
//  B (16x8, col):  reg r -> col g, rows (k) 2q + 8*r + {0,1}
//  C (16x8):       c[r] -> row g + 8*(r>>1), col 2q + (r&1)

// A fragment from a row-major smem tile (element (r,c) at p[r*ld + c]), k-contiguous.
__device__ __forceinline__ void load_a_rowmajor(uint32_t (&a)[4], const __nv_bfloat16* p, int ld, int r0, int k0,
                                                int g, int q) {
    const __nv_bfloat16* b = p + (r0 + g) * ld + k0 + 2 * q;
    a[0] = ld32(b);
    a[1] = ld32(b + 8 * ld);
    a[2] = ld32(b + 8);
    a[3] = ld32(b + 8 * ld + 8);
}
// A fragment where element (r, k) sits at p[k*ld + r] (the tile is stored transposed).
__device__ __forceinline__ void load_a_transposed(uint32_t (&a)[4], const __nv_bfloat16* p, int ld, int r0, int k0,
                                                  int g, int q) {
    int r = r0 + g, k = k0 + 2 * q;
    a[0] = pack2(p[k * ld + r], p[(k + 1) * ld + r]);
    a[1] = pack2(p[k * ld + r + 8], p[(k + 1) * ld + r + 8]);
    a[2] = pack2(p[(k + 8) * ld + r], p[(k + 9) * ld + r]);
    a[3] = pack2(p[(k + 8) * ld + r + 8], p[(k + 9) * ld + r + 8]);
}
// B fragment where element (k, n) sits at p[n*ld + k] (i.e. B^T row-major: k-contiguous).
__device__ __forceinline__ void load_b_nmajor(uint32_t (&b)[2], const __nv_bfloat16* p, int ld, int k0, int n0, int g,
                                              int q) {
    const __nv_bfloat16* s = p + (n0 + g) * ld + k0 + 2 * q;
    b[0] = ld32(s);
    b[1] = ld32(s + 8);
}
// B fragment where element (k, n) sits at p[k*ld + n] (B row-major: n-contiguous).
__device__ __forceinline__ void load_b_kmajor(uint32_t (&b)[2], const __nv_bfloat16* p, int ld, int k0, int n0, int g,
                                              int q) {
    int k = k0 + 2 * q, n = n0 + g;
    b[0] = pack2(p[k * ld + n], p[(k + 1) * ld + n]);
    b[1] = pack2(p[(k + 8) * ld + n], p[(k + 9) * ld + n]);
}

// rows x HS fp32 (row stride `stride` in global) -> bf16 smem [rows][ld]; rows >= valid are 0.
template <int HS>
__device__ __forceinline__ void load_tile_bf16(__nv_bfloat16* dst, int ld, const float* src, long long stride,
                                               int rows, int valid) {
    constexpr int V4 = HS / 4;
    for (int i = threadIdx.x; i < rows * V4; i += blockDim.x) {
        int r = i / V4, c = (i % V4) * 4;
        float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
        if (r < valid) v = *reinterpret_cast<const float4*>(src + r * stride + c);
        __nv_bfloat16* d = dst + r * ld + c;
        *reinterpret_cast<uint32_t*>(d) = pack_bf16(v.x, v.y);
        *reinterpret_cast<uint32_t*>(d + 2) = pack_bf16(v.z, v.w);
    }
}

constexpr float LOG2E = 1.4426950408889634f;
constexpr float LN2 = 0.6931471805599453f;
constexpr int FA_BR = 64, FA_BC = 64, FA_THREADS = 128;

// ------------------------------------------------------------------ forward (tensor cores)

template <int HS>
__global__ void __launch_bounds__(FA_THREADS) attention_forward_mma(float* __restrict__ out, float* __restrict__ lse,
                                                                    const float* __restrict__ qkv,
                                                                    const int* __restrict__ lengths, int T, int NH,
                                                                    int NKV) {
    constexpr int LD = HS + 8;  // bf16 elements per smem row (pad: fewer bank conflicts)
    extern __shared__ __align__(16) unsigned char smem_raw[];
    __nv_bfloat16* Qs = reinterpret_cast<__nv_bfloat16*>(smem_raw);
    __nv_bfloat16* Ks = Qs + FA_BR * LD;
    __nv_bfloat16* Vs = Ks + FA_BC * LD;

    const int bh = blockIdx.y, b = bh / NH, h = bh % NH, kvh = h / (NH / NKV);
    const int q0 = blockIdx.x * FA_BR;
    const int len = min(max(lengths[b], 0), T);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, q = lane & 3;
    const long long rs = (long long)(NH + 2 * NKV) * HS;  // qkv row stride
    const long long os = (long long)NH * HS;              // out row stride
    const float* qbase = qkv + (long long)b * T * rs + (long long)h * HS;
    const float* kbase = qkv + (long long)b * T * rs + (long long)(NH + kvh) * HS;
    const float* vbase = kbase + (long long)NKV * HS;

    if (q0 >= len) {  // the whole tile is padding
        for (int i = threadIdx.x; i < FA_BR * HS; i += blockDim.x) {
            int r = i / HS, t = q0 + r;
            if (t < T) out[((long long)b * T + t) * os + (long long)h * HS + (i % HS)] = 0.f;
        }
        for (int r = threadIdx.x; r < FA_BR; r += blockDim.x)
            if (q0 + r < T) lse[(long long)bh * T + q0 + r] = 0.f;
        return;
    }
    load_tile_bf16<HS>(Qs, LD, qbase + (long long)q0 * rs, rs, FA_BR, min(FA_BR, T - q0));

    const float sl2 = rsqrtf((float)HS) * LOG2E;  // scale in the log2 domain
    float o[HS / 8][4];
#pragma unroll
    for (int i = 0; i < HS / 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;  // rows g and g+8
    const int row0 = q0 + warp * 16 + g, row1 = row0 + 8;
    const int kend = min(q0 + FA_BR, len);  // keys < kend

    for (int k0 = 0; k0 < kend; k0 += FA_BC) {
        __syncthreads();
        load_tile_bf16<HS>(Ks, LD, kbase + (long long)k0 * rs, rs, FA_BC, min(FA_BC, T - k0));
        load_tile_bf16<HS>(Vs, LD, vbase + (long long)k0 * rs, rs, FA_BC, min(FA_BC, T - k0));
        __syncthreads();
        float s[FA_BC / 8][4];
#pragma unroll
        for (int j = 0; j < FA_BC / 8; j++) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < HS / 16; kk++) {
            uint32_t a[4];
            load_a_rowmajor(a, Qs, LD, warp * 16, kk * 16, g, q);
#pragma unroll
            for (int j = 0; j < FA_BC / 8; j++) {
                uint32_t bb[2];
                load_b_nmajor(bb, Ks, LD, kk * 16, j * 8, g, q);
                mma_bf16_16816(s[j], a, bb);
            }
        }
        // scale, causal mask (key > query -> -inf), row max
        const bool diag = k0 + FA_BC > q0 + warp * 16;
        float mx0 = m0, mx1 = m1;
#pragma unroll
        for (int j = 0; j < FA_BC / 8; j++) {
#pragma unroll
            for (int r = 0; r < 4; r++) {
                int key = k0 + j * 8 + 2 * q + (r & 1);
                int row = (r >> 1) ? row1 : row0;
                float v = s[j][r] * sl2;
                if (diag && key > row) v = -INFINITY;
                s[j][r] = v;
            }
            mx0 = fmaxf(mx0, fmaxf(s[j][0], s[j][1]));
            mx1 = fmaxf(mx1, fmaxf(s[j][2], s[j][3]));
        }
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        // every row has key k0 <= its query unmasked, so mx is finite
        const float al0 = exp2f(m0 - mx0), al1 = exp2f(m1 - mx1);
        m0 = mx0;
        m1 = mx1;
        float ps0 = 0.f, ps1 = 0.f;
#pragma unroll
        for (int j = 0; j < FA_BC / 8; j++) {
            s[j][0] = exp2f(s[j][0] - m0);
            s[j][1] = exp2f(s[j][1] - m0);
            s[j][2] = exp2f(s[j][2] - m1);
            s[j][3] = exp2f(s[j][3] - m1);
            ps0 += s[j][0] + s[j][1];
            ps1 += s[j][2] + s[j][3];
        }
        l0 = l0 * al0 + ps0;
        l1 = l1 * al1 + ps1;
#pragma unroll
        for (int i = 0; i < HS / 8; i++) {
            o[i][0] *= al0;
            o[i][1] *= al0;
            o[i][2] *= al1;
            o[i][3] *= al1;
        }
        // O += P V: P's C fragments of key tiles 2kk, 2kk+1 are the A fragment of k-step kk
#pragma unroll
        for (int kk = 0; kk < FA_BC / 16; kk++) {
            uint32_t a[4];
            a[0] = pack_bf16(s[2 * kk][0], s[2 * kk][1]);
            a[1] = pack_bf16(s[2 * kk][2], s[2 * kk][3]);
            a[2] = pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]);
            a[3] = pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
            for (int i = 0; i < HS / 8; i++) {
                uint32_t bb[2];
                load_b_kmajor(bb, Vs, LD, kk * 16, i * 8, g, q);
                mma_bf16_16816(o[i], a, bb);
            }
        }
    }
    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    const bool v0 = row0 < len, v1 = row1 < len;
    const float inv0 = v0 ? 1.f / l0 : 0.f, inv1 = v1 ? 1.f / l1 : 0.f;
    float* orow0 = out + ((long long)b * T + row0) * os + (long long)h * HS;
    float* orow1 = out + ((long long)b * T + row1) * os + (long long)h * HS;
#pragma unroll
    for (int i = 0; i < HS / 8; i++) {
        int c = i * 8 + 2 * q;
        if (row0 < T) *reinterpret_cast<float2*>(orow0 + c) = make_float2(o[i][0] * inv0, o[i][1] * inv0);
        if (row1 < T) *reinterpret_cast<float2*>(orow1 + c) = make_float2(o[i][2] * inv1, o[i][3] * inv1);
    }
    if (q == 0) {
        if (row0 < T) lse[(long long)bh * T + row0] = v0 ? (m0 + log2f(l0)) * LN2 : 0.f;
        if (row1 < T) lse[(long long)bh * T + row1] = v1 ? (m1 + log2f(l1)) * LN2 : 0.f;
    }
}

// ------------------------------------------------------------------ backward (tensor cores)

template <int HS, int BR>
__global__ void __launch_bounds__(FA_THREADS) attention_backward_mma(float* __restrict__ dqkv,
                                                                     const float* __restrict__ dout,
                                                                     const float* __restrict__ qkv,
                                                                     const float* __restrict__ outp,
                                                                     const float* __restrict__ lse,
                                                                     const int* __restrict__ lengths, int T, int NH,
                                                                     int NKV) {
    constexpr int LD = HS + 8, LDS = BR + 8;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    __nv_bfloat16* Ks = reinterpret_cast<__nv_bfloat16*>(smem_raw);
    __nv_bfloat16* Vs = Ks + FA_BC * LD;
    __nv_bfloat16* Qs = Vs + FA_BC * LD;
    __nv_bfloat16* dOs = Qs + BR * LD;
    __nv_bfloat16* dSs = dOs + BR * LD;  // [FA_BC keys][LDS] : dS^T
    float* lse_s = reinterpret_cast<float*>(dSs + FA_BC * LDS);
    float* D_s = lse_s + BR;

    const int bkv = blockIdx.y, b = bkv / NKV, kvh = bkv % NKV, G = NH / NKV;
    const int k0 = blockIdx.x * FA_BC;
    const int len = min(max(lengths[b], 0), T);
    if (k0 >= len) return;  // padding keys: no gradient (dqkv was zeroed)
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, q = lane & 3;
    // Row offsets are recomputed from the kernel parameters where used rather than kept as
    // pointers across the loops (fewer live registers: the accumulators need them).
    const long long rs = (long long)(NH + 2 * NKV) * HS;  // qkv / dqkv row stride
    const long long os = (long long)NH * HS;              // out / dout row stride
    const long long kcol = (long long)(NH + kvh) * HS, vcol = kcol + (long long)NKV * HS;
    const float scale = rsqrtf((float)HS), sl2 = scale * LOG2E;

    load_tile_bf16<HS>(Ks, LD, qkv + ((long long)b * T + k0) * rs + kcol, rs, FA_BC, min(FA_BC, len - k0));
    load_tile_bf16<HS>(Vs, LD, qkv + ((long long)b * T + k0) * rs + vcol, rs, FA_BC, min(FA_BC, len - k0));

    float dk[HS / 8][4], dv[HS / 8][4];
#pragma unroll
    for (int i = 0; i < HS / 8; i++)
#pragma unroll
        for (int r = 0; r < 4; r++) dk[i][r] = dv[i][r] = 0.f;
    const int key0 = k0 + warp * 16 + g, key1 = key0 + 8;  // this thread's two keys (rows of S^T)

    // every query head of the group, in order: dK, dV gather them all in registers
    for (int h = kvh * G; h < kvh * G + G; h++) {
        for (int t0 = (k0 / BR) * BR; t0 < len; t0 += BR) {
            __syncthreads();
            const int valid = min(BR, len - t0);
            const long long bt0 = (long long)b * T + t0;  // the tile's first query row
            load_tile_bf16<HS>(Qs, LD, qkv + bt0 * rs + (long long)h * HS, rs, BR, valid);
            load_tile_bf16<HS>(dOs, LD, dout + bt0 * os + (long long)h * HS, os, BR, valid);
            for (int r = warp; r < BR; r += FA_THREADS / 32) {
                float d = 0.f;
                if (r < valid) {
                    const float* o = outp + (bt0 + r) * os + (long long)h * HS;
                    const float* dO = dout + (bt0 + r) * os + (long long)h * HS;
                    for (int c = lane; c < HS; c += 32) d += o[c] * dO[c];
                }
                d = warp_sum(d);
                if (lane == 0) {
                    D_s[r] = d;
                    lse_s[r] = r < valid ? lse[((long long)b * NH + h) * T + t0 + r] * LOG2E : 0.f;
                }
            }
            __syncthreads();
            // S^T = K Q^T and dP^T = V dO^T (16 keys x BR queries per warp)
            float st[BR / 8][4], dpt[BR / 8][4];
#pragma unroll
            for (int j = 0; j < BR / 8; j++)
#pragma unroll
                for (int r = 0; r < 4; r++) st[j][r] = dpt[j][r] = 0.f;
#pragma unroll
            for (int kk = 0; kk < HS / 16; kk++) {
                uint32_t ak[4], av[4];
                load_a_rowmajor(ak, Ks, LD, warp * 16, kk * 16, g, q);
                load_a_rowmajor(av, Vs, LD, warp * 16, kk * 16, g, q);
#pragma unroll
                for (int j = 0; j < BR / 8; j++) {
                    uint32_t bq[2], bo[2];
                    load_b_nmajor(bq, Qs, LD, kk * 16, j * 8, g, q);
                    load_b_nmajor(bo, dOs, LD, kk * 16, j * 8, g, q);
                    mma_bf16_16816(st[j], ak, bq);
                    mma_bf16_16816(dpt[j], av, bo);
                }
            }
            // P^T and dS^T (in place: st <- P^T, dpt <- dS^T); masked: query < key or query >= len
#pragma unroll
            for (int j = 0; j < BR / 8; j++) {
#pragma unroll
                for (int r = 0; r < 4; r++) {
                    int tl = j * 8 + 2 * q + (r & 1), t = t0 + tl;
                    int key = (r >> 1) ? key1 : key0;
                    float p = (t < key || t >= len) ? 0.f : exp2f(st[j][r] * sl2 - lse_s[tl]);
                    st[j][r] = p;
                    dpt[j][r] = p * (dpt[j][r] - D_s[tl]);
                }
            }
            // dV += P^T dO, dK += dS^T Q  (k = queries)
#pragma unroll
            for (int kk = 0; kk < BR / 16; kk++) {
                uint32_t ap[4], as[4];
                ap[0] = pack_bf16(st[2 * kk][0], st[2 * kk][1]);
                ap[1] = pack_bf16(st[2 * kk][2], st[2 * kk][3]);
                ap[2] = pack_bf16(st[2 * kk + 1][0], st[2 * kk + 1][1]);
                ap[3] = pack_bf16(st[2 * kk + 1][2], st[2 * kk + 1][3]);
                as[0] = pack_bf16(dpt[2 * kk][0], dpt[2 * kk][1]);
                as[1] = pack_bf16(dpt[2 * kk][2], dpt[2 * kk][3]);
                as[2] = pack_bf16(dpt[2 * kk + 1][0], dpt[2 * kk + 1][1]);
                as[3] = pack_bf16(dpt[2 * kk + 1][2], dpt[2 * kk + 1][3]);
                // dS^T to shared memory for dQ (rows = keys, cols = queries)
                __nv_bfloat16* d0 = dSs + (warp * 16 + g) * LDS + kk * 16 + 2 * q;
                *reinterpret_cast<uint32_t*>(d0) = as[0];
                *reinterpret_cast<uint32_t*>(d0 + 8 * LDS) = as[1];
                *reinterpret_cast<uint32_t*>(d0 + 8) = as[2];
                *reinterpret_cast<uint32_t*>(d0 + 8 * LDS + 8) = as[3];
#pragma unroll
                for (int i = 0; i < HS / 8; i++) {
                    uint32_t bo[2], bq[2];
                    load_b_kmajor(bo, dOs, LD, kk * 16, i * 8, g, q);
                    load_b_kmajor(bq, Qs, LD, kk * 16, i * 8, g, q);
                    mma_bf16_16816(dv[i], ap, bo);
                    mma_bf16_16816(dk[i], as, bq);
                }
            }
            __syncthreads();
            // dQ[BR, HS] += dS K * scale: warp w owns columns [w*HS/4, (w+1)*HS/4)
            constexpr int NQ = HS / 4 / 8;
#pragma unroll
            for (int mt = 0; mt < BR / 16; mt++) {
                float dq[NQ][4];
#pragma unroll
                for (int i = 0; i < NQ; i++) dq[i][0] = dq[i][1] = dq[i][2] = dq[i][3] = 0.f;
#pragma unroll
                for (int kk = 0; kk < FA_BC / 16; kk++) {
                    uint32_t a[4];
                    load_a_transposed(a, dSs, LDS, mt * 16, kk * 16, g, q);  // A(query, key) = dS^T[key][query]
#pragma unroll
                    for (int i = 0; i < NQ; i++) {
                        uint32_t bk[2];
                        load_b_kmajor(bk, Ks, LD, kk * 16, warp * (HS / 4) + i * 8, g, q);
                        mma_bf16_16816(dq[i], a, bk);
                    }
                }
#pragma unroll
                for (int i = 0; i < NQ; i++) {
                    int c = warp * (HS / 4) + i * 8 + 2 * q;
                    int ta = t0 + mt * 16 + g, tb = ta + 8;
                    if (ta < len) {
                        float* p = dqkv + ((long long)b * T + ta) * rs + (long long)h * HS + c;
                        atomicAdd(p, dq[i][0] * scale);
                        atomicAdd(p + 1, dq[i][1] * scale);
                    }
                    if (tb < len) {
                        float* p = dqkv + ((long long)b * T + tb) * rs + (long long)h * HS + c;
                        atomicAdd(p, dq[i][2] * scale);
                        atomicAdd(p + 1, dq[i][3] * scale);
                    }
                }
            }
        }
    }  // heads of the group
    // write dK (scaled) and dV for real keys
    float* dkbase = dqkv + (long long)b * T * rs + kcol;
    float* dvbase = dqkv + (long long)b * T * rs + vcol;
#pragma unroll
    for (int i = 0; i < HS / 8; i++) {
        int c = i * 8 + 2 * q;
        if (key0 < len) {
            *reinterpret_cast<float2*>(dkbase + (long long)key0 * rs + c) = make_float2(dk[i][0] * scale, dk[i][1] * scale);
            *reinterpret_cast<float2*>(dvbase + (long long)key0 * rs + c) = make_float2(dv[i][0], dv[i][1]);
        }
        if (key1 < len) {
            *reinterpret_cast<float2*>(dkbase + (long long)key1 * rs + c) = make_float2(dk[i][2] * scale, dk[i][3] * scale);
            *reinterpret_cast<float2*>(dvbase + (long long)key1 * rs + c) = make_float2(dv[i][2], dv[i][3]);
        }
    }
}

// ------------------------------------------------------------------ generic fp32 fallbacks

constexpr int GMAX = 8;  // HS <= 32 * GMAX

// The fused layout of one call: row strides and where head h's q and kv head j's k, v start.
struct Gqa {
    int T, NH, NKV, HS;
    __device__ __forceinline__ long long rs() const { return (long long)(NH + 2 * NKV) * HS; }  // qkv row
    __device__ __forceinline__ long long os() const { return (long long)NH * HS; }              // out row
    __device__ __forceinline__ int kv_of(int h) const { return h / (NH / NKV); }
    __device__ __forceinline__ long long q_col(int h) const { return (long long)h * HS; }
    __device__ __forceinline__ long long k_col(int j) const { return (long long)(NH + j) * HS; }
    __device__ __forceinline__ long long v_col(int j) const { return (long long)(NH + NKV + j) * HS; }
};

// One warp per (b, h, t): lane holds q[d] for d = lane + 32 j.
__global__ void attention_forward_generic(float* out, float* lse, const float* qkv, const int* lengths, int B, Gqa a) {
    const int HS = a.HS, T = a.T, NH = a.NH;
    long long wid = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (wid >= (long long)B * NH * T) return;
    int t = (int)(wid % T), bh = (int)(wid / T), b = bh / NH, h = bh % NH, j = a.kv_of(h);
    int len = min(max(lengths[b], 0), T);
    const long long rs = a.rs();
    float* o = out + ((long long)b * T + t) * a.os() + a.q_col(h);
    if (t >= len) {
        for (int d = lane; d < HS; d += 32) o[d] = 0.f;
        if (lane == 0) lse[(long long)bh * T + t] = 0.f;
        return;
    }
    const float* base = qkv + (long long)b * T * rs;
    const float* qrow = base + (long long)t * rs + a.q_col(h);
    float qv[GMAX], acc[GMAX];
    const float scale = rsqrtf((float)HS);
#pragma unroll
    for (int i = 0; i < GMAX; i++) {
        int d = lane + 32 * i;
        qv[i] = d < HS ? qrow[d] * scale : 0.f;
        acc[i] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    for (int s = 0; s <= t; s++) {
        const float* k = base + (long long)s * rs + a.k_col(j);
        const float* v = base + (long long)s * rs + a.v_col(j);
        float dot = 0.f;
#pragma unroll
        for (int i = 0; i < GMAX; i++) {
            int d = lane + 32 * i;
            if (d < HS) dot += qv[i] * k[d];
        }
        dot = warp_sum(dot);
        float mn = fmaxf(m, dot), al = __expf(m - mn), p = __expf(dot - mn);
        l = l * al + p;
#pragma unroll
        for (int i = 0; i < GMAX; i++) {
            int d = lane + 32 * i;
            acc[i] = acc[i] * al + (d < HS ? p * v[d] : 0.f);
        }
        m = mn;
    }
#pragma unroll
    for (int i = 0; i < GMAX; i++) {
        int d = lane + 32 * i;
        if (d < HS) o[d] = acc[i] / l;
    }
    if (lane == 0) lse[(long long)bh * T + t] = m + logf(l);
}

// One warp per query (b, h, t): dq directly, dk/dv of kv head h/(NH/NKV) by atomicAdd (dqkv
// zeroed before).
__global__ void attention_backward_generic(float* dqkv, const float* dout, const float* qkv, const float* outp,
                                           const float* lse, const int* lengths, int B, Gqa a) {
    const int HS = a.HS, T = a.T, NH = a.NH;
    long long wid = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (wid >= (long long)B * NH * T) return;
    int t = (int)(wid % T), bh = (int)(wid / T), b = bh / NH, h = bh % NH, j = a.kv_of(h);
    int len = min(max(lengths[b], 0), T);
    if (t >= len) return;
    const long long rs = a.rs();
    const float* base = qkv + (long long)b * T * rs;
    float* dbase = dqkv + (long long)b * T * rs;
    const float* dO = dout + ((long long)b * T + t) * a.os() + a.q_col(h);
    const float* O = outp + ((long long)b * T + t) * a.os() + a.q_col(h);
    const float* qrow = base + (long long)t * rs + a.q_col(h);
    const float scale = rsqrtf((float)HS);
    float qv[GMAX], dov[GMAX], dq[GMAX];
    float D = 0.f;
#pragma unroll
    for (int i = 0; i < GMAX; i++) {
        int d = lane + 32 * i;
        qv[i] = d < HS ? qrow[d] : 0.f;
        dov[i] = d < HS ? dO[d] : 0.f;
        D += d < HS ? dov[i] * O[d] : 0.f;
        dq[i] = 0.f;
    }
    D = warp_sum(D);
    float L = lse[(long long)bh * T + t];
    for (int s = 0; s <= t; s++) {
        const float* k = base + (long long)s * rs + a.k_col(j);
        const float* v = base + (long long)s * rs + a.v_col(j);
        float* dk = dbase + (long long)s * rs + a.k_col(j);
        float* dv = dbase + (long long)s * rs + a.v_col(j);
        float dot = 0.f, dp = 0.f;
#pragma unroll
        for (int i = 0; i < GMAX; i++) {
            int d = lane + 32 * i;
            if (d < HS) {
                dot += qv[i] * k[d];
                dp += dov[i] * v[d];
            }
        }
        dot = warp_sum(dot);
        dp = warp_sum(dp);
        float p = __expf(dot * scale - L);
        float ds = p * (dp - D);
#pragma unroll
        for (int i = 0; i < GMAX; i++) {
            int d = lane + 32 * i;
            if (d < HS) {
                dq[i] += ds * k[d] * scale;
                atomicAdd(dk + d, ds * qv[i] * scale);
                atomicAdd(dv + d, p * dov[i]);
            }
        }
    }
    float* dqrow = dbase + (long long)t * rs + a.q_col(h);
#pragma unroll
    for (int i = 0; i < GMAX; i++) {
        int d = lane + 32 * i;
        if (d < HS) dqrow[d] = dq[i];
    }
}

// ------------------------------------------------------------------ KV cache and decode

// One thread per (b, t, kv head, d): caches [B, NKV, maxT, HS] at position t.
__global__ void kv_cache_write_kernel(float* kc, float* vc, const float* qkv, int B, Gqa a, int maxT) {
    const int HS = a.HS, T = a.T, NKV = a.NKV;
    const long long per_row = (long long)NKV * HS, rs = a.rs();
    const long long n = (long long)B * T * per_row;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        long long c = i % per_row, bt = i / per_row;
        int t = (int)(bt % T), b = (int)(bt / T);
        int j = (int)(c / HS), d = (int)(c % HS);
        long long dst = (((long long)b * NKV + j) * maxT + t) * HS + d;
        const float* row = qkv + bt * rs;
        kc[dst] = row[a.k_col(0) + c];
        vc[dst] = row[a.v_col(0) + c];
    }
}

constexpr int DEC_THREADS = 128, DEC_WARPS = DEC_THREADS / 32;

// One block per (b, h), kv head j = h/(NH/NKV): the group's first head writes the new k, v
// into the cache at pos; every head reads cache positions < pos and the new token's k, v
// straight from qkv (so no block reads what another block writes). Warps split positions
// 0..pos with an online softmax each, merged at the end.
__global__ void __launch_bounds__(DEC_THREADS) attention_decode_kernel(float* out, const float* qkv, float* kc,
                                                                       float* vc, const int* positions, Gqa a,
                                                                       int maxT) {
    __shared__ float qs[32 * GMAX];
    __shared__ float wm[DEC_WARPS], wl[DEC_WARPS], wacc[DEC_WARPS][32 * GMAX];
    const int HS = a.HS, NH = a.NH;
    const int b = blockIdx.x / NH, h = blockIdx.x % NH, j = a.kv_of(h);
    const int pos = positions[b];
    float* o = out + (long long)b * a.os() + a.q_col(h);
    if (pos < 0 || pos >= maxT) {
        for (int d = threadIdx.x; d < HS; d += blockDim.x) o[d] = 0.f;
        return;
    }
    const float* row = qkv + (long long)b * a.rs();
    const float* knew = row + a.k_col(j);
    const float* vnew = row + a.v_col(j);
    float* kb = kc + ((long long)b * a.NKV + j) * maxT * HS;
    float* vb = vc + ((long long)b * a.NKV + j) * maxT * HS;
    const bool writer = h % (NH / a.NKV) == 0;
    const float scale = rsqrtf((float)HS);
    for (int d = threadIdx.x; d < HS; d += blockDim.x) {
        qs[d] = row[a.q_col(h) + d] * scale;
        if (writer) {
            kb[(long long)pos * HS + d] = knew[d];
            vb[(long long)pos * HS + d] = vnew[d];
        }
    }
    __syncthreads();
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    float m = -INFINITY, l = 0.f, acc[GMAX];
#pragma unroll
    for (int i = 0; i < GMAX; i++) acc[i] = 0.f;
    for (int s = warp; s <= pos; s += DEC_WARPS) {
        const float* k = s == pos ? knew : kb + (long long)s * HS;
        const float* v = s == pos ? vnew : vb + (long long)s * HS;
        float dot = 0.f;
#pragma unroll
        for (int i = 0; i < GMAX; i++) {
            int d = lane + 32 * i;
            if (d < HS) dot += qs[d] * k[d];
        }
        dot = warp_sum(dot);
        float mn = fmaxf(m, dot), al = __expf(m - mn), p = __expf(dot - mn);
        l = l * al + p;
#pragma unroll
        for (int i = 0; i < GMAX; i++) {
            int d = lane + 32 * i;
            acc[i] = acc[i] * al + (d < HS ? p * v[d] : 0.f);
        }
        m = mn;
    }
    if (lane == 0) {
        wm[warp] = m;
        wl[warp] = l;
    }
#pragma unroll
    for (int i = 0; i < GMAX; i++) wacc[warp][lane + 32 * i] = acc[i];
    __syncthreads();
    float M = -INFINITY;
    for (int w = 0; w < DEC_WARPS; w++) M = fmaxf(M, wm[w]);
    float L = 0.f;
    for (int w = 0; w < DEC_WARPS; w++) L += wm[w] == -INFINITY ? 0.f : wl[w] * __expf(wm[w] - M);
    for (int d = threadIdx.x; d < HS; d += blockDim.x) {
        float acc_d = 0.f;
        for (int w = 0; w < DEC_WARPS; w++)
            if (wm[w] != -INFINITY) acc_d += wacc[w][d] * __expf(wm[w] - M);
        o[d] = acc_d / L;
    }
}

// ------------------------------------------------------------------ launchers

template <int HS>
constexpr int fwd_smem() { return 3 * FA_BR * (HS + 8) * 2; }
template <int HS, int BR>
constexpr int bwd_smem() { return (2 * FA_BC + 2 * BR) * (HS + 8) * 2 + FA_BC * (BR + 8) * 2 + 2 * BR * 4; }

template <int HS>
int launch_forward(float* out, float* lse, const float* qkv, const int* lengths, int B, int T, int NH, int NKV,
                   cudaStream_t s) {
    constexpr int smem = fwd_smem<HS>();
    // per device and cheap: set on every launch rather than cache per device
    cudaError_t e = cudaFuncSetAttribute(attention_forward_mma<HS>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (e != cudaSuccess) return check(e);
    dim3 grid((T + FA_BR - 1) / FA_BR, B * NH);
    attention_forward_mma<HS><<<grid, FA_THREADS, smem, s>>>(out, lse, qkv, lengths, T, NH, NKV);
    return launch_status();
}

template <int HS, int BR>
int launch_backward(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                    const int* lengths, int B, int T, int NH, int NKV, cudaStream_t s) {
    constexpr int smem = bwd_smem<HS, BR>();
    cudaError_t e =
        cudaFuncSetAttribute(attention_backward_mma<HS, BR>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (e != cudaSuccess) return check(e);
    dim3 grid((T + FA_BC - 1) / FA_BC, B * NKV);
    attention_backward_mma<HS, BR><<<grid, FA_THREADS, smem, s>>>(dqkv, dout, qkv, out, lse, lengths, T, NH, NKV);
    return launch_status();
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// Shapes every grouped-query entry point accepts: NH a multiple of NKV, HS <= 256, the
// (b, head) grid dimension within CUDA's 65535.
int check_gqa(int B, int T, int NH, int NKV, int HS) {
    if (B < 0 || T < 0 || NH <= 0 || NKV <= 0 || HS <= 0 || NH % NKV != 0) return P4J_E_INVALID_ARGUMENT;
    if (HS > 32 * GMAX || (long long)B * NH > 65535) return P4J_E_UNSUPPORTED;
    return 0;
}

// The multi-head (GPT-2) shapes: C = NH * HS.
int check_mha(int B, int T, int C, int NH) {
    if (B < 0 || T < 0 || C <= 0 || NH <= 0) return P4J_E_INVALID_ARGUMENT;
    if (C % NH != 0) return P4J_E_UNSUPPORTED;
    return 0;
}

}  // namespace p4j

using namespace p4j;

P4J_API int p4j_gqa_attention_forward(void* out, void* lse, const void* qkv, const void* lengths, int B, int T, int NH,
                                      int NKV, int HS, void* stream) {
    int st = check_gqa(B, T, NH, NKV, HS);
    if (st) return st;
    if (B == 0 || T == 0) return 0;
    if (!out || !lse || !qkv || !lengths) return P4J_E_INVALID_ARGUMENT;
    cudaStream_t s = as_stream(stream);
    float* o = static_cast<float*>(out);
    float* l = static_cast<float*>(lse);
    const float* x = static_cast<const float*>(qkv);
    const int* len = static_cast<const int*>(lengths);
    const bool fast = aligned16(out) && aligned16(qkv);  // float4 loads / float2 stores
    if (fast && HS == 64) return launch_forward<64>(o, l, x, len, B, T, NH, NKV, s);
    if (fast && HS == 128) return launch_forward<128>(o, l, x, len, B, T, NH, NKV, s);
    long long threads = (long long)B * NH * T * 32;
    attention_forward_generic<<<(unsigned)((threads + 255) / 256), 256, 0, s>>>(o, l, x, len, B, Gqa{T, NH, NKV, HS});
    return launch_status();
}

P4J_API int p4j_gqa_attention_backward(void* dqkv, const void* dout, const void* qkv, const void* out, const void* lse,
                                       const void* lengths, int B, int T, int NH, int NKV, int HS, void* stream) {
    int st = check_gqa(B, T, NH, NKV, HS);
    if (st) return st;
    if (B == 0 || T == 0) return 0;
    if (!dqkv || !dout || !qkv || !out || !lse || !lengths) return P4J_E_INVALID_ARGUMENT;
    cudaStream_t s = as_stream(stream);
    float* dx = static_cast<float*>(dqkv);
    cudaError_t e = cudaMemsetAsync(dx, 0, (size_t)B * T * (NH + 2 * NKV) * HS * sizeof(float), s);
    if (e != cudaSuccess) return check(e);
    const float* dO = static_cast<const float*>(dout);
    const float* x = static_cast<const float*>(qkv);
    const float* o = static_cast<const float*>(out);
    const float* l = static_cast<const float*>(lse);
    const int* len = static_cast<const int*>(lengths);
    const bool fast = aligned16(dqkv) && aligned16(dout) && aligned16(qkv);
    if (fast && HS == 64) return launch_backward<64, 64>(dx, dO, x, o, l, len, B, T, NH, NKV, s);
    if (fast && HS == 128) return launch_backward<128, 32>(dx, dO, x, o, l, len, B, T, NH, NKV, s);
    long long threads = (long long)B * NH * T * 32;
    attention_backward_generic<<<(unsigned)((threads + 255) / 256), 256, 0, s>>>(dx, dO, x, o, l, len, B,
                                                                                 Gqa{T, NH, NKV, HS});
    return launch_status();
}

P4J_API int p4j_gqa_kv_cache_write(void* k_cache, void* v_cache, const void* qkv, int B, int T, int NH, int NKV, int HS,
                                   int maxT, void* stream) {
    if (B < 0 || T < 0 || NH <= 0 || NKV <= 0 || HS <= 0 || NH % NKV != 0 || T > maxT) return P4J_E_INVALID_ARGUMENT;
    if (B == 0 || T == 0) return 0;
    if (!k_cache || !v_cache || !qkv) return P4J_E_INVALID_ARGUMENT;
    long long n = (long long)B * T * NKV * HS;
    kv_cache_write_kernel<<<grid_for(n, 256), 256, 0, as_stream(stream)>>>(
        static_cast<float*>(k_cache), static_cast<float*>(v_cache), static_cast<const float*>(qkv), B,
        Gqa{T, NH, NKV, HS}, maxT);
    return launch_status();
}

P4J_API int p4j_gqa_attention_decode(void* out, const void* qkv, void* k_cache, void* v_cache, const void* positions,
                                     int B, int NH, int NKV, int HS, int maxT, void* stream) {
    if (B < 0 || NH <= 0 || NKV <= 0 || HS <= 0 || NH % NKV != 0 || maxT <= 0) return P4J_E_INVALID_ARGUMENT;
    if (HS > 32 * GMAX) return P4J_E_UNSUPPORTED;
    if (B == 0) return 0;
    if (!out || !qkv || !k_cache || !v_cache || !positions) return P4J_E_INVALID_ARGUMENT;
    attention_decode_kernel<<<B * NH, DEC_THREADS, 0, as_stream(stream)>>>(
        static_cast<float*>(out), static_cast<const float*>(qkv), static_cast<float*>(k_cache),
        static_cast<float*>(v_cache), static_cast<const int*>(positions), Gqa{1, NH, NKV, HS}, maxT);
    return launch_status();
}

// The GPT-2 (multi-head) entry points: NKV = NH, HS = C / NH.

P4J_API int p4j_attention_forward(void* out, void* lse, const void* qkv, const void* lengths, int B, int T, int C,
                                  int NH, void* stream) {
    int st = check_mha(B, T, C, NH);
    if (st) return st;
    return p4j_gqa_attention_forward(out, lse, qkv, lengths, B, T, NH, NH, C / NH, stream);
}

P4J_API int p4j_attention_backward(void* dqkv, const void* dout, const void* qkv, const void* out, const void* lse,
                                   const void* lengths, int B, int T, int C, int NH, void* stream) {
    int st = check_mha(B, T, C, NH);
    if (st) return st;
    return p4j_gqa_attention_backward(dqkv, dout, qkv, out, lse, lengths, B, T, NH, NH, C / NH, stream);
}

P4J_API int p4j_kv_cache_write(void* k_cache, void* v_cache, const void* qkv, int B, int T, int C, int NH, int maxT,
                               void* stream) {
    if (B < 0 || T < 0 || C <= 0 || NH <= 0 || C % NH != 0) return P4J_E_INVALID_ARGUMENT;
    return p4j_gqa_kv_cache_write(k_cache, v_cache, qkv, B, T, NH, NH, C / NH, maxT, stream);
}

P4J_API int p4j_attention_decode(void* out, const void* qkv, void* k_cache, void* v_cache, const void* positions, int B,
                                 int C, int NH, int maxT, void* stream) {
    int st = check_mha(B, 1, C, NH);
    if (st) return st;
    return p4j_gqa_attention_decode(out, qkv, k_cache, v_cache, positions, B, NH, NH, C / NH, maxT, stream);
}
