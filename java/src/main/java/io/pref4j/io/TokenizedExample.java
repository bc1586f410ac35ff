package io.pref4j.io;

/**
 * Token ids of a prompt and a completion ({@code {"prompt_ids", "completion_ids"}}, or a
 * text line tokenized). For prompt-only data the completion is empty. No end-of-text id is
 * added; that is the trainer's choice. The arrays are shared, not copied.
 *
 * @param promptIds     prompt token ids
 * @param completionIds completion token ids (empty for a prompt-only line)
 * @param source        the line it came from, or null when built in code
 */
public record TokenizedExample(int[] promptIds, int[] completionIds, JsonlLine source) {

    /** An example built in code, without a source line. */
    public TokenizedExample(int[] promptIds, int[] completionIds) {
        this(promptIds, completionIds, null);
    }
}
