package io.pref4j.loss;

import java.util.Map;

/**
 * One loss evaluation: the loss value and its metrics by name, in a stable order (the
 * first is always "loss"). Gradients went into the caller's output buffers.
 */
public record LossResult(double loss, Map<String, Double> metrics) {
    public LossResult {
        metrics = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(metrics));
    }

    public double metric(String name) {
        Double v = metrics.get(name);
        if (v == null) throw new IllegalArgumentException("no metric '" + name + "'; have " + metrics.keySet());
        return v;
    }
}
