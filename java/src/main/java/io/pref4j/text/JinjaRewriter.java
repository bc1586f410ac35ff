package io.pref4j.text;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Rewrites two constructs of a Jinja template's expressions that Jinjava parses differently
 * from Jinja2, before Jinjava sees them:
 * <ul>
 *   <li>slices {@code x[a:b]}, {@code x[a:b:c]} become {@code pref4j_slice(x, a, b, c)}, a
 *       function with Python's semantics (steps such as {@code messages[::-1]}, bounds
 *       clamped, strings indexed by code point); Jinjava has no step and fails on a
 *       negative start beyond a string's length;</li>
 *   <li>keyword arguments {@code f(name=expr)} become {@code f(name=(expr))}: Jinjava gives
 *       {@code =} the precedence of {@code +}, so {@code namespace(i=messages|length - 1)}
 *       would subtract 1 from the keyword argument itself.</li>
 * </ul>
 * Only the code inside {@code {{ }}} and {@code {% %}} is touched (string literals, text,
 * comments, raw blocks and macro signatures are copied as they are).
 */
final class JinjaRewriter {

    /** The function slices become. */
    static final String SLICE_FN = "pref4j_slice";

    private static final Set<String> KEYWORDS = Set.of("and", "or", "not", "in", "is", "if", "else", "elif",
            "for", "set", "endif", "endfor", "endset", "recursive", "with", "endwith", "filter", "endfilter",
            "block", "endblock", "include", "import", "from", "as", "do", "return");

    private JinjaRewriter() {
    }

    static String rewrite(String src) {
        StringBuilder out = new StringBuilder(src.length() + 64);
        int i = 0, n = src.length();
        while (i < n) {
            int open = nextOpen(src, i);
            if (open < 0) {
                out.append(src, i, n);
                break;
            }
            out.append(src, i, open);
            char kind = src.charAt(open + 1);
            if (kind == '#') {
                int end = src.indexOf("#}", open + 2);
                end = end < 0 ? n : end + 2;
                out.append(src, open, end);
                i = end;
                continue;
            }
            String close = kind == '{' ? "}}" : "%}";
            int codeStart = open + 2;
            if (codeStart < n && (src.charAt(codeStart) == '-' || src.charAt(codeStart) == '+')) codeStart++;
            int end = findClose(src, codeStart, close);
            if (end < 0) { // unterminated: leave it for Jinjava to report
                out.append(src, open, n);
                break;
            }
            int codeEnd = end;
            if (codeEnd > codeStart && (src.charAt(codeEnd - 1) == '-' || src.charAt(codeEnd - 1) == '+')) codeEnd--;
            String code = src.substring(codeStart, codeEnd);
            String tag = kind == '%' ? code.strip().split("\\s+", 2)[0] : "";
            out.append(src, open, codeStart);
            if (tag.equals("raw")) {
                int endRaw = findEndRaw(src, end + 2);
                out.append(code).append(src, codeEnd, endRaw);
                i = endRaw;
                continue;
            }
            out.append(tag.equals("macro") || tag.equals("call") ? code : rewriteCode(code));
            out.append(src, codeEnd, end + 2);
            i = end + 2;
        }
        return out.toString();
    }

    private static int nextOpen(String s, int from) {
        for (int i = s.indexOf('{', from); i >= 0 && i + 1 < s.length(); i = s.indexOf('{', i + 1)) {
            char c = s.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') return i;
        }
        return -1;
    }

