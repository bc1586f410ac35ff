package io.pref4j.model;

/**
 * What every model family's configuration tells the trainer, the sampler and the
 * checkpoint code: the sizes that buffers and validation depend on. Each family's record
 * ({@link GptConfig}, {@link LlamaConfig}) holds the rest.
 */
public interface ModelConfig {

    /** The Hugging Face {@code model_type} this config is written as (gpt2, llama, mistral, qwen2, qwen3). */
    String modelType();

    /** The longest sequence the model supports (positions). */
    int maxSeqLen();

    /** Vocabulary size (rows of the embedding and the LM head). */
    int vocabSize();

    /** Transformer blocks. */
    int numLayers();

    /** Model width (hidden size): the channels of the final hidden state the heads read. */
    int channels();

    /** Parameter count of the transformer (without an optional scalar head). */
    long numParameters();

    /** A one-line description for logs, e.g. "llama: 2 layers, d 64, 4 heads (2 kv), vocab 512". */
    String describe();
}
