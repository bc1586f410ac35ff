package io.pref4j.reward;

import io.pref4j.text.Tokenizer;

/**
 * One response to one prompt, as a reward source sees it: the text and the token ids
 * (under the policy's tokenizer).
 *
 * <p>{@code responseIds} are the generated tokens <b>without</b> a trailing end-of-text
 * token: a sampler that stopped at end-of-text drops it, so {@code responseIds.length} is
 * the response length the length rewards use. Sources that need text (the external
 * command) read {@code prompt}/{@code response}; sources that need ids (length and bandit
 * rewards, the learned reward model) read the ids. Either side may be null when a caller
 * only has the other; a source that needs the missing side fails with a clear message.
 * The arrays are shared, not copied, and record equality compares them by identity.
 *
 * @param prompt      prompt text (may be null)
 * @param response    response text (may be null)
 * @param promptIds   prompt token ids (may be null)
 * @param responseIds response token ids, no trailing end-of-text (may be null)
 */
public record Completion(String prompt, String response, int[] promptIds, int[] responseIds) {

    /** A completion from text, tokenized with {@code tokenizer} (no end-of-text appended). */
    public static Completion of(Tokenizer tokenizer, String prompt, String response) {
        return new Completion(prompt, response, tokenizer.encode(prompt), tokenizer.encode(response));
    }

    /** A completion from ids alone (e.g. the sequence bandit). */
    public static Completion ofIds(int[] promptIds, int[] responseIds) {
        return new Completion(null, null, promptIds, responseIds);
    }

    /** Number of response tokens (end-of-text excluded). */
    public int responseLength() {
        return requireResponseIds().length;
    }

    /** The response ids, or an error saying they are needed. */
    int[] requireResponseIds() {
        if (responseIds == null)
            throw new IllegalArgumentException("this reward needs the response's token ids; the completion has only text");
        return responseIds;
    }
}
