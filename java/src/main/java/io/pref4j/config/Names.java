package io.pref4j.config;

import java.util.Collection;
import java.util.Locale;

/** Key spelling: Java component names to JSON keys, and nearest-name suggestions. */
final class Names {
    private Names() {
    }

    /** {@code maxSeqLen} → {@code max_seq_len}; {@code beta1} stays {@code beta1}. */
    static String snake(String camel) {
        StringBuilder sb = new StringBuilder(camel.length() + 4);
        for (int i = 0; i < camel.length(); i++) {
            char c = camel.charAt(i);
            if (Character.isUpperCase(c)) {
                if (i > 0) sb.append('_');
                sb.append(Character.toLowerCase(c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /** An enum constant's config spelling: {@code BEST_WORST} → {@code best_worst}. */
    static String enumName(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }

    /**
     * Optimal-string-alignment distance: insertions, deletions, substitutions and
     * transpositions of neighbours each cost 1.
     */
    static int distance(String a, String b) {
        int n = a.length(), m = b.length();
        int[][] d = new int[n + 1][m + 1];
        for (int i = 0; i <= n; i++) d[i][0] = i;
        for (int j = 0; j <= m; j++) d[0][j] = j;
        for (int i = 1; i <= n; i++) {
            for (int j = 1; j <= m; j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                int v = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    v = Math.min(v, d[i - 2][j - 2] + 1);
                }
                d[i][j] = v;
            }
        }
        return d[n][m];
    }

    /** Largest distance still worth suggesting for a word of this length. */
    static int tolerance(String word) {
        return Math.max(1, (word.length() + 2) / 3);
    }

    /** The candidate closest to {@code word} within {@link #tolerance}, or null. */
    static String nearest(String word, Collection<String> candidates) {
        String best = null;
        int bestD = Integer.MAX_VALUE;
        for (String c : candidates) {
            int d = distance(word, c);
            if (d < bestD) {
                bestD = d;
                best = c;
            }
        }
        return bestD <= tolerance(word) ? best : null;
    }
}
