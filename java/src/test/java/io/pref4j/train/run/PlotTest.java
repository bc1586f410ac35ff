package io.pref4j.train.run;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class PlotTest {

    @TempDir
    Path dir;

    static boolean isPng(byte[] b) {
        byte[] sig = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        if (b.length < sig.length) return false;
        for (int i = 0; i < sig.length; i++) if (b[i] != sig[i]) return false;
        return true;
    }

    @Test
    void writesAPngOfRewardAndLoss() throws IOException {
        Path metrics = dir.resolve("metrics.jsonl");
        try (MetricsLog log = MetricsLog.create(metrics)) {
            for (int s = 1; s <= 80; s++) {
                log.log(s, Map.of("reward", -50.0 + s * 0.5, "loss", s == 40 ? Double.NaN : Math.exp(-s / 20.0)));
            }
        }
        Path png = dir.resolve("out/curves.png");
        Plot.write(metrics, png);
        byte[] bytes = Files.readAllBytes(png);
        assertTrue(isPng(bytes));
        BufferedImage img = ImageIO.read(png.toFile());
        assertNotNull(img);
        assertEquals(900, img.getWidth());
        assertEquals(700, img.getHeight());
        // something was drawn in both panels: not a blank image
        assertTrue(distinctColors(img, 0, 350) > 3);
        assertTrue(distinctColors(img, 350, 700) > 3);
        try (Stream<Path> s = Files.list(png.getParent())) {
            assertEquals(List.of("curves.png"), s.map(p -> p.getFileName().toString()).toList()); // no temp left
        }
        // rewritten in place (atomic replace of an existing file)
        Plot.write(MetricsLog.read(metrics), png, new Plot.Options(400, 300, "t", List.of("reward"), List.of("loss")));
        BufferedImage small = ImageIO.read(png.toFile());
        assertEquals(400, small.getWidth());
        assertEquals(300, small.getHeight());
    }

    @Test
    void emptyMetricsStillGiveAValidPng() throws IOException {
        Path png = dir.resolve("empty.png");
        Plot.write(List.<ObjectNode>of(), png, Plot.Options.defaults("nothing yet"));
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(900, img.getWidth());
    }

    @Test
    void pointsSkipMissingAndNonFiniteValues() throws IOException {
        Path metrics = dir.resolve("m.jsonl");
        try (MetricsLog log = MetricsLog.create(metrics)) {
            log.log(1, Map.of("loss", 1.0));
            log.log(2, Map.of("loss", Double.NaN));
            log.log(3, Map.of("reward", 2.0));
            log.log(4, Map.of("loss", 0.5));
        }
        List<double[]> pts = Plot.points(MetricsLog.read(metrics), "loss");
        assertEquals(2, pts.size());
        assertArrayEquals(new double[]{4, 0.5}, pts.get(1));
    }

    static int distinctColors(BufferedImage img, int y0, int y1) {
        java.util.Set<Integer> c = new java.util.HashSet<>();
        for (int y = y0; y < y1; y += 3) for (int x = 0; x < img.getWidth(); x += 3) c.add(img.getRGB(x, y));
        return c.size();
    }
}
