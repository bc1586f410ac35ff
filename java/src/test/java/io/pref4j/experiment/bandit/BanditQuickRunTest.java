package io.pref4j.experiment.bandit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pref4j.kernel.cpu.CpuKernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The robust part of SPEC 6.1 at the --quick size over three seeds: on R1 (the reward's peak
 * where π_ref puts little mass) on-policy best-of-N ends clearly above offline best-of-N at
 * equal reward queries. Margin: the mean final reward over the seeds must differ by at least
 * 0.3 (measured: about 1.0 against 0.3).
 */
class BanditQuickRunTest {

    @Test
    void onPolicyBestOfNBeatsOfflineBestOfNOnR1(@TempDir Path dir) throws Exception {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        BanditReport rep;
        try (CpuKernels k = new CpuKernels(2)) {
            rep = BanditExperiment.runCategorical(k, Size.QUICK, 0, 3,
                    BanditCommands.filter("onpolicy-bon,offline-bon"), new PrintStream(log));
        }
        BanditExperiment.write(rep, dir, "bandit", new PrintStream(log));
        BanditReport.Row on = rep.row("onpolicy-bon", Reward.R1);
        BanditReport.Row off = rep.row("offline-bon@1000", Reward.R1);
        assertEquals(on.method().queries(), off.method().queries(), "equal reward queries");
        assertEquals(3, on.runs().size());
        assertTrue(on.mean() >= off.mean() + 0.3,
                "on-policy best-of-N " + on.mean() + " vs offline " + off.mean() + "\n" + log);

        JsonNode s = new ObjectMapper().readTree(dir.resolve("summary.json").toFile());
        assertEquals("bandit", s.get("experiment").asText());
        assertEquals(4, s.get("results").size()); // 2 settings × 2 rewards
        JsonNode first = s.get("results").get(0);
        assertEquals(3, first.get("final_reward").get("per_seed").size());
        assertEquals(first.get("queries").size(), first.get("reward_per_round").size());
        assertTrue(Files.size(dir.resolve("bandit_r1.png")) > 1000);
        assertTrue(Files.size(dir.resolve("bandit_r2.png")) > 1000);
    }
}
