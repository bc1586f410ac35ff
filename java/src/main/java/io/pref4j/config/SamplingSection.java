package io.pref4j.config;

/** How online responses are sampled. */
@Doc("Sampling of online responses (generation stops at end-of-text).")
public record SamplingSection(
        @Doc("Softmax temperature; 0 = greedy.") double temperature,
        @Doc("Keep only the k most likely tokens; 0 = no limit.") int topK,
        @Doc("Nucleus sampling: keep the smallest set of tokens with total probability ≥ top_p; 1 = no limit.") double topP,
        @Doc("Longest response in tokens.") int maxNewTokens) {

    public static SamplingSection defaults() {
        return new SamplingSection(1.0, 0, 1.0, 64);
    }

    void validate() {
        Check.atLeast("temperature", temperature, 0);
        Check.atLeast("top_k", topK, 0);
        Check.openClosed("top_p", topP, 0, 1);
        Check.atLeast("max_new_tokens", maxNewTokens, 1);
    }
}
