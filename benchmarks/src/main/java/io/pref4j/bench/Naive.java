package io.pref4j.bench;

/**
 * Plain scalar Java over float[]: the baselines the pref4j kernels are measured against.
 * These are the loops one would write first (textbook loop order, one accumulator, no
 * blocking, no threads); they define the same results as the {@code Kernels} methods.
 */
final class Naive {
    private Naive() {}

    /**
     * Rows [0, rows) of out[M,N] (=, or += when accumulate) op(A)·op(B), with the layouts of
     * {@code Kernels.matmul}: A is [M,K] or, when transA, [K,M]; B is [K,N] or, when transB, [N,K].
     */
    static void matmul(float[] out, float[] a, float[] b, int rows, int M, int N, int K,
                       boolean transA, boolean transB, boolean accumulate) {
        int ai = transA ? 1 : K, ak = transA ? M : 1;
        int bk = transB ? 1 : N, bj = transB ? K : 1;
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < N; j++) {
                float s = 0f;
                for (int k = 0; k < K; k++) s += a[i * ai + k * ak] * b[k * bk + j * bj];
                out[i * N + j] = accumulate ? out[i * N + j] + s : s;
            }
        }
    }

    /** Causal attention forward, qkv[B,T,3C] → out[B,T,C], lse[B,NH,T]; scores kept in a T-long row. */
    static void attentionForward(float[] out, float[] lse, float[] qkv, int[] lengths,
                                 int B, int T, int C, int NH) {
        int HS = C / NH, C3 = 3 * C;
        float scale = (float) (1.0 / Math.sqrt(HS));
        float[] p = new float[T];
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < NH; h++) {
                for (int t = 0; t < T; t++) {
                    int o = (b * T + t) * C + h * HS;
                    if (t >= lengths[b]) {
                        for (int i = 0; i < HS; i++) out[o + i] = 0f;
                        lse[(b * NH + h) * T + t] = 0f;
                        continue;
                    }
                    int q = (b * T + t) * C3 + h * HS;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int s = 0; s <= t; s++) {
                        int k = (b * T + s) * C3 + C + h * HS;
                        float dot = 0f;
                        for (int i = 0; i < HS; i++) dot += qkv[q + i] * qkv[k + i];
                        p[s] = dot * scale;
                        max = Math.max(max, p[s]);
                    }
                    float sum = 0f;
                    for (int s = 0; s <= t; s++) {
                        p[s] = (float) Math.exp(p[s] - max);
                        sum += p[s];
                    }
                    for (int i = 0; i < HS; i++) out[o + i] = 0f;
                    for (int s = 0; s <= t; s++) {
                        int v = (b * T + s) * C3 + 2 * C + h * HS;
                        float w = p[s] / sum;
                        for (int i = 0; i < HS; i++) out[o + i] += w * qkv[v + i];
                    }
                    lse[(b * NH + h) * T + t] = max + (float) Math.log(sum);
                }
            }
        }
    }

    /** dqkv[B,T,3C] (=) the gradient of {@link #attentionForward}, recomputing probabilities from lse. */
    static void attentionBackward(float[] dqkv, float[] dout, float[] qkv, float[] out, float[] lse,
                                  int[] lengths, int B, int T, int C, int NH) {
        int HS = C / NH, C3 = 3 * C;
        float scale = (float) (1.0 / Math.sqrt(HS));
        java.util.Arrays.fill(dqkv, 0f);
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < NH; h++) {
                for (int t = 0; t < lengths[b]; t++) {
                    int q = (b * T + t) * C3 + h * HS;
                    int o = (b * T + t) * C + h * HS;
                    float l = lse[(b * NH + h) * T + t];
                    float d = 0f;
                    for (int i = 0; i < HS; i++) d += dout[o + i] * out[o + i];
                    for (int s = 0; s <= t; s++) {
                        int k = (b * T + s) * C3 + C + h * HS;
                        int v = k + C;
                        float dot = 0f, dp = 0f;
                        for (int i = 0; i < HS; i++) {
                            dot += qkv[q + i] * qkv[k + i];
                            dp += dout[o + i] * qkv[v + i];
                        }
                        float pr = (float) Math.exp(dot * scale - l);
                        float ds = pr * (dp - d) * scale;
                        for (int i = 0; i < HS; i++) {
                            dqkv[v + i] += pr * dout[o + i];
                            dqkv[q + i] += ds * qkv[k + i];
                            dqkv[k + i] += ds * qkv[q + i];
                        }
                    }
                }
            }
        }
    }

    static void layerNormForward(float[] out, float[] mean, float[] rstd, float[] inp,
                                 float[] w, float[] bias, int N, int C) {
        for (int n = 0; n < N; n++) {
            int x = n * C;
            float m = 0f;
            for (int i = 0; i < C; i++) m += inp[x + i];
            m /= C;
            float v = 0f;
            for (int i = 0; i < C; i++) {
                float d = inp[x + i] - m;
                v += d * d;
            }
            v /= C;
            float r = (float) (1.0 / Math.sqrt(v + 1e-5f));
            for (int i = 0; i < C; i++) out[x + i] = (inp[x + i] - m) * r * w[i] + bias[i];
            mean[n] = m;
            rstd[n] = r;
        }
    }

    static void layerNormBackward(float[] dinp, float[] dw, float[] db, float[] dout, float[] inp,
                                  float[] w, float[] mean, float[] rstd, int N, int C) {
        for (int n = 0; n < N; n++) {
            int x = n * C;
            float m = mean[n], r = rstd[n];
            float dnormMean = 0f, dnormNormMean = 0f;
            for (int i = 0; i < C; i++) {
                float norm = (inp[x + i] - m) * r;
                float dnorm = w[i] * dout[x + i];
                dnormMean += dnorm;
                dnormNormMean += dnorm * norm;
            }
            dnormMean /= C;
            dnormNormMean /= C;
            for (int i = 0; i < C; i++) {
                float norm = (inp[x + i] - m) * r;
                float dnorm = w[i] * dout[x + i];
                db[i] += dout[x + i];
                dw[i] += norm * dout[x + i];
                dinp[x + i] += (dnorm - dnormMean - norm * dnormNormMean) * r;
            }
        }
    }

    /**
     * The full-logits path for rows [0, rows): logits[rows,V] = hidden·weightᵀ, then log-softmax
     * and gather. Fills logp and lse; keeps the logits (the [N,V] buffer the fused kernel avoids).
     */
    static void logprobForward(float[] logp, float[] lse, float[] logits, float[] hidden, float[] weight,
                               int[] targets, int rows, int C, int V) {
        matmul(logits, hidden, weight, rows, rows, V, C, false, true, false);
        for (int n = 0; n < rows; n++) {
            if (targets[n] < 0) {
                logp[n] = 0f;
                lse[n] = 0f;
                continue;
            }
            int z = n * V;
            float max = Float.NEGATIVE_INFINITY;
            for (int v = 0; v < V; v++) max = Math.max(max, logits[z + v]);
            float sum = 0f;
            for (int v = 0; v < V; v++) sum += (float) Math.exp(logits[z + v] - max);
            lse[n] = max + (float) Math.log(sum);
            logp[n] = logits[z + targets[n]] - lse[n];
        }
    }

    /**
     * Backward of the full-logits path for rows [0, rows): dlogits = dlogp·(onehot − softmax),
     * dhidden += dlogits·weight, dweight += dlogitsᵀ·hidden. {@code logits} holds the forward's
     * logits and is overwritten with dlogits.
     */
    static void logprobBackward(float[] dhidden, float[] dweight, float[] dlogp, float[] hidden,
                                float[] weight, int[] targets, float[] logits, float[] lse,
                                int rows, int C, int V) {
        for (int n = 0; n < rows; n++) {
            int z = n * V;
            if (targets[n] < 0) {
                for (int v = 0; v < V; v++) logits[z + v] = 0f;
                continue;
            }
            for (int v = 0; v < V; v++) logits[z + v] = -dlogp[n] * (float) Math.exp(logits[z + v] - lse[n]);
            logits[z + targets[n]] += dlogp[n];
        }
        matmul(dhidden, logits, weight, rows, rows, C, V, false, false, true);
        // dweight[V,C] += dlogitsᵀ[V,rows] · hidden[rows,C]
        matmul(dweight, logits, hidden, V, V, C, rows, true, false, true);
    }

    // ---------------------------------------------------------------- Llama family

    /**
     * Grouped-query causal attention forward on qkv[B,T,(NH+2·NKV)·HS] → out[B,T,NH·HS],
     * lse[B,NH,T]; query head h reads kv head h/(NH/NKV); scores kept in a T-long row.
     */
    static void gqaForward(float[] out, float[] lse, float[] qkv, int[] lengths,
                           int B, int T, int NH, int NKV, int HS) {
        int G = NH / NKV, QC = NH * HS, RW = (NH + 2 * NKV) * HS;
        float scale = (float) (1.0 / Math.sqrt(HS));
        float[] p = new float[T];
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < NH; h++) {
                int kOff = QC + (h / G) * HS, vOff = QC + NKV * HS + (h / G) * HS;
                for (int t = 0; t < T; t++) {
                    int o = (b * T + t) * QC + h * HS;
                    if (t >= lengths[b]) {
                        for (int i = 0; i < HS; i++) out[o + i] = 0f;
                        lse[(b * NH + h) * T + t] = 0f;
                        continue;
                    }
                    int q = (b * T + t) * RW + h * HS;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int s = 0; s <= t; s++) {
                        int k = (b * T + s) * RW + kOff;
                        float dot = 0f;
                        for (int i = 0; i < HS; i++) dot += qkv[q + i] * qkv[k + i];
                        p[s] = dot * scale;
                        max = Math.max(max, p[s]);
                    }
                    float sum = 0f;
                    for (int s = 0; s <= t; s++) {
                        p[s] = (float) Math.exp(p[s] - max);
                        sum += p[s];
                    }
                    for (int i = 0; i < HS; i++) out[o + i] = 0f;
                    for (int s = 0; s <= t; s++) {
                        int v = (b * T + s) * RW + vOff;
                        float w = p[s] / sum;
                        for (int i = 0; i < HS; i++) out[o + i] += w * qkv[v + i];
                    }
                    lse[(b * NH + h) * T + t] = max + (float) Math.log(sum);
                }
            }
        }
    }

    /** dqkv[B,T,(NH+2·NKV)·HS] (=) the gradient of {@link #gqaForward}, recomputing probabilities from lse. */
    static void gqaBackward(float[] dqkv, float[] dout, float[] qkv, float[] out, float[] lse,
                            int[] lengths, int B, int T, int NH, int NKV, int HS) {
        int G = NH / NKV, QC = NH * HS, RW = (NH + 2 * NKV) * HS;
        float scale = (float) (1.0 / Math.sqrt(HS));
        java.util.Arrays.fill(dqkv, 0f);
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < NH; h++) {
                int kOff = QC + (h / G) * HS, vOff = QC + NKV * HS + (h / G) * HS;
                for (int t = 0; t < lengths[b]; t++) {
                    int q = (b * T + t) * RW + h * HS;
                    int o = (b * T + t) * QC + h * HS;
                    float l = lse[(b * NH + h) * T + t];
                    float d = 0f;
                    for (int i = 0; i < HS; i++) d += dout[o + i] * out[o + i];
                    for (int s = 0; s <= t; s++) {
                        int k = (b * T + s) * RW + kOff, v = (b * T + s) * RW + vOff;
                        float dot = 0f, dp = 0f;
                        for (int i = 0; i < HS; i++) {
                            dot += qkv[q + i] * qkv[k + i];
                            dp += dout[o + i] * qkv[v + i];
                        }
                        float pr = (float) Math.exp(dot * scale - l);
                        float ds = pr * (dp - d) * scale;
                        for (int i = 0; i < HS; i++) {
                            dqkv[v + i] += pr * dout[o + i];
                            dqkv[q + i] += ds * qkv[k + i];
                            dqkv[k + i] += ds * qkv[q + i];
                        }
                    }
                }
            }
        }
    }

    /** RMSNorm: out = inp·rstd·w, rstd = 1/√(mean(inp²) + eps). */
    static void rmsNormForward(float[] out, float[] rstd, float[] inp, float[] w, int N, int C, float eps) {
        for (int n = 0; n < N; n++) {
            int x = n * C;
            float ss = 0f;
            for (int i = 0; i < C; i++) ss += inp[x + i] * inp[x + i];
            float r = (float) (1.0 / Math.sqrt(ss / C + eps));
            for (int i = 0; i < C; i++) out[x + i] = inp[x + i] * r * w[i];
            rstd[n] = r;
        }
    }

    static void rmsNormBackward(float[] dinp, float[] dw, float[] dout, float[] inp, float[] w, float[] rstd,
                                int N, int C) {
        for (int n = 0; n < N; n++) {
            int x = n * C;
            float r = rstd[n];
            float m = 0f;
            for (int i = 0; i < C; i++) m += w[i] * dout[x + i] * inp[x + i] * r;
            m /= C;
            for (int i = 0; i < C; i++) {
                float norm = inp[x + i] * r;
                dw[i] += norm * dout[x + i];
                dinp[x + i] += (w[i] * dout[x + i] - norm * m) * r;
            }
        }
    }

    /** out[n,i] = silu(gate)·up for inp[n] = [gate (I) | up (I)]. */
    static void swigluForward(float[] out, float[] inp, int N, int I) {
        for (int n = 0; n < N; n++) {
            for (int i = 0; i < I; i++) {
                float g = inp[n * 2 * I + i], u = inp[n * 2 * I + I + i];
                out[n * I + i] = g / (1f + (float) Math.exp(-g)) * u;
            }
        }
    }

    static void swigluBackward(float[] dinp, float[] dout, float[] inp, int N, int I) {
        for (int n = 0; n < N; n++) {
            for (int i = 0; i < I; i++) {
                float g = inp[n * 2 * I + i], u = inp[n * 2 * I + I + i], d = dout[n * I + i];
                float sg = 1f / (1f + (float) Math.exp(-g));
                dinp[n * 2 * I + i] = d * u * sg * (1f + g * (1f - sg));
                dinp[n * 2 * I + I + i] = d * g * sg;
            }
        }
    }

    /**
     * RoPE (rotate_half) in place on the NH + NKV q/k heads of x[B·T,(NH+2·NKV)·HS], row
     * (b, t) at position t; inverse = the backward rotation.
     */
    static void rope(float[] x, float[] cos, float[] sin, int B, int T, int NH, int NKV, int HS, boolean inverse) {
        int half = HS / 2, RW = (NH + 2 * NKV) * HS;
        for (int r = 0; r < B * T; r++) {
            int p = r % T;
            for (int j = 0; j < NH + NKV; j++) {
                for (int i = 0; i < half; i++) {
                    int o = r * RW + j * HS + i;
                    float x1 = x[o], x2 = x[o + half], c = cos[p * half + i], s = sin[p * half + i];
                    x[o] = inverse ? x1 * c + x2 * s : x1 * c - x2 * s;
                    x[o + half] = inverse ? x2 * c - x1 * s : x2 * c + x1 * s;
                }
            }
        }
    }
}
