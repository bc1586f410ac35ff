package io.pref4j.reward;

import java.util.List;

/**
 * Scores completions: one reward per completion, in order (SPEC §4). Implementations:
 * the programmatic rewards ({@link LengthRewards}, {@link BanditRewards}, any
 * {@link RewardFunction}), a learned Bradley–Terry model ({@link LearnedReward}) and an
 * external command ({@link ExternalReward}). {@link RewardSources#create} builds one from a
 * config. A source may hold resources (a model, a process), hence {@link AutoCloseable}.
 */
public interface RewardSource extends AutoCloseable {

    /** A short name for logs and metrics, e.g. {@code min_length}. */
    String name();

    /** The rewards of the batch, {@code result[i]} for {@code batch.get(i)}. */
    double[] score(List<Completion> batch);

    @Override
    default void close() {
    }
}
