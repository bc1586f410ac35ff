package io.pref4j.reward;

import io.pref4j.UserInputException;
import io.pref4j.kernel.Kernels;
import io.pref4j.text.Tokenizer;

import java.nio.file.Path;

/** Builds the reward source a {@link RewardConfig} names, validating its fields. */
public final class RewardSources {
    private RewardSources() {
    }

    /**
     * The reward source of {@code cfg}.
     *
     * @param kernels         the backend a learned reward model runs on (only for {@code learned})
     * @param policyTokenizer the tokenizer of the completions' ids; a learned model must use
     *                        the same one (may be null when the caller does not know: the
     *                        check is skipped)
     * @throws UserInputException for a bad or inconsistent config, naming the field
     */
    public static RewardSource create(RewardConfig cfg, Kernels kernels, Tokenizer policyTokenizer) {
        validate(cfg);
        return switch (cfg.type()) {
            case "min_length" -> LengthRewards.minLength();
            case "mode_length" -> LengthRewards.modeLength(cfg.mode());
            case "target_length" -> LengthRewards.targetLength(cfg.target());
            case "bandit_r1" -> BanditRewards.r1Source();
            case "bandit_r2" -> BanditRewards.r2Source();
            case "learned" -> {
                if (kernels == null) throw new IllegalArgumentException("a learned reward needs a Kernels backend");
                LearnedReward r = LearnedReward.load(kernels, Path.of(cfg.model()));
                if (policyTokenizer != null && !policyTokenizer.name().equals(r.tokenizer().name()))
                    throw new UserInputException("reward.model " + cfg.model() + " was trained with the '" + r.tokenizer().name()
                            + "' tokenizer but the policy uses '" + policyTokenizer.name() + "'");
                yield r;
            }
            case "external" -> new ExternalReward(cfg.command(), cfg.timeoutOrDefault());
            default -> throw new AssertionError(cfg.type());
        };
    }

    /** Checks the type and that exactly the fields it uses are set and in range. */
    public static void validate(RewardConfig cfg) {
        if (cfg == null) throw new UserInputException("reward: missing section (expected an object with \"type\")");
        String t = cfg.type();
        if (t == null) throw new UserInputException("reward.type is required (one of: " + String.join(", ", RewardConfig.TYPES) + ")");
        if (!RewardConfig.TYPES.contains(t))
            throw new UserInputException("reward.type must be one of " + String.join(", ", RewardConfig.TYPES) + "; got '" + t + "'");
        allow(t, "mode", cfg.mode() != null, t.equals("mode_length"));
        allow(t, "target", cfg.target() != null, t.equals("target_length"));
        allow(t, "model", cfg.model() != null, t.equals("learned"));
        allow(t, "command", cfg.command() != null, t.equals("external"));
        allow(t, "timeout_s", cfg.timeoutSeconds() != null, t.equals("external"));
        switch (t) {
            case "mode_length" -> {
                if (cfg.mode() == null)
                    throw new UserInputException("reward.mode is required for type mode_length (an integer >= 0: the most frequent"
                            + " response length of the reference policy)");
                if (cfg.mode() < 0) throw new UserInputException("reward.mode must be >= 0, got " + cfg.mode());
            }
            case "target_length" -> {
                if (cfg.target() == null) throw new UserInputException("reward.target is required for type target_length (an integer >= 0)");
                if (cfg.target() < 0) throw new UserInputException("reward.target must be >= 0, got " + cfg.target());
            }
            case "learned" -> {
                if (cfg.model() == null || cfg.model().isBlank())
                    throw new UserInputException("reward.model is required for type learned (a folder written by pref4j train-rm)");
            }
            case "external" -> {
                if (cfg.command() == null || cfg.command().isEmpty() || cfg.command().stream().anyMatch(s -> s == null || s.isEmpty()))
                    throw new UserInputException("reward.command must be a non-empty list of strings (the argv; no shell is used)");
                double s = cfg.timeoutOrDefault();
                if (!(s > 0) || !Double.isFinite(s)) throw new UserInputException("reward.timeout_s must be a number > 0, got " + s);
            }
            default -> { }
        }
    }

    private static void allow(String type, String field, boolean present, boolean used) {
        if (present && !used)
            throw new UserInputException("reward." + field + " does not apply to type " + type);
    }
}
