package io.pref4j.experiment.length;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The synthetic corpus behind the length tasks: a prompt "VERB CATEGORY:" (4 verbs × 4
 * categories = 16 prompts) answered by a space-separated list of items of the category
 * ending in a period, e.g. {@code "name fruits:"} → {@code " plum fig kiwi."}. The number of
 * items is 1 + Binomial(8, 0.4) (mode 4), so a model trained on it has a unimodal response
 * length distribution. The tiny GPT π_ref is pretrained on all 16 prompts; the preference
 * experiments train on 12 of them and evaluate the gold reward on the 4 held out ones (the
 * "diagonal": verb i with category i, so every verb and category is still seen in training).
 * Deterministic in the seed.
 */
public final class LengthCorpus {

    /** One document: prompt and response. */
    public record Doc(String prompt, String response) {
        public String text() { return prompt + response; }
    }

    static final String[] VERBS = {"list", "name", "give", "show"};
    static final String[] CATEGORIES = {"colors", "animals", "fruits", "tools"};
    static final String[][] ITEMS = {
            {"red", "blue", "green", "pink", "gray", "gold", "teal", "black"},
            {"cat", "dog", "fox", "owl", "bee", "cow", "yak", "eel"},
            {"apple", "plum", "fig", "kiwi", "lime", "pear", "date", "grape"},
            {"saw", "axe", "drill", "file", "vise", "rake", "hoe", "awl"},
    };

    private LengthCorpus() {}

    /** All 16 prompts. */
    public static List<String> allPrompts() {
        List<String> out = new ArrayList<>();
        for (String v : VERBS) for (String c : CATEGORIES) out.add(v + " " + c + ":");
        return out;
    }

    /** The 12 training prompts (the preference pool). */
    public static List<String> trainPrompts() {
        List<String> out = new ArrayList<>();
        for (int v = 0; v < VERBS.length; v++)
            for (int c = 0; c < CATEGORIES.length; c++) if (v != c) out.add(VERBS[v] + " " + CATEGORIES[c] + ":");
        return out;
    }

    /** The 4 held-out prompts (gold evaluation). */
    public static List<String> heldOutPrompts() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < VERBS.length; i++) out.add(VERBS[i] + " " + CATEGORIES[i] + ":");
        return out;
    }

    /** n pretraining documents over all 16 prompts. */
    public static List<Doc> generate(int n, long seed) {
        SplittableRandom rng = new SplittableRandom(seed ^ 0x1E6C0A9L);
        List<Doc> docs = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int v = rng.nextInt(VERBS.length), c = rng.nextInt(CATEGORIES.length);
            int count = 1;
            for (int j = 0; j < 8; j++) if (rng.nextDouble() < 0.4) count++;
            StringBuilder r = new StringBuilder();
            for (int j = 0; j < count; j++) r.append(' ').append(ITEMS[c][rng.nextInt(ITEMS[c].length)]);
            r.append('.');
            docs.add(new Doc(VERBS[v] + " " + CATEGORIES[c] + ":", r.toString()));
        }
        return docs;
    }
}
