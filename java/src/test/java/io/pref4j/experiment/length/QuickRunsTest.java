package io.pref4j.experiment.length;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The --quick runs of both commands, asserting only what is robust at CI size: on Min
 * Length, on-policy DPO ends above π_ref's gold reward; OPTune regenerates fewer prompts per
 * iteration at smaller ρ (a count, not a timing). Both share one output folder so π_ref is
 * pretrained once.
 */
class QuickRunsTest {

    @TempDir
    static Path dir;

    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void onPolicyDpoBeatsTheReferenceOnMinLength() throws Exception {
        int status = new CommandLine(new LengthExperiment()).execute("--quick", "--seeds", "1", "--tasks", "min",
                "--methods", "onpolicy-dpo,offline-dpo", "--no-sweep", "--out", dir.toString());
        assertEquals(0, status);
        JsonNode s = JSON.readTree(dir.resolve("summary.json").toFile());
        JsonNode min = s.get("tasks").get("min");
        double ref = min.get("reference_gold").get("mean").asDouble();
        JsonNode dpo = min.get("methods").get("onpolicy-dpo");
        double fin = dpo.get("final_gold").get("mean").asDouble();
        assertTrue(fin > ref, "on-policy DPO " + fin + " vs π_ref " + ref);
        assertTrue(dpo.get("reward_queries").asDouble() > 0);
        assertEquals(dpo.get("curve").get("gold_mean").size(), dpo.get("curve").get("iteration").size());
        assertTrue(Files.size(dir.resolve("length-min.png")) > 1000);
        assertTrue(min.get("dataset_overlap_with_ref").get("mean").asDouble() > 0.5);
    }

    @Test
    void optuneRegeneratesFewerPromptsAtSmallerRho() throws Exception {
        Path out = dir; // the same folder: π_ref is cached there
        int status = new CommandLine(new OptuneExperiment()).execute("--quick", "--seeds", "1", "--out", out.toString());
        assertEquals(0, status);
        JsonNode m = JSON.readTree(out.resolve("summary.json").toFile()).get("methods");
        double full = m.get("optune-rho1.0").get("regenerated_per_iteration").asDouble();
        double half = m.get("optune-rho0.5").get("regenerated_per_iteration").asDouble();
        double third = m.get("optune-rho0.3").get("regenerated_per_iteration").asDouble();
        double dpo = m.get("online-dpo").get("regenerated_per_iteration").asDouble();
        assertEquals(dpo, full, 1e-9, "ρ = 1 regenerates every prompt, like online DPO");
        assertTrue(half < full, half + " vs " + full);
        assertTrue(third < half, third + " vs " + half);
        assertTrue(m.get("optune-rho0.5").get("reward_queries").asDouble() < m.get("online-dpo").get("reward_queries").asDouble());
        assertTrue(Files.size(out.resolve("optune-wall-split.png")) > 1000);
    }
}
