package io.pref4j.model;

import io.pref4j.UserInputException;

/**
 * GPT-2 architecture hyper-parameters: learned positions, pre-LayerNorm blocks, tanh-GELU
 * MLP of width 4C, LM head tied to the token embedding.
 *
 * @param maxSeqLen  number of learned positions (HF {@code n_positions})
 * @param vocabSize  vocabulary size (HF {@code vocab_size})
 * @param numLayers  transformer blocks (HF {@code n_layer})
 * @param numHeads   attention heads (HF {@code n_head})
 * @param channels   model width C (HF {@code n_embd})
 */
public record GptConfig(int maxSeqLen, int vocabSize, int numLayers, int numHeads, int channels) implements ModelConfig {

    public GptConfig {
        if (maxSeqLen < 1) throw new UserInputException("model config: n_positions must be >= 1, got " + maxSeqLen);
        if (vocabSize < 2) throw new UserInputException("model config: vocab_size must be >= 2, got " + vocabSize);
        if (numLayers < 1) throw new UserInputException("model config: n_layer must be >= 1, got " + numLayers);
        if (numHeads < 1) throw new UserInputException("model config: n_head must be >= 1, got " + numHeads);
        if (channels < 1 || channels % numHeads != 0)
            throw new UserInputException("model config: n_embd (" + channels + ") must be a positive multiple of n_head (" + numHeads + ")");
    }

    /** GPT-2 small (124M). */
    public static GptConfig gpt2() {
        return new GptConfig(1024, 50257, 12, 12, 768);
    }

    public int headSize() {
        return channels / numHeads;
    }

    @Override public String modelType() {
        return "gpt2";
    }

    @Override public String describe() {
        return "gpt2: " + numLayers + " layers, d " + channels + ", " + numHeads + " heads, vocab " + vocabSize;
    }

    /** Parameter count of the transformer (without an optional head). */
    @Override public long numParameters() {
        return ParameterLayout.of(this, false).count();
    }
}
