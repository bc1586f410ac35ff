package io.pref4j.text;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.lib.expression.ExpressionStrategy;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.mode.ExecutionMode;
import com.hubspot.jinjava.tree.TagNode;
import com.hubspot.jinjava.tree.output.RenderedOutputNode;
import com.hubspot.jinjava.tree.parse.ExpressionToken;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * What Jinja2 (as transformers configures it) has and Jinjava lacks, for chat templates:
 * Python's str and dict methods ({@code content.startswith('<think>')},
 * {@code content.split('</think>')[-1].lstrip('\n')}, {@code message.get('name', 'x')}),
 * transformers' {@code tojson} and {@code raise_exception}, and the {@code generation} block.
 */
final class PyCompat {
    private PyCompat() {
    }

    /** Thrown by the template's {@code raise_exception(message)}. */
    static final class RaisedException extends RuntimeException {
        RaisedException(String message) {
            super(message);
        }
    }

    /** The template's {@code raise_exception(message)}: always throws. */
    public static Object raiseException(Object message) {
        throw new RaisedException(String.valueOf(message));
    }

    // ------------------------------------------------------------------ str and dict methods

    private static final Set<String> STR_METHODS = Set.of("strip", "lstrip", "rstrip", "split", "rsplit",
            "splitlines", "upper", "lower", "title", "capitalize", "startswith", "endswith", "replace", "find",
            "rfind", "count", "join", "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower");
    private static final Set<String> MAP_METHODS = Set.of("items", "keys", "values", "get");

    /**
     * Resolves Python method calls on strings and dicts before Jinjava's bean resolver sees
     * them (which would call Java's {@code String.split}, a regex split that drops trailing
     * empty strings, or fail on {@code startswith}).
     */
    static final class MethodResolver extends ELResolver {
        @Override
        public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
            if (method == null) return null;
            String name = method.toString();
            Object[] a = params == null ? new Object[0] : params;
            if (base instanceof String s && STR_METHODS.contains(name)) {
                Object r = str(s, name, a);
                context.setPropertyResolved(true);
                return r;
            }
            if (base instanceof Map<?, ?> m && MAP_METHODS.contains(name) && !(name.equals("get") && a.length != 2)) {
                Object r = dict(m, name, a);
                context.setPropertyResolved(true);
                return r;
            }
            return null;
        }

        @Override
        public Class<?> getCommonPropertyType(ELContext context, Object base) {
            return null;
        }

