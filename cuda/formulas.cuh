// formulas.cuh - per-element formulas of the GPT and sampling kernels as inline functions
// usable on the host and the device (issue 12 item 4), like llama.cuh for the Llama family:
// cuda/host_tests.cpp includes both with a plain C++ compiler (no nvcc, no GPU) and checks
// them against the table the Java CPU backend produced (cuda/host_tests/formulas.tsv, kept
// current by FormulaTableTest). Not part of the ABI.
//   GELU (tanh form, as CpuLayers: x * sigmoid(2u), z clamped to +-80) and its derivative;
//   CounterRng (SplitMix64 finaliser twice), bit-exact; DPO-family log-sigmoid / sigmoid in
//   double (as CpuLosses); fp32 -> bf16 round-to-nearest-even (as __float2bfloat16_rn).
// On the device GELU keeps the fast __expf the kernels always used; on the host expf.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#ifndef P4J_HD
#ifdef __CUDACC__
#define P4J_HD __host__ __device__ __forceinline__
#else
#define P4J_HD inline
#endif
#endif

namespace p4j {

#if defined(__CUDA_ARCH__)
P4J_HD float fexp_fast(float x) { return __expf(x); }
#else
P4J_HD float fexp_fast(float x) { return expf(x); }
#endif

constexpr float GELU_SQRT_2_PI = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float GELU_CUBE = 0.044715f;
constexpr float GELU_Z_MAX = 80.f;

// z = 2u = 2 sqrt(2/pi) (x + 0.044715 x^3), clamped to +-80.
P4J_HD float gelu_z(float x) {
    return fminf(fmaxf(2.f * GELU_SQRT_2_PI * (x + GELU_CUBE * x * x * x), -GELU_Z_MAX), GELU_Z_MAX);
}

// gelu(x) = 0.5 x (1 + tanh u) = x sigmoid(2u).
P4J_HD float gelu_f(float x) { return x / (1.f + fexp_fast(-gelu_z(x))); }

// gelu'(x) = sg (1 + x 2u' (e^-z sg)), sg = sigmoid(z).
P4J_HD float gelu_grad_f(float x) {
    float z = gelu_z(x);
    float ez = fexp_fast(-z), sg = 1.f / (1.f + ez);
    return sg * (1.f + x * (2.f * GELU_SQRT_2_PI * (1.f + 3.f * GELU_CUBE * x * x)) * (ez * sg));
}

// SplitMix64's finaliser (CounterRng.mix).
P4J_HD unsigned long long mix64(unsigned long long z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// CounterRng.bits(seed, counter).
P4J_HD unsigned long long counter_bits(long long seed, long long counter) {
    unsigned long long s = (unsigned long long)seed, c = (unsigned long long)counter;
    unsigned long long x = mix64(s + 0x9E3779B97F4A7C15ull * (c + 1));
    return mix64(x ^ (s * 0xD1B54A32D192ED03ull));
}

// CounterRng.uniform(seed, counter), bit-exact: 24 random bits in [0, 1).
P4J_HD float counter_uniform(long long seed, long long counter) {
    return (float)(counter_bits(seed, counter) >> 40) * 5.9604644775390625e-8f;  // 2^-24
}

// CounterRng.rowSeed(seed, row).
P4J_HD long long counter_row_seed(long long seed, long long row) {
    return (long long)mix64((unsigned long long)seed ^ mix64((unsigned long long)row + 0x632BE59BD9B4E019ull));
}

// log sigmoid(x), stable for large |x| (CpuLosses.logSigmoid).
P4J_HD double log_sigmoid(double x) { return fmin(x, 0.0) - log1p(exp(-fabs(x))); }

// sigmoid(x) without overflow (CpuLosses.sigmoid).
P4J_HD double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

// fp32 -> bf16 bits, round to nearest even (NaN stays a quiet NaN): what __float2bfloat16_rn
// does on the device, written out so the host can check the rule.
P4J_HD unsigned short bf16_bits_rn(float f) {
    unsigned int u;
#if defined(__CUDA_ARCH__)
    u = __float_as_uint(f);
#else
    std::memcpy(&u, &f, 4);
#endif
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short)(u >> 16);
}

// The fp32 value of bf16 bits.
P4J_HD float bf16_to_float(unsigned short b) {
    unsigned int u = (unsigned int)b << 16;
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    std::memcpy(&f, &u, 4);
    return f;
#endif
}

}  // namespace p4j
