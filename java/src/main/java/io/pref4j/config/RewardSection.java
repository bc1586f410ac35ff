package io.pref4j.config;

import java.util.List;

/** Placeholder for the reward-source config. */
@Doc("The reward source (SPEC §4).")
public record RewardSection(
        @Doc("Reward: min_length, mode_length, target_length, a learned reward model, or command.") String type,
        @Doc("For type = command: the program and its arguments, run without a shell; it reads JSONL {\"prompt\", \"response\"} on stdin and prints one number per line.") List<String> command) {

    public static RewardSection defaults() {
        return new RewardSection("min_length", List.of());
    }

    void validate() {
        Check.notBlank("type", type);
        Check.that(!type.equals("command") || !command.isEmpty(), "command",
                "must name a program when reward.type = command, e.g. [\"python3\", \"score.py\"]");
    }
}
