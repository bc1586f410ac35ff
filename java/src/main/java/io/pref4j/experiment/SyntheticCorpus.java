package io.pref4j.experiment;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A tiny synthetic instruction corpus a small GPT learns in minutes on a CPU: prompts such
 * as {@code "list fruits:"} answered by a space-separated list of items of that category
 * ending in a period, e.g. {@code " apple plum fig."}. The number of items follows
 * 1 + Binomial(8, 0.4), a unimodal response-length distribution (mode 4), which the
 * length-reward tasks build on. Deterministic in the seed.
 */
public final class SyntheticCorpus {

    /** One document: the prompt and its response. */
    public record Doc(String prompt, String response) {
        public String text() { return prompt + response; }
    }

    static final String[] CATEGORIES = {"colors", "animals", "fruits", "tools"};
    static final String[][] ITEMS = {
            {"red", "blue", "green", "pink", "gray", "gold", "teal", "black"},
            {"cat", "dog", "fox", "owl", "bee", "cow", "yak", "eel"},
            {"apple", "plum", "fig", "kiwi", "lime", "pear", "date", "grape"},
            {"saw", "axe", "drill", "file", "vise", "rake", "hoe", "awl"},
    };

    private SyntheticCorpus() {}

    /** The prompts, one per category. */
    public static List<String> prompts() {
        List<String> out = new ArrayList<>();
        for (String c : CATEGORIES) out.add("list " + c + ":");
        return out;
    }

    /** n documents drawn with the given seed. */
    public static List<Doc> generate(int n, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        List<Doc> docs = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int c = rng.nextInt(CATEGORIES.length);
            int count = 1;
            for (int j = 0; j < 8; j++) if (rng.nextDouble() < 0.4) count++;
            StringBuilder r = new StringBuilder();
            for (int j = 0; j < count; j++) r.append(' ').append(ITEMS[c][rng.nextInt(ITEMS[c].length)]);
            r.append('.');
            docs.add(new Doc("list " + CATEGORIES[c] + ":", r.toString()));
        }
        return docs;
    }

    /** The items of a category ("fruits" …), or an empty set for an unknown one. */
    public static java.util.Set<String> itemsOf(String category) {
        for (int c = 0; c < CATEGORIES.length; c++) {
            if (CATEGORIES[c].equals(category)) return java.util.Set.of(ITEMS[c]);
        }
        return java.util.Set.of();
    }

    /** The number of items in a response (words before the final period). */
    public static int itemCount(String response) {
        String s = response.strip();
        int end = s.indexOf('.');
        if (end >= 0) s = s.substring(0, end);
        s = s.strip();
        return s.isEmpty() ? 0 : s.split("\\s+").length;
    }
}
