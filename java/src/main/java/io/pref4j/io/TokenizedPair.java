package io.pref4j.io;

/**
 * Token ids of a preference pair ({@code {"prompt_ids", "chosen_ids", "rejected_ids"}}, or
 * a text pair tokenized). No end-of-text id is added. The arrays are shared, not copied.
 *
 * @param promptIds   prompt token ids
 * @param chosenIds   preferred completion token ids
 * @param rejectedIds dispreferred completion token ids
 * @param source      the line it came from, or null when built in code
 */
public record TokenizedPair(int[] promptIds, int[] chosenIds, int[] rejectedIds, JsonlLine source) {

    /** A pair built in code, without a source line. */
    public TokenizedPair(int[] promptIds, int[] chosenIds, int[] rejectedIds) {
        this(promptIds, chosenIds, rejectedIds, null);
    }
}