        @Override
        public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
            return null;
        }

        @Override
        public Class<?> getType(ELContext context, Object base, Object property) {
            return null;
        }

        @Override
        public Object getValue(ELContext context, Object base, Object property) {
            return null;
        }

        @Override
        public boolean isReadOnly(ELContext context, Object base, Object property) {
            return true;
        }

        @Override
        public void setValue(ELContext context, Object base, Object property, Object value) {
        }
    }

    private static Object dict(Map<?, ?> m, String name, Object[] a) {
        return switch (name) {
            case "items" -> {
                List<List<Object>> out = new ArrayList<>();
                for (Map.Entry<?, ?> e : m.entrySet()) out.add(java.util.Arrays.asList(e.getKey(), e.getValue()));
                yield out;
            }
            case "keys" -> new ArrayList<>(m.keySet());
            case "values" -> new ArrayList<>(m.values());
            case "get" -> m.containsKey(a[0]) ? m.get(a[0]) : a[1];
            default -> throw new IllegalStateException(name);
        };
    }

    static Object str(String s, String name, Object[] a) {
        return switch (name) {
            case "strip" -> strip(s, chars(a), true, true);
            case "lstrip" -> strip(s, chars(a), true, false);
            case "rstrip" -> strip(s, chars(a), false, true);
            case "split" -> split(s, a.length > 0 ? (String) a[0] : null, a.length > 1 ? toInt(a[1]) : -1);
            case "rsplit" -> rsplit(s, a.length > 0 ? (String) a[0] : null, a.length > 1 ? toInt(a[1]) : -1);
            case "splitlines" -> new ArrayList<>(s.lines().toList());
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "title" -> title(s);
            case "capitalize" -> s.isEmpty() ? s
                    : new StringBuilder().appendCodePoint(Character.toTitleCase(s.codePointAt(0)))
                            .append(s.substring(Character.charCount(s.codePointAt(0))).toLowerCase(Locale.ROOT))
                            .toString();
            case "startswith" -> affix(s, a, true);
            case "endswith" -> affix(s, a, false);
            case "replace" -> replace(s, (String) a[0], (String) a[1], a.length > 2 ? toInt(a[2]) : -1);
            case "find" -> codePointIndex(s, s.indexOf((String) a[0]));
            case "rfind" -> codePointIndex(s, s.lastIndexOf((String) a[0]));
            case "count" -> count(s, (String) a[0]);
            case "join" -> join(s, a[0]);
            case "isdigit" -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
            case "isalpha" -> !s.isEmpty() && s.chars().allMatch(Character::isLetter);
            case "isalnum" -> !s.isEmpty() && s.chars().allMatch(Character::isLetterOrDigit);
            case "isspace" -> !s.isEmpty() && s.chars().allMatch(PyCompat::isSpace);
            case "isupper" -> s.chars().anyMatch(Character::isUpperCase) && s.chars().noneMatch(Character::isLowerCase);
            case "islower" -> s.chars().anyMatch(Character::isLowerCase) && s.chars().noneMatch(Character::isUpperCase);
            default -> throw new IllegalStateException(name);
        };
    }

    /** A UTF-16 index as Python's code-point index (-1 stays -1). */
    private static int codePointIndex(String s, int i) {
        return i < 0 ? i : s.codePointCount(0, i);
    }

    private static String chars(Object[] a) {
        return a.length == 0 || a[0] == null ? null : a[0].toString();
    }

    private static int toInt(Object o) {
        return ((Number) o).intValue();
    }

    /** Python's str.isspace for one char. */
    static boolean isSpace(int c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == 0x85;
    }

    static String strip(String s, String chars, boolean left, boolean right) {
        int b = 0, e = s.length();
        if (left) while (b < e && stripped(s.charAt(b), chars)) b++;
        if (right) while (e > b && stripped(s.charAt(e - 1), chars)) e--;
        return s.substring(b, e);
    }

    private static boolean stripped(char c, String chars) {
        return chars == null ? isSpace(c) : chars.indexOf(c) >= 0;
    }

    static List<String> split(String s, String sep, int max) {
        List<String> out = new ArrayList<>();
        if (sep == null) {
            int i = 0, n = s.length();
            while (true) {
                while (i < n && isSpace(s.charAt(i))) i++;
                if (i >= n) break;
                if (max >= 0 && out.size() == max) {
                    out.add(strip(s.substring(i), null, false, true));
                    break;
                }
                int j = i;
                while (j < n && !isSpace(s.charAt(j))) j++;
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        if (sep.isEmpty()) throw new IllegalArgumentException("empty separator");
        int i = 0;
        while (max < 0 || out.size() < max) {
            int j = s.indexOf(sep, i);
            if (j < 0) break;
            out.add(s.substring(i, j));
            i = j + sep.length();
        }
        out.add(s.substring(i));
        return out;
    }

    static List<String> rsplit(String s, String sep, int max) {
        if (max < 0) return split(s, sep, -1);
        if (sep == null) {
            List<String> rev = new ArrayList<>();
            int e = s.length();
            while (true) {
                while (e > 0 && isSpace(s.charAt(e - 1))) e--;
                if (e <= 0) break;
                if (rev.size() == max) {
                    rev.add(strip(s.substring(0, e), null, true, false));
                    break;
                }
                int b = e;
                while (b > 0 && !isSpace(s.charAt(b - 1))) b--;
                rev.add(s.substring(b, e));
                e = b;
            }
            java.util.Collections.reverse(rev);
            return rev;
        }
        List<String> rev = new ArrayList<>();
        int e = s.length();
        while (rev.size() < max) {
            int j = s.lastIndexOf(sep, e - sep.length());
            if (j < 0) break;
            rev.add(s.substring(j + sep.length(), e));
            e = j;
        }
        rev.add(s.substring(0, e));
        java.util.Collections.reverse(rev);
        return rev;
    }

    static String title(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean prevCased = false;
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            boolean cased = Character.isUpperCase(c) || Character.isLowerCase(c) || Character.isTitleCase(c);
            sb.appendCodePoint(cased ? (prevCased ? Character.toLowerCase(c) : Character.toTitleCase(c)) : c);
            prevCased = cased;
            i += Character.charCount(c);
        }
        return sb.toString();
    }

    private static boolean affix(String s, Object[] a, boolean start) {
        Object x = a[0];
        Collection<?> options = x instanceof Collection<?> c ? c
                : x != null && x.getClass().isArray() ? java.util.Arrays.asList((Object[]) x) : List.of(String.valueOf(x));
        for (Object o : options) {
            String p = String.valueOf(o);
            if (start ? s.startsWith(p) : s.endsWith(p)) return true;
        }
        return false;
    }

    private static String replace(String s, String old, String rep, int count) {
        if (count < 0) return s.replace(old, rep);
        StringBuilder sb = new StringBuilder();
        int i = 0, done = 0;
        while (done < count) {
            int j = old.isEmpty() ? (i <= s.length() ? i : -1) : s.indexOf(old, i);
            if (j < 0) break;
            sb.append(s, i, j).append(rep);
            if (old.isEmpty()) {
                if (j < s.length()) sb.append(s.charAt(j));
                i = j + 1;
            } else {
                i = j + old.length();
            }
            done++;
        }
        if (i <= s.length()) sb.append(s.substring(Math.min(i, s.length())));
        return sb.toString();
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) return s.length() + 1;
        int n = 0;
        for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length())) n++;
        return n;
    }

    private static String join(String sep, Object items) {
        StringBuilder sb = new StringBuilder();
        Iterable<?> it = items instanceof Iterable<?> i ? i : List.of(items);
        boolean first = true;
        for (Object o : it) {
            if (!first) sb.append(sep);
            sb.append(o);
            first = false;
        }
        return sb.toString();
    }

    // ------------------------------------------------------------------ {{ output }}

    /**
     * Prints {@code {{ expr }}} as Jinja2 does: booleans as {@code True}/{@code False}; no
     * HTML escaping and no second rendering of the value (Jinjava's nested interpretation
     * would evaluate a message that contains {@code {{ }}}).
     */
    static final class PyExpressionStrategy implements ExpressionStrategy {
        private static final long serialVersionUID = 1L;

        @Override
        public RenderedOutputNode interpretOutput(ExpressionToken master, JinjavaInterpreter interpreter) {
            Object v = interpreter.resolveELExpression(master.getExpr(), master.getLineNumber());
            return new RenderedOutputNode(v instanceof Boolean b ? (b ? "True" : "False") : interpreter.getAsString(v));
        }
    }

    /** The execution mode that installs {@link PyExpressionStrategy}. */
    static final ExecutionMode EXECUTION_MODE = new ExecutionMode() {
        @Override
        public void prepareContext(Context context) {
            context.setExpressionStrategy(new PyExpressionStrategy());
        }
    };

    // ------------------------------------------------------------------ tojson

    /**
     * transformers' {@code tojson}: {@code json.dumps(x, ensure_ascii=False, indent=None,
     * separators=None, sort_keys=False)}, so {@code {"a": 1, "b": [1, 2]}} with Python's
     * spacing, not Jinjava's compact JSON.
     */
    static final class ToJsonFilter implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return filter(var, interpreter, (Object[]) args, Map.of());
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Object indent = kwargs.containsKey("indent") ? kwargs.get("indent") : args.length > 0 ? args[0] : null;
            Object sort = kwargs.get("sort_keys");
            Object ascii = kwargs.get("ensure_ascii");
            StringBuilder sb = new StringBuilder();
            dump(var, sb, indent == null ? -1 : ((Number) indent).intValue(), 0,
                    sort != null && Boolean.TRUE.equals(sort), ascii != null && Boolean.TRUE.equals(ascii));
            return sb.toString();
        }
    }

    static void dump(Object v, StringBuilder sb, int indent, int depth, boolean sortKeys, boolean ascii) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof Boolean b) {
            sb.append(b ? "true" : "false");
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (Double.isNaN(d)) sb.append("NaN");
            else if (Double.isInfinite(d)) sb.append(d > 0 ? "Infinity" : "-Infinity");
            else sb.append(pyFloat(d));
        } else if (v instanceof Number n) {
            sb.append(n);
        } else if (v instanceof Map<?, ?> m) {
            List<Map.Entry<?, ?>> es = new ArrayList<>(m.entrySet());
            if (sortKeys) es.sort((x, y) -> String.valueOf(x.getKey()).compareTo(String.valueOf(y.getKey())));
            sb.append('{');
            if (es.isEmpty()) {
                sb.append('}');
                return;
            }
            boolean first = true;
            for (Map.Entry<?, ?> e : es) {
                sb.append(first ? "" : indent >= 0 ? "," : ", ");
                newline(sb, indent, depth + 1);
                quote(String.valueOf(e.getKey()), sb, ascii);
                sb.append(": ");
                dump(e.getValue(), sb, indent, depth + 1, sortKeys, ascii);
                first = false;
            }
            newline(sb, indent, depth);
            sb.append('}');
        } else if (v instanceof Iterable<?> it) {
            sb.append('[');
            boolean first = true;
            for (Object o : it) {
                sb.append(first ? "" : indent >= 0 ? "," : ", ");
                newline(sb, indent, depth + 1);
                dump(o, sb, indent, depth + 1, sortKeys, ascii);
                first = false;
            }
            if (!first) newline(sb, indent, depth);
            sb.append(']');
        } else {
            quote(v.toString(), sb, ascii);
        }
    }

    private static void newline(StringBuilder sb, int indent, int depth) {
        if (indent < 0) return;
        sb.append('\n');
        sb.append(" ".repeat(indent * depth));
    }

    private static String pyFloat(double d) {
        if (d == Math.rint(d) && Math.abs(d) < 1e16) return (long) d + ".0";
        String s = Double.toString(d);
        int e = s.indexOf('E');
        if (e < 0) return s;
        String mant = s.substring(0, e);
        if (mant.endsWith(".0")) mant = mant.substring(0, mant.length() - 2);
        int exp = Integer.parseInt(s.substring(e + 1));
        return mant + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
    }

    static void quote(String s, StringBuilder sb, boolean ascii) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20 || (ascii && c > 0x7e)) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }

    // ------------------------------------------------------------------ {% generation %}

    /**
     * transformers' {@code {% generation %}...{% endgeneration %}} (it marks the assistant's
     * tokens for an assistant-only loss mask): renders its body unchanged.
     */
    static final class GenerationTag implements Tag {
        @Override
        public String getName() {
            return "generation";
        }

        @Override
        public String getEndTagName() {
            return "endgeneration";
        }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            StringBuilder sb = new StringBuilder();
            for (Node child : tagNode.getChildren()) sb.append(child.render(interpreter));
            return sb.toString();
        }
    }
}
