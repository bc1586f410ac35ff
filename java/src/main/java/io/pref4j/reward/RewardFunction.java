package io.pref4j.reward;

import java.util.List;
import java.util.Objects;

/**
 * A reward computed by plain Java code from one completion (SPEC §4, "any Java
 * RewardFunction"). {@link #asSource} makes it a {@link RewardSource} that scores a batch
 * one completion at a time.
 */
@FunctionalInterface
public interface RewardFunction {

    /** The reward of one completion. */
    double reward(Completion c);

    /** This function as a reward source named {@code name}. */
    default RewardSource asSource(String name) {
        return of(name, this);
    }

    /** {@code fn} as a reward source named {@code name}. */
    static RewardSource of(String name, RewardFunction fn) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(fn, "fn");
        return new RewardSource() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public double[] score(List<Completion> batch) {
                double[] r = new double[batch.size()];
                for (int i = 0; i < r.length; i++) r[i] = fn.reward(batch.get(i));
                return r;
            }

            @Override
            public String toString() {
                return "RewardSource(" + name + ")";
            }
        };
    }
}
