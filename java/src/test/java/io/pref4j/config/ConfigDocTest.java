package io.pref4j.config;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** docs/config.md must be exactly what ConfigDoc generates from the code. */
class ConfigDocTest {

    static final String REGENERATE =
            "mvn -q -B -o -pl java test -Dtest=ConfigDocTest -Dpref4j.updateDocs=true";

    static Path docFile() {
        // surefire runs in java/; the docs live in the repository root
        Path p = Path.of("..", "docs", "config.md");
        return Files.isDirectory(Path.of("..", "docs")) ? p : Path.of("docs", "config.md");
    }

    @Test
    void docsConfigMdIsUpToDate() throws IOException {
        String expected = ConfigDoc.render();
        Path doc = docFile();
        if (Boolean.getBoolean("pref4j.updateDocs")) {
            Files.writeString(doc, expected, StandardCharsets.UTF_8);
        }
        assertTrue(Files.exists(doc), doc.toAbsolutePath() + " is missing; generate it with: " + REGENERATE);
        String actual = Files.readString(doc, StandardCharsets.UTF_8);
        assertEquals(expected, actual, "docs/config.md is out of date with io.pref4j.config; regenerate it with: "
                + REGENERATE);
    }

    @Test
    void everyKeyIsInThePage() {
        String page = ConfigDoc.render();
        for (Configs.KeyInfo k : Configs.describe(TrainConfig.class)) {
            if (k.section()) assertTrue(page.contains("\n## " + k.key() + "\n"), k.key());
            else assertTrue(page.contains("| `" + k.key() + "` | "), k.key());
        }
    }
}
