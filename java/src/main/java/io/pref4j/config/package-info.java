/**
 * Typed configs: records with {@link io.pref4j.config.Doc} on every component and a static
 * {@code defaults()}, bound from JSON and {@code --set key=value} overrides by
 * {@link io.pref4j.config.Configs}, range-checked by each record's {@code validate()}
 * ({@link io.pref4j.config.Check}). {@link io.pref4j.config.TrainConfig} is the training
 * engine's config; docs/config.md is generated from it by {@link io.pref4j.config.ConfigDoc}.
 */
package io.pref4j.config;
