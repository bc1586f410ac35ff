package io.pref4j.model;

import io.pref4j.UserInputException;

/**
 * The Llama family's hyper-parameters (Hugging Face {@code model_type} llama, mistral,
 * qwen2, qwen3): RMSNorm, rotary positions (rotate_half convention), SwiGLU MLP,
 * grouped-query attention, tied or untied LM head.
 *
 * @param modelType         llama | mistral | qwen2 | qwen3
 * @param channels          hidden_size
 * @param intermediate      intermediate_size (the SwiGLU width)
 * @param numLayers         num_hidden_layers
 * @param numHeads          num_attention_heads
 * @param numKvHeads        num_key_value_heads (NH must be a multiple of it)
 * @param headDim           head_dim (hidden_size / num_attention_heads when absent)
 * @param rmsNormEps        rms_norm_eps
 * @param ropeTheta         rope_theta
 * @param ropeScaling       rope_scaling, or null for none
 * @param maxSeqLen         max_position_embeddings
 * @param vocabSize         vocab_size
 * @param tieWordEmbeddings tie_word_embeddings (LM head = embed_tokens)
 * @param attentionBias     biases on q/k/v projections (qwen2 always; llama's attention_bias)
 * @param qkNorm            per-head q/k RMSNorm before RoPE (qwen3)
 */
public record LlamaConfig(String modelType, int channels, int intermediate, int numLayers, int numHeads,
                          int numKvHeads, int headDim, double rmsNormEps, double ropeTheta,
                          RopeScaling ropeScaling, int maxSeqLen, int vocabSize,
                          boolean tieWordEmbeddings, boolean attentionBias, boolean qkNorm) implements ModelConfig {

    /** The model types of this family. */
    public static final java.util.List<String> MODEL_TYPES = java.util.List.of("llama", "mistral", "qwen2", "qwen3");

    /**
     * Llama 3.1-style rope scaling ({@code rope_type} "llama3") or linear scaling
     * ({@code rope_type} "linear": positions divided by factor).
     */
    public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                              int originalMaxPositions) {}

    public LlamaConfig {
        if (!MODEL_TYPES.contains(modelType))
            throw new UserInputException("model config: model_type '" + modelType + "' is not of the Llama family " + MODEL_TYPES);
        if (channels < 1) throw new UserInputException("model config: hidden_size must be >= 1, got " + channels);
        if (intermediate < 1) throw new UserInputException("model config: intermediate_size must be >= 1, got " + intermediate);
        if (numLayers < 1) throw new UserInputException("model config: num_hidden_layers must be >= 1, got " + numLayers);
        if (numHeads < 1) throw new UserInputException("model config: num_attention_heads must be >= 1, got " + numHeads);
        if (numKvHeads < 1 || numHeads % numKvHeads != 0)
            throw new UserInputException("model config: num_key_value_heads (" + numKvHeads
                    + ") must divide num_attention_heads (" + numHeads + ")");
        if (headDim < 2 || headDim % 2 != 0)
            throw new UserInputException("model config: head_dim must be a positive even number, got " + headDim);
        if (!(rmsNormEps > 0)) throw new UserInputException("model config: rms_norm_eps must be > 0, got " + rmsNormEps);
        if (!(ropeTheta > 0)) throw new UserInputException("model config: rope_theta must be > 0, got " + ropeTheta);
        if (maxSeqLen < 1) throw new UserInputException("model config: max_position_embeddings must be >= 1, got " + maxSeqLen);
        if (vocabSize < 2) throw new UserInputException("model config: vocab_size must be >= 2, got " + vocabSize);
    }

    @Override public String modelType() { return modelType; }

    /** Width of the fused q/k/v projection output: (NH + 2·NKV)·HS. */
    public int qkvWidth() {
        return (numHeads + 2 * numKvHeads) * headDim;
    }

    @Override public long numParameters() {
        return Llama.layout(this, false).count();
    }

    @Override public String describe() {
        return modelType + ": " + numLayers + " layers, d " + channels + ", " + numHeads + " heads ("
                + numKvHeads + " kv, head dim " + headDim + "), intermediate " + intermediate + ", vocab " + vocabSize
                + (tieWordEmbeddings ? ", tied head" : ", untied head");
    }
}
