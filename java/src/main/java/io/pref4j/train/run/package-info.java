/**
 * What a training run leaves behind and shows while it runs: atomic, validated checkpoints
 * ({@link io.pref4j.train.run.Checkpoints}), {@code metrics.jsonl} that resumes exactly
 * ({@link io.pref4j.train.run.MetricsLog}), the reward/loss PNG
 * ({@link io.pref4j.train.run.Plot}), the console progress line
 * ({@link io.pref4j.train.run.Progress}) and the stop on a NaN or infinite value
 * ({@link io.pref4j.train.run.NanGuard}, exit status 3).
 */
package io.pref4j.train.run;
