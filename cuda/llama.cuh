// llama.cuh - the per-element formulas of the Llama-family kernels (llama.cu), as inline
// functions usable on the host and the device: a host-side test can include this header
// with a plain C++ compiler (no nvcc, no GPU) and call exactly the arithmetic the kernels
// run. Not part of the ABI. fp32 throughout; no fast-math intrinsics, so the device and
// host results differ at most by the libm ulp of expf.
#pragma once

#include <cmath>

#ifdef __CUDACC__
#define P4J_HD __host__ __device__ __forceinline__
#else
#define P4J_HD inline
#endif

namespace p4j {

// sigma(x) = 1 / (1 + e^-x): exp(-x) overflows to inf for x < -88, giving 0 (not NaN).
P4J_HD float sigmoid_f(float x) { return 1.f / (1.f + expf(-x)); }

// silu(x) = x * sigma(x).
P4J_HD float silu_f(float x) { return x * sigmoid_f(x); }

// d silu / dx = sigma(x) * (1 + x * (1 - sigma(x))).
P4J_HD float silu_grad_f(float x) {
    float s = sigmoid_f(x);
    return s * (1.f + x * (1.f - s));
}

// SwiGLU forward of one element: silu(gate) * up.
P4J_HD float swiglu_f(float gate, float up) { return silu_f(gate) * up; }

// SwiGLU backward of one element: dgate = dout * up * silu'(gate), dup = dout * silu(gate).
P4J_HD void swiglu_grad_f(float gate, float up, float dout, float& dgate, float& dup) {
    dgate = dout * up * silu_grad_f(gate);
    dup = dout * silu_f(gate);
}

// RoPE (Hugging Face rotate_half) of one pair (x1 = x[i], x2 = x[i + HS/2]) at a position
// with c = cos[p, i], s = sin[p, i]: x1' = x1 c - x2 s, x2' = x2 c + x1 s.
P4J_HD void rope_rotate_f(float& x1, float& x2, float c, float s) {
    float a = x1, b = x2;
    x1 = a * c - b * s;
    x2 = b * c + a * s;
}

// The transpose (inverse) rotation, the RoPE backward of one gradient pair:
// dx1 = dy1 c + dy2 s, dx2 = dy2 c - dy1 s.
P4J_HD void rope_rotate_back_f(float& d1, float& d2, float c, float s) {
    float a = d1, b = d2;
    d1 = a * c + b * s;
    d2 = b * c - a * s;
}

// RMSNorm statistic from a row's sum of squares over n values: 1 / sqrt(sumsq / n + eps).
P4J_HD float rms_rstd_f(float sumsq, int n, float eps) { return 1.f / sqrtf(sumsq / (float)n + eps); }

// RMSNorm input gradient of one element: with r = rstd, g = w * dy and
// dot = sum over the row of g * x, dx = r * g - (r^3 / n) * dot * x.
P4J_HD float rms_dinp_f(float x, float g, float r, float dot_over_n) { return r * g - r * r * r * dot_over_n * x; }

}  // namespace p4j
