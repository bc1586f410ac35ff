package io.pref4j.reward;

import io.pref4j.UserInputException;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The factory and the config section: each type, and one message naming the field for each mistake. */
class RewardSourcesTest {

    static String error(Runnable r) {
        return assertThrows(UserInputException.class, r::run).getMessage();
    }

    static RewardConfig parse(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return RewardConfig.fromMap(m);
    }

    @Test
    void createsEachProgrammaticType() {
        Completion c = Completion.ofIds(new int[]{1}, new int[]{70, 70, 70});
        assertArrayEquals(new double[]{-3}, RewardSources.create(RewardConfig.of("min_length"), null, null).score(List.of(c)));
        assertArrayEquals(new double[]{-2}, RewardSources.create(RewardConfig.modeLength(5), null, null).score(List.of(c)));
        assertArrayEquals(new double[]{-1}, RewardSources.create(parse("type", "target_length", "target", 2), null, null).score(List.of(c)));
        assertArrayEquals(new double[]{1}, RewardSources.create(RewardConfig.of("bandit_r1"), null, null).score(List.of(c)));
        assertArrayEquals(new double[]{Math.exp(-25)}, RewardSources.create(RewardConfig.of("bandit_r2"), null, null).score(List.of(c)), 1e-20);
        RewardSource ext = RewardSources.create(parse("type", "external", "command", List.of("cat")), null, null);
        assertInstanceOf(ExternalReward.class, ext);
        assertEquals(30, parse("type", "external", "command", List.of("cat")).timeoutOrDefault());
        assertEquals(Map.of("type", "external", "command", List.of("cat"), "timeout_s", 30.0),
                parse("type", "external", "command", List.of("cat")).toMap());
    }

    @Test
    void badConfigsNameTheField() {
        assertEquals("reward.command must be a non-empty list of strings, got string \"python3 score.py\""
                        + " (give the argv as a list, e.g. [\"python3\", \"score.py\"]: no shell is used)",
                error(() -> parse("type", "external", "command", "python3 score.py")));
        assertTrue(error(() -> parse("type", "external", "command", List.of())).startsWith("reward.command must be a non-empty list of strings"));
        assertTrue(error(() -> parse("type", "external", "command", List.of("python3", 3))).contains("element 1 is number 3"));
        assertTrue(error(() -> RewardSources.create(RewardConfig.external(List.of(), 1), null, null))
                .startsWith("reward.command must be a non-empty list of strings"));
        assertEquals("reward: unknown key 'comand' (expected one of: type, mode, target, model, command, timeout_s)",
                error(() -> parse("type", "external", "comand", List.of("x"))));
        assertTrue(error(() -> parse("mode", 3)).startsWith("reward.type is required"));
        assertEquals("reward.type must be one of min_length, mode_length, target_length, bandit_r1, bandit_r2, learned, external; got 'max_length'",
                error(() -> RewardSources.create(RewardConfig.of("max_length"), null, null)));
        assertTrue(error(() -> RewardSources.create(RewardConfig.of("mode_length"), null, null)).startsWith("reward.mode is required for type mode_length"));
        assertEquals("reward.mode must be an integer, got number 2.5", error(() -> parse("type", "mode_length", "mode", 2.5)));
        assertEquals("reward.mode must be >= 0, got -1", error(() -> RewardSources.create(RewardConfig.modeLength(-1), null, null)));
        assertTrue(error(() -> RewardSources.create(RewardConfig.of("target_length"), null, null)).startsWith("reward.target is required"));
        assertEquals("reward.mode does not apply to type min_length",
                error(() -> RewardSources.create(parse("type", "min_length", "mode", 3), null, null)));
        assertEquals("reward.timeout_s must be a number, got string \"10\"", error(() -> parse("type", "external", "timeout_s", "10")));
        assertEquals("reward.timeout_s must be a number > 0, got 0.0",
                error(() -> RewardSources.create(RewardConfig.external(List.of("cat"), 0), null, null)));
        assertTrue(error(() -> RewardSources.create(RewardConfig.of("learned"), null, null)).startsWith("reward.model is required for type learned"));
        assertEquals("reward.model must be a string, got number 3", error(() -> parse("type", "learned", "model", 3)));
    }
}
