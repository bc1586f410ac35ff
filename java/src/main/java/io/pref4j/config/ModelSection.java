package io.pref4j.config;

/** The policy to start from and how text becomes tokens. */
@Doc("The starting policy (also the frozen reference policy) and its tokenizer.")
public record ModelSection(
        @Doc("A model folder in Hugging Face layout (gpt2, llama, mistral, qwen2 or qwen3: config.json + model.safetensors or a sharded index), a pref4j run folder or checkpoint, or the name of a built-in tiny model.") String init,
        @Doc("Tokenizer: auto = the model folder's tokenizer.json when it has one, else the one config.json records, else by vocabulary (50257 = gpt2, 258 = byte); hf = the folder's tokenizer.json (required); byte = 256 bytes + specials; gpt2 = r50k_base BPE.") Tokenizer tokenizer,
        @Doc("Longest prompt + response in tokens; null = the model's context length.") Integer maxSeqLen) {

    /** Tokenizer choice. */
    public enum Tokenizer { AUTO, HF, BYTE, GPT2 }

    public static ModelSection defaults() {
        return new ModelSection("tiny", Tokenizer.AUTO, null);
    }

    void validate() {
        Check.notBlank("init", init);
        if (maxSeqLen != null) Check.atLeast("max_seq_len", maxSeqLen, 2);
    }
}