    /** Index of {@code close} after {@code from}, skipping string literals; -1 if none. */
    private static int findClose(String s, int from, String close) {
        for (int i = from; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\'' || c == '"') {
                i = endOfString(s, i) - 1;
            } else if (s.startsWith(close, i)) {
                return i;
            }
        }
        return -1;
    }

    /** The end (exclusive) of the tag {@code {% endraw %}} after {@code from}, or the end of s. */
    private static int findEndRaw(String s, int from) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\{%[-+]?\\s*endraw\\s*[-+]?%}").matcher(s);
        return m.find(from) ? m.start() : s.length();
    }

    private static int endOfString(String s, int start) {
        char q = s.charAt(start);
        int i = start + 1;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '\\') i += 2;
            else if (c == q) return i + 1;
            else i++;
        }
        return s.length();
    }

    // ------------------------------------------------------------------ tokens

    private enum K { WS, STR, ID, NUM, OP, P }

    private record Tok(K k, String t) {
        boolean is(String s) {
            return (k == K.P || k == K.OP) && t.equals(s);
        }
    }

    private static List<Tok> tokens(String code) {
        List<Tok> out = new ArrayList<>();
        int i = 0, n = code.length();
        while (i < n) {
            char c = code.charAt(i);
            int j;
            K k;
            if (Character.isWhitespace(c)) {
                j = i;
                while (j < n && Character.isWhitespace(code.charAt(j))) j++;
                k = K.WS;
            } else if (c == '\'' || c == '"') {
                j = endOfString(code, i);
                k = K.STR;
            } else if (Character.isLetter(c) || c == '_') {
                j = i;
                while (j < n && (Character.isLetterOrDigit(code.charAt(j)) || code.charAt(j) == '_')) j++;
                k = K.ID;
            } else if (Character.isDigit(c)) {
                j = i;
                while (j < n && (Character.isDigit(code.charAt(j)) || code.charAt(j) == '.' || code.charAt(j) == '_')) j++;
                k = K.NUM;
            } else if (i + 1 < n && Set.of("==", "!=", "<=", ">=", "//", "**").contains(code.substring(i, i + 2))) {
                j = i + 2;
                k = K.OP;
            } else {
                j = i + 1;
                k = K.P;
            }
            out.add(new Tok(k, code.substring(i, j)));
            i = j;
        }
        return out;
    }

    /**
     * The names used as filters ({@code x | name}) and tests ({@code x is name},
     * {@code x is not name}) in the template's code, as {@code "filter:name"} and
     * {@code "test:name"}.
     */
    static Set<String> filtersAndTests(String src) {
        Set<String> out = new java.util.TreeSet<>();
        int i = 0, n = src.length();
        while (i < n) {
            int open = nextOpen(src, i);
            if (open < 0) break;
            char kind = src.charAt(open + 1);
            if (kind == '#') {
                int end = src.indexOf("#}", open + 2);
                i = end < 0 ? n : end + 2;
                continue;
            }
            int end = findClose(src, open + 2, kind == '{' ? "}}" : "%}");
            if (end < 0) break;
            String code = src.substring(open + 2, end);
            String tag = kind == '%' ? code.replaceFirst("^[-+]", "").strip().split("\\s+", 2)[0] : "";
            if (tag.equals("raw")) {
                i = findEndRaw(src, end + 2);
                continue;
            }
            List<Tok> t = tokens(code);
            Tok prev = null, prev2 = null;
            for (Tok x : t) {
                if (x.k() == K.WS) continue;
                if (x.k() == K.ID && prev != null && prev.is("|")) out.add("filter:" + x.t());
                if (tag.equals("filter") && prev == null) { /* the tag name */ }
                else if (tag.equals("filter") && prev != null && prev.k() == K.ID && prev.t().equals("filter") && x.k() == K.ID) out.add("filter:" + x.t());
                if (x.k() == K.ID && prev != null && prev.k() == K.ID && prev.t().equals("is") && !x.t().equals("not")) out.add("test:" + x.t());
                if (x.k() == K.ID && prev != null && prev.k() == K.ID && prev.t().equals("not") && prev2 != null
                        && prev2.k() == K.ID && prev2.t().equals("is")) out.add("test:" + x.t());
                prev2 = prev;
                prev = x;
            }
            i = end + 2;
        }
        return out;
    }

    static String rewriteCode(String code) {
        List<Tok> t = tokens(code);
        return rewrite(t, 0, t.size());
    }

    /** Whether a token ends an operand, so that a following '[' or '(' is a subscript or call. */
    private static boolean endsOperand(Tok prev) {
        if (prev == null) return false;
        return switch (prev.k()) {
            case STR, NUM -> true;
            case ID -> !KEYWORDS.contains(prev.t());
            case P -> prev.t().equals(")") || prev.t().equals("]") || prev.t().equals("}");
            default -> false;
        };
    }

    private static int matching(List<Tok> t, int open, int to) {
        int depth = 0;
        for (int i = open; i < to; i++) {
            Tok x = t.get(i);
            if (x.is("(") || x.is("[") || x.is("{")) depth++;
            else if (x.is(")") || x.is("]") || x.is("}")) {
                depth--;
                if (depth == 0) return i;
            }
        }
        return -1;
    }

    /** Splits [from, to) at top-level tokens equal to {@code sep}; returns the boundaries. */
    private static List<int[]> split(List<Tok> t, int from, int to, String sep) {
        List<int[]> parts = new ArrayList<>();
        int depth = 0, start = from;
        for (int i = from; i < to; i++) {
            Tok x = t.get(i);
            if (x.is("(") || x.is("[") || x.is("{")) depth++;
            else if (x.is(")") || x.is("]") || x.is("}")) depth--;
            else if (depth == 0 && x.is(sep)) {
                parts.add(new int[]{start, i});
                start = i + 1;
            }
        }
        parts.add(new int[]{start, to});
        return parts;
    }

    private static String rewrite(List<Tok> t, int from, int to) {
        List<String> out = new ArrayList<>();
        int chainStart = 0;
        Tok prev = null; // previous significant token of the input
        for (int i = from; i < to; i++) {
            Tok x = t.get(i);
            if (x.k() == K.WS) {
                out.add(x.t());
                continue;
            }
            boolean open = x.is("(") || x.is("[") || x.is("{");
            int close = open ? matching(t, i, to) : -1;
            if (open && close < 0) { // unbalanced: copy the rest for Jinjava to report
                for (int j = i; j < to; j++) out.add(t.get(j).t());
                return String.join("", out);
            }
            boolean postfix = open && !x.is("{") && endsOperand(prev);
            if (x.is("[") && postfix && split(t, i + 1, close, ":").size() > 1) {
                List<int[]> parts = split(t, i + 1, close, ":");
                StringBuilder call = new StringBuilder(SLICE_FN).append('(');
                for (int p = chainStart; p < out.size(); p++) call.append(out.get(p));
                for (int a = 0; a < 3; a++) {
                    String arg = a < parts.size() ? rewrite(t, parts.get(a)[0], parts.get(a)[1]).strip() : "";
                    call.append(", ").append(arg.isEmpty() ? "none" : arg);
                }
                call.append(')');
                while (out.size() > chainStart) out.remove(out.size() - 1);
                out.add(call.toString());
                i = close;
                prev = t.get(close);
                continue;
            }
            if (open) {
                if (!postfix) chainStart = out.size();
                StringBuilder sb = new StringBuilder(x.t());
                if (x.is("(") && postfix) {
                    List<int[]> args = split(t, i + 1, close, ",");
                    for (int a = 0; a < args.size(); a++) {
                        if (a > 0) sb.append(',');
                        sb.append(keywordArg(t, args.get(a)[0], args.get(a)[1]));
                    }
                } else {
                    sb.append(rewrite(t, i + 1, close));
                }
                sb.append(t.get(close).t());
                out.add(sb.toString());
                i = close;
                prev = t.get(close);
                continue;
            }
            boolean continuesChain = prev != null && (prev.is(".") || prev.is("|"));
            if ((x.k() == K.ID && !KEYWORDS.contains(x.t()) || x.k() == K.STR || x.k() == K.NUM) && !continuesChain) {
                chainStart = out.size();
            }
            out.add(x.t());
            prev = x;
        }
        return String.join("", out);
    }

    /** One call argument: {@code name = expr} → {@code name=(expr)}, else rewritten as it is. */
    private static String keywordArg(List<Tok> t, int from, int to) {
        int i = from;
        while (i < to && t.get(i).k() == K.WS) i++;
        int j = i + 1;
        while (j < to && t.get(j).k() == K.WS) j++;
        if (i < to && t.get(i).k() == K.ID && j < to && t.get(j).is("=")) {
            String value = rewrite(t, j + 1, to);
            StringBuilder sb = new StringBuilder();
            for (int p = from; p < i; p++) sb.append(t.get(p).t());
            return sb.append(t.get(i).t()).append("=(").append(value.strip()).append(')').toString();
        }
        return rewrite(t, from, to);
    }

    // ------------------------------------------------------------------ the slice function

    /** Python's {@code base[start:stop:step]} for strings (by code point) and sequences. */
    public static Object slice(Object base, Object start, Object stop, Object step) {
        if (base == null) throw new IllegalArgumentException("cannot slice none");
        int st = step == null ? 1 : ((Number) step).intValue();
        if (st == 0) throw new IllegalArgumentException("slice step cannot be zero");
        if (base instanceof CharSequence cs) {
            int[] cps = cs.toString().codePoints().toArray();
            StringBuilder sb = new StringBuilder();
            for (int i : indices(cps.length, start, stop, st)) sb.appendCodePoint(cps[i]);
            return sb.toString();
        }
        List<Object> items = new ArrayList<>();
        if (base instanceof Iterable<?> it) it.forEach(items::add);
        else if (base.getClass().isArray()) items.addAll(java.util.Arrays.asList((Object[]) base));
        else throw new IllegalArgumentException("cannot slice a " + base.getClass().getSimpleName());
        List<Object> out = new ArrayList<>();
        for (int i : indices(items.size(), start, stop, st)) out.add(items.get(i));
        return out;
    }

    private static List<Integer> indices(int len, Object start, Object stop, int step) {
        int lo, hi;
        if (step > 0) {
            lo = start == null ? 0 : clamp(((Number) start).intValue(), len, 0, len);
            hi = stop == null ? len : clamp(((Number) stop).intValue(), len, 0, len);
        } else {
            lo = start == null ? len - 1 : clamp(((Number) start).intValue(), len, -1, len - 1);
            hi = stop == null ? -1 : clamp(((Number) stop).intValue(), len, -1, len - 1);
        }
        List<Integer> out = new ArrayList<>();
        if (step > 0) for (int i = lo; i < hi; i += step) out.add(i);
        else for (int i = lo; i > hi; i += step) out.add(i);
        return out;
    }

    private static int clamp(int i, int len, int min, int max) {
        if (i < 0) i += len;
        return Math.max(min, Math.min(max, i));
    }
}
