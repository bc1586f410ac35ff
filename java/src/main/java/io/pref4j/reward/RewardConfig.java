package io.pref4j.reward;

import io.pref4j.UserInputException;
import io.pref4j.config.Doc;
import io.pref4j.config.Nullable;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code reward} section of a run config. Which fields apply depends on the type;
 * {@link RewardSources#create} validates the combination, naming the field
 * ({@code reward.mode}, ...).
 *
 * <table>
 *   <caption>Types and their fields</caption>
 *   <tr><th>type</th><th>fields</th></tr>
 *   <tr><td>{@code min_length}</td><td>none</td></tr>
 *   <tr><td>{@code mode_length}</td><td>{@code mode} (integer ≥ 0)</td></tr>
 *   <tr><td>{@code target_length}</td><td>{@code target} (integer ≥ 0)</td></tr>
 *   <tr><td>{@code bandit_r1}, {@code bandit_r2}</td><td>none</td></tr>
 *   <tr><td>{@code learned}</td><td>{@code model} (a folder written by {@code pref4j train-rm})</td></tr>
 *   <tr><td>{@code external}</td><td>{@code command} (argv list), {@code timeout_s} (default 30)</td></tr>
 * </table>
 *
 * @param type           one of {@link #TYPES}
 * @param mode           mode_length's mode (null when unused)
 * @param target         target_length's target (null when unused)
 * @param model          learned: the reward-model folder (null when unused)
 * @param command        external: the argv (null when unused)
 * @param timeoutSeconds external: the per-batch limit (null = {@link #DEFAULT_TIMEOUT_S})
 */
@Doc("The reward source (SPEC §4).")
public record RewardConfig(
        @Doc("Reward: min_length, mode_length, target_length, bandit_r1, bandit_r2, learned or external.") String type,
        @Doc("mode_length: the mode in tokens; null = the mode of the reference policy's response lengths on the prompt pool.") Integer mode,
        @Doc("target_length: the target length in tokens.") Integer target,
        @Doc("learned: the reward-model folder written by pref4j train-rm.") @Nullable String model,
        @Doc("external: the program and its arguments, run without a shell; it reads JSONL {\"prompt\",\"response\"} on stdin and prints one number per line.") @Nullable List<String> command,
        @Doc("external: seconds the command may take per batch; null = 30.") Double timeoutSeconds) {

    public static final List<String> TYPES = List.of("min_length", "mode_length", "target_length",
            "bandit_r1", "bandit_r2", "learned", "external");

    /** The config keys, as {@link #fromMap} reads and {@link #toMap} writes them. */
    public static final List<String> KEYS = List.of("type", "mode", "target", "model", "command", "timeout_s");

    public static final double DEFAULT_TIMEOUT_S = 30;

    public RewardConfig {
        command = command == null ? null : List.copyOf(command);
    }

    /** The config defaults: min_length. */
    public static RewardConfig defaults() {
        return of("min_length");
    }

    /** A config with only a type (min_length, bandit_r1, bandit_r2). */
    public static RewardConfig of(String type) {
        return new RewardConfig(type, null, null, null, null, null);
    }

    public static RewardConfig modeLength(int mode) {
        return new RewardConfig("mode_length", mode, null, null, null, null);
    }

    public static RewardConfig targetLength(int target) {
        return new RewardConfig("target_length", null, target, null, null, null);
    }

    public static RewardConfig learned(String model) {
        return new RewardConfig("learned", null, null, model, null, null);
    }

    public static RewardConfig external(List<String> command, double timeoutSeconds) {
        return new RewardConfig("external", null, null, null, command, timeoutSeconds);
    }

    /** The same config with {@code mode} set (e.g. from {@link LengthRewards#mode} of reference samples). */
    public RewardConfig withMode(int m) {
        return new RewardConfig(type, m, target, model, command, timeoutSeconds);
    }

    /** The timeout, or the default. */
    public double timeoutOrDefault() {
        return timeoutSeconds == null ? DEFAULT_TIMEOUT_S : timeoutSeconds;
    }

    /**
     * Reads the section from plain values (as a JSON or YAML parser gives them: String,
     * Number, List, Map). Unknown keys and wrong types are errors naming the field.
     */
    public static RewardConfig fromMap(Map<String, ?> m) {
        if (m == null) throw new UserInputException("reward: missing section (expected an object with \"type\")");
        for (String key : m.keySet()) {
            if (!KEYS.contains(key))
                throw new UserInputException("reward: unknown key '" + key + "' (expected one of: " + String.join(", ", KEYS) + ")");
        }
        Object type = m.get("type");
        if (type == null) throw new UserInputException("reward.type is required (one of: " + String.join(", ", TYPES) + ")");
        if (!(type instanceof String t)) throw new UserInputException("reward.type must be a string, got " + describe(type));
        return new RewardConfig(t, integer(m, "mode"), integer(m, "target"), string(m, "model"), strings(m, "command"),
                number(m, "timeout_s"));
    }

    /** The non-null fields under their config keys. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", type);
        if (mode != null) m.put("mode", mode);
        if (target != null) m.put("target", target);
        if (model != null) m.put("model", model);
        if (command != null) m.put("command", command);
        if (timeoutSeconds != null || "external".equals(type)) m.put("timeout_s", timeoutOrDefault());
        return m;
    }

    private static Integer integer(Map<String, ?> m, String key) {
        Object v = m.get(key);
        if (v == null) return null;
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            long x = ((Number) v).longValue();
            if (x >= Integer.MIN_VALUE && x <= Integer.MAX_VALUE) return (int) x;
        }
        if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < Integer.MAX_VALUE) return d.intValue();
        throw new UserInputException("reward." + key + " must be an integer, got " + describe(v));
    }

    private static Double number(Map<String, ?> m, String key) {
        Object v = m.get(key);
        if (v == null) return null;
        if (v instanceof Number n) return n.doubleValue();
        throw new UserInputException("reward." + key + " must be a number, got " + describe(v));
    }

    private static String string(Map<String, ?> m, String key) {
        Object v = m.get(key);
        if (v == null) return null;
        if (v instanceof String s) return s;
        throw new UserInputException("reward." + key + " must be a string, got " + describe(v));
    }

    private static List<String> strings(Map<String, ?> m, String key) {
        Object v = m.get(key);
        if (v == null) return null;
        if (v instanceof List<?> l && !l.isEmpty()) {
            List<String> out = new ArrayList<>(l.size());
            for (Object o : l) {
                if (!(o instanceof String s) || s.isEmpty())
                    throw new UserInputException("reward." + key + " must be a non-empty list of strings; element "
                            + out.size() + " is " + describe(o));
                out.add(s);
            }
            return out;
        }
        throw new UserInputException("reward." + key + " must be a non-empty list of strings, got " + describe(v)
                + (v instanceof String ? " (give the argv as a list, e.g. [\"python3\", \"score.py\"]: no shell is used)" : ""));
    }

    private static String describe(Object v) {
        if (v == null) return "null";
        String kind = v instanceof String ? "string" : v instanceof Number ? "number" : v instanceof Boolean ? "boolean"
                : v instanceof List ? "list" : v instanceof Map ? "object" : v.getClass().getSimpleName();
        String s = v instanceof String ? "\"" + v + "\"" : String.valueOf(v);
        if (s.length() > 40) s = s.substring(0, 37) + "...";
        return kind + " " + s;
    }
}
