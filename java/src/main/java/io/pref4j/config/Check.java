package io.pref4j.config;

import java.util.Collection;

/**
 * Range checks for config records' {@code validate()} methods. Each throws an
 * {@link InvalidValueException} naming the key (relative to the record) and the value:
 * <pre>{@code
 * public void validate() {
 *     Check.atLeast("reuse", reuse, 1);
 *     Check.between("mixing", mixing, 0, 1);
 * }
 * }</pre>
 */
public final class Check {
    private Check() {
    }

    /** Fails with {@code key problem} unless {@code ok}. */
    public static void that(boolean ok, String key, String problem) {
        if (!ok) throw new InvalidValueException(key, problem);
    }

    public static void atLeast(String key, long value, long min) {
        that(value >= min, key, "must be at least " + min + ", got " + value);
    }

    public static void atLeast(String key, double value, double min) {
        that(value >= min, key, "must be at least " + num(min) + ", got " + num(value));
    }

    public static void positive(String key, double value) {
        that(value > 0, key, "must be greater than 0, got " + num(value));
    }

    /** {@code min ≤ value ≤ max}. */
    public static void between(String key, long value, long min, long max) {
        that(value >= min && value <= max, key, "must be between " + min + " and " + max + ", got " + value);
    }

    /** {@code min ≤ value ≤ max}. */
    public static void between(String key, double value, double min, double max) {
        that(value >= min && value <= max, key,
                "must be in [" + num(min) + ", " + num(max) + "], got " + num(value));
    }

    /** {@code min < value ≤ max}. */
    public static void openClosed(String key, double value, double min, double max) {
        that(value > min && value <= max, key,
                "must be in (" + num(min) + ", " + num(max) + "], got " + num(value));
    }

    /** {@code min ≤ value < max}. */
    public static void closedOpen(String key, double value, double min, double max) {
        that(value >= min && value < max, key,
                "must be in [" + num(min) + ", " + num(max) + "), got " + num(value));
    }

    public static void notBlank(String key, String value) {
        that(value != null && !value.isBlank(), key, "must not be empty");
    }

    /** The value must be one of {@code allowed}. */
    public static void oneOf(String key, String value, Collection<String> allowed) {
        if (allowed.contains(value)) return;
        String near = Names.nearest(value == null ? "" : value, allowed);
        throw new InvalidValueException(key, "must be one of " + String.join("|", allowed) + ", got "
                + (value == null ? "null" : "\"" + value + "\"") + (near == null ? "" : " (did you mean " + near + "?)"));
    }

    /** A number as a person writes it: {@code 1}, {@code 0.5}, {@code 1e-08}. */
    static String num(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) return Long.toString((long) v);
        return Double.toString(v);
    }
}
