package io.pref4j.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pref4j.UserInputException;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Typed configs: records bound from JSON by reflection.
 *
 * <p>A config is a record; each component is a key. JSON keys are the component names in
 * snake case ({@code maxSeqLen} → {@code max_seq_len}). Supported component types:
 * {@code int}, {@code long}, {@code float}, {@code double}, {@code boolean}, {@code String},
 * {@code Integer}/{@code Long}/{@code Double} (nullable), enums (written as their lower-case
 * names), {@code List<String>}, {@code List<Integer>}, {@code List<Long>},
 * {@code List<Double>}, and nested records (sections, JSON objects). Every record has a
 * static {@code defaults()} method; binding starts from it, so missing keys keep their
 * defaults. A record may declare {@code void validate()} that checks ranges with
 * {@link Check}; it runs after all values are bound, children before parents.
 *
 * <p>Every problem is a {@link UserInputException} with a one-line message that starts
 * with where the value came from (the file, or {@code --set key=value}) and names the
 * dotted key:
 * <pre>
 * config.json: unknown key loop.resue (did you mean loop.reuse?)
 * config.json: loop.reuse must be an integer, got "two"
 * --set loop.mixing=2: loop.mixing must be in [0, 1], got 2
 * config.json:3:14: malformed JSON (Unexpected character ...)
 * </pre>
 * Config files may contain {@code //} and {@code /* *}{@code /} comments.
 */
public final class Configs {

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(JsonReadFeature.ALLOW_JAVA_COMMENTS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();
    private static final ObjectMapper STRICT = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private Configs() {
    }

    /** One key of a config, for documentation and help. */
    public record KeyInfo(String key, String type, String defaultValue, String doc, boolean section) {
    }

    // ------------------------------------------------------------------ loading

    /** The record's own defaults (its static {@code defaults()} method). */
    public static <R extends Record> R defaults(Class<R> type) {
        Method m;
        try {
            m = type.getDeclaredMethod("defaults");
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException(type.getName() + " has no static defaults() method", e);
        }
        if (!Modifier.isStatic(m.getModifiers()) || m.getReturnType() != type) {
            throw new IllegalArgumentException(type.getName() + ".defaults() must be static and return "
                    + type.getSimpleName());
        }
        try {
            m.setAccessible(true);
            return type.cast(m.invoke(null));
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        } catch (InvocationTargetException e) {
            throw rethrow(e.getCause());
        }
    }

    /**
     * Loads a config: the defaults, then the JSON file (when not null), then each
     * {@code key=value} override in order, then validation.
     *
     * @param jsonFile  a JSON object file, or null for defaults only
     * @param overrides {@code --set} assignments ({@code loop.reuse=2},
     *                  {@code reward.command=["python3","score.py"]}); values are parsed as
     *                  JSON when they parse, else taken as a string
     * @throws UserInputException on any problem, naming the file or the override and the key
     */
    public static <R extends Record> R load(Class<R> type, Path jsonFile, List<String> overrides) {
        R r = defaults(type);
        String fileSource = jsonFile == null ? null : jsonFile.toString();
        if (jsonFile != null) {
            r = bind(new Ctx(type, fileSource), type, r, applyAliases(type, readFile(jsonFile), fileSource), "");
        }
        List<String[]> applied = new ArrayList<>();
        for (String o : overrides == null ? List.<String>of() : overrides) {
            r = override(r, o, false);
            applied.add(new String[]{key(o), "--set " + o});
        }
        validate(r, key -> {
            for (int i = applied.size() - 1; i >= 0; i--) {
                String k = applied.get(i)[0];
                if (k.equals(key) || key.startsWith(k + ".") || k.startsWith(key + ".")) return applied.get(i)[1];
            }
            return fileSource != null ? fileSource : "config";
        });
        return r;
    }

    /** Parses JSON text onto the defaults and validates; {@code source} names it in messages. */
    public static <R extends Record> R parse(Class<R> type, String json, String source) {
        return fromTree(type, readTree(json.getBytes(StandardCharsets.UTF_8), source), source);
    }

    /** Binds a JSON object onto the defaults and validates; {@code source} names it in messages. */
    public static <R extends Record> R fromTree(Class<R> type, JsonNode node, String source) {
        R r = bind(new Ctx(type, source), type, defaults(type), applyAliases(type, node, source), "");
        validate(r, k -> source);
        return r;
    }

    /**
     * Applies one {@code key=value} assignment to a config and validates the result;
     * messages start with {@code --set key=value}.
     */
    public static <R extends Record> R override(R config, String assignment) {
        return override(config, assignment, true);
    }

    private static String key(String assignment) {
        int eq = assignment.indexOf('=');
        return (eq < 0 ? assignment : assignment.substring(0, eq)).trim();
    }

    /**
     * The record type's top-level key aliases (alias → dotted key), from its static
     * {@code aliases()} method when it has one (TrainConfig: TRL's argument names).
     */
    @SuppressWarnings("unchecked")
    public static Map<String, String> aliases(Class<?> type) {
        try {
            var m = type.getDeclaredMethod("aliases");
            m.setAccessible(true);
            return (Map<String, String>) m.invoke(null);
        } catch (NoSuchMethodException e) {
            return Map.of();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(type.getName() + ".aliases(): " + e, e);
        }
    }

    /** Moves top-level alias keys of a config object to their dotted keys (both given: an error). */
    private static JsonNode applyAliases(Class<?> type, JsonNode node, String source) {
        Map<String, String> aliases = aliases(type);
        if (!node.isObject() || aliases.isEmpty()) return node;
        ObjectNode out = ((ObjectNode) node).deepCopy();
        for (Map.Entry<String, String> a : aliases.entrySet()) {
            JsonNode v = out.remove(a.getKey());
            if (v == null) continue;
            String[] parts = a.getValue().split("\\.");
            ObjectNode at = out;
            for (int i = 0; i < parts.length - 1; i++) {
                JsonNode sub = at.get(parts[i]);
                if (sub == null) sub = at.putObject(parts[i]);
                if (!sub.isObject()) throw new UserInputException(source + ": " + parts[i] + " must be an object (a section)");
                at = (ObjectNode) sub;
            }
            String leaf = parts[parts.length - 1];
            if (at.has(leaf))
                throw new UserInputException(source + ": " + a.getKey() + " is another name for " + a.getValue() + "; give one of them");
            at.set(leaf, v);
        }
        return out;
    }

    private static <R extends Record> R override(R config, String assignment, boolean check) {
        @SuppressWarnings("unchecked") Class<R> type = (Class<R>) config.getClass();
        String source = "--set " + assignment;
        int eq = assignment.indexOf('=');
        if (eq < 0) {
            throw new UserInputException(source + ": expected key=value (e.g. loop.reuse=2)");
        }
        String key = key(assignment);
        key = aliases(type).getOrDefault(key, key);
        String raw = assignment.substring(eq + 1).trim();
        String[] parts = key.split("\\.", -1);
        if (key.isEmpty() || Arrays.stream(parts).anyMatch(String::isEmpty)) {
            throw new UserInputException(source + ": malformed key \"" + key + "\" (expected a dotted key such as loop.reuse)");
        }
        Ctx ctx = new Ctx(type, source);
        // Walk the schema to the target, so unknown keys are reported before parsing the value.
        Class<?> cls = type;
        Type target = null;
        String path = "";
        for (int i = 0; i < parts.length; i++) {
            if (cls == null) {
                throw new UserInputException(source + ": " + path + " is not a section (it has no key "
                        + parts[i] + ")");
            }
            RecordComponent c = components(cls).get(parts[i]);
            if (c == null) throw unknown(ctx, cls, path, parts[i]);
            path = join(path, parts[i]);
            target = c.getGenericType();
            cls = target instanceof Class<?> k && k.isRecord() ? k : null;
        }
        JsonNode value = overrideValue(target, raw);
        ObjectNode root = NODES.objectNode();
        ObjectNode at = root;
        for (int i = 0; i < parts.length - 1; i++) at = at.putObject(parts[i]);
        at.set(parts[parts.length - 1], value);
        R r = bind(ctx, type, config, root, "");
        if (check) validate(r, k -> source);
        return r;
    }

    private static JsonNode overrideValue(Type target, String raw) {
        JsonNode parsed;
        try {
            parsed = STRICT.readTree(raw);
        } catch (JsonProcessingException e) {
            parsed = null;
        }
        boolean textual = target == String.class || (target instanceof Class<?> c && c.isEnum());
        if (parsed == null || parsed.isMissingNode() || (textual && !parsed.isTextual() && !parsed.isNull())) {
            return NODES.textNode(raw);
        }
        return parsed;
    }

    private static JsonNode readFile(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new UserInputException(file + ": no such file", e);
        } catch (IOException e) {
            throw new UserInputException(file + ": cannot read: " + e.getMessage(), e);
        }
        return readTree(bytes, file.toString());
    }

    private static JsonNode readTree(byte[] bytes, String source) {
        JsonNode n;
        try {
            n = JSON.readTree(bytes);
        } catch (JsonProcessingException e) {
            JsonLocation loc = e.getLocation();
            String where = loc == null || loc.getLineNr() < 1 ? source : source + ":" + loc.getLineNr() + ":" + loc.getColumnNr();
            throw new UserInputException(where + ": malformed JSON (" + firstLine(e.getOriginalMessage()) + ")", e);
        } catch (IOException e) {
            throw new UserInputException(source + ": cannot read: " + e.getMessage(), e);
        }
        if (n == null || n.isMissingNode()) {
            throw new UserInputException(source + ": empty file (expected a JSON object)");
        }
        if (!n.isObject()) {
            throw new UserInputException(source + ": expected a JSON object at the top level, got " + describe(n));
        }
        return n;
    }

    // ------------------------------------------------------------------ binding

    /** The root type (for global suggestions) and the source named in messages. */
    private record Ctx(Class<?> root, String source) {
    }

    private static Map<String, RecordComponent> components(Class<?> type) {
        Map<String, RecordComponent> m = new LinkedHashMap<>();
        for (RecordComponent c : type.getRecordComponents()) {
            if (m.put(Names.snake(c.getName()), c) != null) {
                throw new IllegalArgumentException(type.getName() + ": two components map to key "
                        + Names.snake(c.getName()));
            }
        }
        return m;
    }

    private static <R extends Record> R bind(Ctx ctx, Class<R> type, R base, JsonNode node, String path) {
        if (!node.isObject()) {
            throw wrongType(ctx, path.isEmpty() ? "the config" : path, "an object (a section)", node);
        }
        Map<String, RecordComponent> comps = components(type);
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!comps.containsKey(name)) throw unknown(ctx, type, path, name);
        }
        Object[] args = new Object[comps.size()];
        Class<?>[] types = new Class<?>[comps.size()];
        int i = 0;
        for (Map.Entry<String, RecordComponent> e : comps.entrySet()) {
            RecordComponent c = e.getValue();
            types[i] = c.getType();
            Object current = get(c, base);
            JsonNode v = node.get(e.getKey());
            args[i] = v == null ? current
                    : convert(ctx, c.getGenericType(), v, join(path, e.getKey()), current, isNullable(c));
            i++;
        }
        try {
            Constructor<R> ctor = type.getDeclaredConstructor(types);
            ctor.setAccessible(true);
            return ctor.newInstance(args);
        } catch (InvocationTargetException e) {
            Throwable t = e.getCause();
            if (t instanceof InvalidValueException iv) {
                throw new UserInputException(ctx.source + ": " + join(path, iv.key()) + " " + iv.problem(), iv);
            }
            if (t instanceof UserInputException u) {
                throw new UserInputException(ctx.source + ": " + u.getMessage(), u);
            }
            if (t instanceof IllegalArgumentException || t instanceof NullPointerException) {
                throw new UserInputException(ctx.source + ": " + (path.isEmpty() ? "" : path + ": ")
                        + t.getMessage(), t);
            }
            throw rethrow(t);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(type.getName() + ": cannot construct: " + e, e);
        }
    }

    private static boolean isNullable(RecordComponent c) {
        return c.isAnnotationPresent(Nullable.class) || c.getType() == Integer.class
                || c.getType() == Long.class || c.getType() == Double.class;
    }

    private static Object get(RecordComponent c, Object record) {
        try {
            Method m = c.getAccessor();
            m.setAccessible(true);
            return m.invoke(record);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        } catch (InvocationTargetException e) {
            throw rethrow(e.getCause());
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object convert(Ctx ctx, Type t, JsonNode v, String key, Object current, boolean nullable) {
        if (v.isNull()) {
            if (nullable) return null;
            throw wrongType(ctx, key, expected(t, false), v);
        }
        if (t instanceof ParameterizedType p && p.getRawType() == List.class) {
            Type el = p.getActualTypeArguments()[0];
            if (!v.isArray()) throw wrongType(ctx, key, expected(t, nullable), v);
            List<Object> out = new ArrayList<>(v.size());
            for (int i = 0; i < v.size(); i++) {
                JsonNode x = v.get(i);
                if (x.isNull()) throw wrongType(ctx, key + "[" + i + "]", expected(el, false), x);
                out.add(convert(ctx, el, x, key + "[" + i + "]", null, false));
            }
            return List.copyOf(out);
        }
        if (!(t instanceof Class<?> c)) {
            throw new IllegalArgumentException("unsupported config type " + t + " at " + key);
        }
        if (c.isRecord()) {
            Record base = current != null ? (Record) current : defaults((Class) c);
            return bind(ctx, (Class) c, base, v, key);
        }
        if (c == int.class || c == Integer.class) {
            return (int) integer(ctx, key, v, Integer.MIN_VALUE, Integer.MAX_VALUE, t, nullable);
        }
        if (c == long.class || c == Long.class) {
            return integer(ctx, key, v, Long.MIN_VALUE, Long.MAX_VALUE, t, nullable);
        }
        if (c == double.class || c == Double.class) {
            if (!v.isNumber()) throw wrongType(ctx, key, expected(t, nullable), v);
            return v.doubleValue();
        }
        if (c == float.class || c == Float.class) {
            if (!v.isNumber()) throw wrongType(ctx, key, expected(t, nullable), v);
            double d = v.doubleValue();
            if (Math.abs(d) > Float.MAX_VALUE) {
                throw new UserInputException(ctx.source + ": " + key + " is too large for a float, got " + describe(v));
            }
            return (float) d;
        }
        if (c == boolean.class || c == Boolean.class) {
            if (!v.isBoolean()) throw wrongType(ctx, key, expected(t, nullable), v);
            return v.booleanValue();
        }
        if (c == String.class) {
            if (!v.isTextual()) throw wrongType(ctx, key, expected(t, nullable), v);
            return v.textValue();
        }
        if (c.isEnum()) {
            if (!v.isTextual()) throw wrongType(ctx, key, expected(t, nullable), v);
            for (Object e : c.getEnumConstants()) {
                if (Names.enumName((Enum<?>) e).equals(v.textValue())) return e;
            }
            List<String> names = enumNames(c);
            String near = Names.nearest(v.textValue().toLowerCase(java.util.Locale.ROOT), names);
            throw new UserInputException(ctx.source + ": " + key + " must be one of " + String.join("|", names)
                    + ", got " + describe(v) + (near == null ? "" : " (did you mean " + near + "?)"));
        }
        throw new IllegalArgumentException("unsupported config type " + c.getName() + " at " + key);
    }

    private static long integer(Ctx ctx, String key, JsonNode v, long min, long max, Type t, boolean nullable) {
        if (!v.isNumber()) throw wrongType(ctx, key, expected(t, nullable), v);
        if (v.isIntegralNumber()) {
            if (v.canConvertToLong() && v.longValue() >= min && v.longValue() <= max) return v.longValue();
        } else {
            double d = v.doubleValue();
            if (d != Math.rint(d) || Double.isInfinite(d)) throw wrongType(ctx, key, expected(t, nullable), v);
            if (d >= min && d <= max) return (long) d;
        }
        throw new UserInputException(ctx.source + ": " + key + " must be an integer between " + min + " and "
                + max + ", got " + describe(v));
    }

    private static List<String> enumNames(Class<?> c) {
        return Arrays.stream(c.getEnumConstants()).map(e -> Names.enumName((Enum<?>) e)).toList();
    }

    private static String expected(Type t, boolean nullable) {
        String s;
        if (t instanceof ParameterizedType p && p.getRawType() == List.class) {
            s = "a list of " + plural(p.getActualTypeArguments()[0]);
        } else if (t instanceof Class<?> c) {
            if (c == int.class || c == Integer.class || c == long.class || c == Long.class) s = "an integer";
            else if (c == double.class || c == Double.class || c == float.class || c == Float.class) s = "a number";
            else if (c == boolean.class || c == Boolean.class) s = "true or false";
            else if (c == String.class) s = "a string";
            else if (c.isEnum()) s = "one of " + String.join("|", enumNames(c));
            else if (c.isRecord()) s = "an object (a section)";
            else s = c.getSimpleName();
        } else {
            s = t.getTypeName();
        }
        return nullable ? s + " or null" : s;
    }

    private static String plural(Type el) {
        if (el == String.class) return "strings";
        if (el == Integer.class || el == Long.class) return "integers";
        if (el == Double.class || el == Float.class) return "numbers";
        if (el instanceof Class<?> c && c.isEnum()) return "values from " + String.join("|", enumNames(c));
        throw new IllegalArgumentException("unsupported list element type " + el.getTypeName());
    }

    private static UserInputException wrongType(Ctx ctx, String key, String expected, JsonNode got) {
        return new UserInputException(ctx.source + ": " + key + " must be " + expected + ", got " + describe(got));
    }

    /** A JSON value as it appears in a message: {@code "two"}, {@code 2.5}, {@code a list}. */
    static String describe(JsonNode n) {
        if (n == null || n.isMissingNode()) return "nothing";
        if (n.isTextual()) {
            String s = n.textValue();
            return NODES.textNode(s.length() > 60 ? s.substring(0, 57) + "..." : s).toString();
        }
        if (n.isArray()) return "a list " + clip(n.toString());
        if (n.isObject()) return "an object " + clip(n.toString());
        return n.toString();
    }

    private static String clip(String s) {
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }

    private static UserInputException unknown(Ctx ctx, Class<?> type, String path, String name) {
        String full = join(path, name);
        List<String> siblings = new ArrayList<>(components(type).keySet());
        String best = null;
        int bestD = Integer.MAX_VALUE;
        for (String s : siblings) {
            int d = Names.distance(name, s);
            if (d < bestD) {
                bestD = d;
                best = join(path, s);
            }
        }
        List<String> all = new ArrayList<>();
        allKeys(ctx.root, "", all);
        for (String k : all) {
            String leaf = k.substring(k.lastIndexOf('.') + 1);
            int d = Math.min(Names.distance(full, k), Names.distance(name, leaf) + 1);
            if (d < bestD) {
                bestD = d;
                best = k;
            }
        }
        String hint = bestD <= Names.tolerance(name) ? "did you mean " + best + "?"
                : "valid keys" + (path.isEmpty() ? "" : " in " + path) + ": " + String.join(", ", siblings);
        return new UserInputException(ctx.source + ": unknown key " + full + " (" + hint + ")");
    }

    private static void allKeys(Class<?> type, String prefix, List<String> out) {
        for (Map.Entry<String, RecordComponent> e : components(type).entrySet()) {
            String k = join(prefix, e.getKey());
            out.add(k);
            if (e.getValue().getType().isRecord()) allKeys(e.getValue().getType(), k, out);
        }
    }

    // ------------------------------------------------------------------ validation

    /**
     * Runs every {@code validate()} in the tree (children first); a violation becomes a
     * {@link UserInputException} "source: dotted.key problem".
     */
    public static void validate(Record config, String source) {
        validate(config, k -> source);
    }

    private static void validate(Record config, java.util.function.Function<String, String> sourceOf) {
        try {
            validateTree(config, "");
        } catch (Violation v) {
            throw new UserInputException(sourceOf.apply(v.key) + ": " + v.key + " " + v.problem, v.getCause());
        }
    }

    private static final class Violation extends RuntimeException {
        final String key, problem;

        Violation(String key, String problem, Throwable cause) {
            super(key + " " + problem, cause, false, false);
            this.key = key;
            this.problem = problem;
        }
    }

    private static void validateTree(Record r, String path) {
        for (Map.Entry<String, RecordComponent> e : components(r.getClass()).entrySet()) {
            if (get(e.getValue(), r) instanceof Record child) validateTree(child, join(path, e.getKey()));
        }
        Method m;
        try {
            m = r.getClass().getDeclaredMethod("validate");
        } catch (NoSuchMethodException e) {
            return;
        }
        if (Modifier.isStatic(m.getModifiers())) return;
        try {
            m.setAccessible(true);
            m.invoke(r);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof InvalidValueException iv) {
                throw new Violation(join(path, iv.key()), iv.problem(), iv);
            }
            throw rethrow(e.getCause());
        }
    }

    // ------------------------------------------------------------------ writing

    /** The config as a JSON object: every key, nested sections as objects, enums lower-case. */
    public static ObjectNode toTree(Record config) {
        ObjectNode o = NODES.objectNode();
        for (Map.Entry<String, RecordComponent> e : components(config.getClass()).entrySet()) {
            o.set(e.getKey(), node(get(e.getValue(), config)));
        }
        return o;
    }

    private static JsonNode node(Object v) {
        if (v == null) return NODES.nullNode();
        if (v instanceof Record r) return toTree(r);
        if (v instanceof Integer i) return NODES.numberNode(i);
        if (v instanceof Long l) return NODES.numberNode(l);
        if (v instanceof Float f) return NODES.numberNode(f);
        if (v instanceof Double d) return NODES.numberNode(d);
        if (v instanceof Boolean b) return NODES.booleanNode(b);
        if (v instanceof String s) return NODES.textNode(s);
        if (v instanceof Enum<?> e) return NODES.textNode(Names.enumName(e));
        if (v instanceof List<?> list) {
            ArrayNode a = NODES.arrayNode();
            for (Object x : list) a.add(node(x));
            return a;
        }
        throw new IllegalArgumentException("unsupported config value " + v.getClass().getName());
    }

    /** The config as pretty-printed JSON (ends with a newline); {@link #parse} reads it back. */
    public static String toJson(Record config) {
        try {
            return JSON.writeValueAsString(toTree(config)) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    // ------------------------------------------------------------------ describing

    /**
     * Every dotted key of the config type in declaration order: sections (type
     * {@code "section"}) followed by their keys. Defaults are JSON text.
     *
     * @throws IllegalArgumentException if a component has no {@link Doc}, no defaults, or an
     *                                  unsupported type
     */
    public static List<KeyInfo> describe(Class<? extends Record> type) {
        List<KeyInfo> out = new ArrayList<>();
        describe(type, defaults(type), "", out);
        return out;
    }

    private static void describe(Class<?> type, Object defaults, String prefix, List<KeyInfo> out) {
        for (Map.Entry<String, RecordComponent> e : components(type).entrySet()) {
            RecordComponent c = e.getValue();
            String k = join(prefix, e.getKey());
            Doc doc = c.getAnnotation(Doc.class);
            if (c.getType().isRecord()) {
                Doc typeDoc = c.getType().getAnnotation(Doc.class);
                if (doc == null && typeDoc == null) {
                    throw new IllegalArgumentException(type.getName() + "." + c.getName() + " has no @Doc");
                }
                out.add(new KeyInfo(k, "section", null, (doc != null ? doc : typeDoc).value(), true));
                describe(c.getType(), get(c, defaults), k, out);
            } else {
                if (doc == null) throw new IllegalArgumentException(type.getName() + "." + c.getName() + " has no @Doc");
                String t = expected(c.getGenericType(), isNullable(c));
                out.add(new KeyInfo(k, typeName(t), node(get(c, defaults)).toString(), doc.value(), false));
            }
        }
    }

    private static String typeName(String expected) {
        for (String article : new String[]{"an ", "a "}) {
            if (expected.startsWith(article)) return expected.substring(article.length());
        }
        if (expected.startsWith("one of ")) return expected.substring("one of ".length());
        if (expected.startsWith("true or false")) return "boolean" + expected.substring("true or false".length());
        return expected;
    }

    // ------------------------------------------------------------------ helpers

    static String join(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    private static String firstLine(String s) {
        if (s == null) return "unknown error";
        int i = s.indexOf('\n');
        return i < 0 ? s : s.substring(0, i);
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    /** The dotted keys of a config type (sections and leaves), e.g. for shell completion. */
    public static List<String> keys(Class<? extends Record> type) {
        List<String> out = new ArrayList<>();
        allKeys(type, "", out);
        return out;
    }

}
