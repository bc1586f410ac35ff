package io.pref4j.config;

import io.pref4j.UserInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** TRL's argument names as config aliases, and the TRL/HF AdamW default. */
class TrlAliasesTest {

    @Test
    void trlNamesSetTheirKeysFromAFileAndFromSet(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("grpo.json");
        Files.writeString(f, """
                {"learning_rate": 1e-6, "num_generations": 8, "num_iterations": 2, "beta": 0.04,
                 "loss_type": "dr_grpo", "epsilon": 0.3, "epsilon_high": 0.28, "scale_rewards": "batch",
                 "importance_sampling_level": "sequence", "max_prompt_length": 256, "max_completion_length": 100,
                 "per_device_train_batch_size": 4, "gradient_accumulation_steps": 3,
                 "loss": {"type": "grpo"}, "loop": {"iterations": 7}}
                """);
        TrainConfig c = TrainConfig.load(f, List.of());
        assertEquals(1e-6, c.optim().lr());
        assertEquals(8, c.loop().responsesPerPrompt());
        assertEquals(2, c.loop().reuse());
        assertEquals(7, c.loop().iterations(), "a section beside the aliases keeps its keys");
        assertEquals(0.04, c.loss().beta());
        assertEquals("dr_grpo", c.loss().lossType());
        assertEquals(0.3, c.loss().epsilon());
        assertEquals(0.28, c.loss().epsilonHigh());
        assertEquals("batch", c.loss().scaleRewards());
        assertEquals("sequence", c.loss().importanceSamplingLevel());
        assertEquals(256, c.data().maxPromptLength());
        assertEquals(100, c.sampling().maxNewTokens());
        assertEquals(4, c.loop().minibatch());
        assertEquals(3, c.loop().gradAccum());

        TrainConfig s = TrainConfig.load(null, List.of("num_generations=5", "learning_rate=3e-4"));
        assertEquals(5, s.loop().responsesPerPrompt());
        assertEquals(3e-4, s.optim().lr());
    }

    @Test
    void anAliasAndItsKeyTogetherAreAnError(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("both.json");
        Files.writeString(f, "{\"learning_rate\": 1e-6, \"optim\": {\"lr\": 1e-5}}");
        UserInputException e = assertThrows(UserInputException.class, () -> TrainConfig.load(f, List.of()));
        assertTrue(e.getMessage().contains("learning_rate is another name for optim.lr"), e.getMessage());
    }

    @Test
    void adamwBeta2FollowsTrl() {
        assertEquals(0.999, TrainConfig.defaults().optim().beta2());
        assertEquals(0.9, TrainConfig.defaults().optim().beta1());
    }
}
