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
 * @param attentionBias     biases on the q/k/v projections (qwen2 always; llama's and qwen3's
 *                          attention_bias, which also gives o_proj a bias: {@link #outputBias()})
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
        // what Hugging Face's modules fix per type, so that every config exports faithfully
        if (modelType.equals("mistral") && attentionBias)
            throw new UserInputException("model config: mistral has no attention biases");
        if (modelType.equals("qwen2") && !attentionBias)
            throw new UserInputException("model config: qwen2 always has q/k/v biases (attentionBias must be true)");
        if (qkNorm != modelType.equals("qwen3"))
            throw new UserInputException("model config: the per-head q/k norm is Qwen3's (qkNorm must be "
                    + modelType.equals("qwen3") + " for " + modelType + ")");
        if (ropeScaling != null) {
            RopeScaling r = ropeScaling;
            if (!r.type().equals("linear") && !r.type().equals("llama3"))
                throw new UserInputException("model config: rope scaling type '" + r.type() + "' is not supported (linear, llama3)");
            if (!(r.factor() > 0) || Double.isInfinite(r.factor()))
                throw new UserInputException("model config: rope scaling factor must be > 0, got " + r.factor());
            if (r.type().equals("llama3")) {
                if (!(r.lowFreqFactor() > 0) || !(r.highFreqFactor() > r.lowFreqFactor()) || Double.isInfinite(r.highFreqFactor()))
                    throw new UserInputException("model config: llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor, got "
                            + r.lowFreqFactor() + " and " + r.highFreqFactor());
                if (r.originalMaxPositions() < 1)
                    throw new UserInputException("model config: llama3 rope scaling needs original_max_position_embeddings >= 1, got "
                            + r.originalMaxPositions());
            }
        }
    }

    @Override public String modelType() { return modelType; }

    /**
     * Whether o_proj has a bias: Hugging Face's Llama and Qwen3 attention put
     * {@code attention_bias} on all four projections; Qwen2's has q/k/v biases only.
     */
    public boolean outputBias() {
        return attentionBias && !modelType.equals("qwen2");
    }

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
