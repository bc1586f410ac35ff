package io.pref4j.train.run;

import io.pref4j.io.AtomicFiles;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The PNG of a run's curves: reward on top, loss below, step on the x axis, drawn from
 * {@code metrics.jsonl} with XChart in headless mode and written atomically (temporary file
 * + rename), so a viewer never sees half a picture. Steps whose value is missing, null or
 * non-finite are skipped.
 */
public final class Plot {

    static {
        // Before any AWT class loads: no display is needed (servers, CI).
        System.setProperty("java.awt.headless", "true");
    }

    /** Name of the file in a run folder. */
    public static final String FILE = "curves.png";

    /**
     * What to draw.
     *
     * @param width  image width in pixels
     * @param height image height in pixels (the two panels share it)
     * @param title  title above the top panel
     * @param top    metric keys drawn in the top panel (those present in the data)
     * @param bottom metric keys drawn in the bottom panel
     */
    public record Options(int width, int height, String title, List<String> top, List<String> bottom) {
        public Options {
            if (width < 100 || height < 100) {
                throw new IllegalArgumentException("plot size must be at least 100x100, got " + width + "x" + height);
            }
            top = List.copyOf(top);
            bottom = List.copyOf(bottom);
        }

        /** 900×700, reward (and gold/eval reward when logged) over loss. */
        public static Options defaults(String title) {
            return new Options(900, 700, title, List.of("reward", "reward_mean", "gold_reward", "eval_reward"), List.of("loss"));
        }
    }

    private Plot() {
    }

    /** Plots {@code metrics} (a metrics.jsonl) into {@code png} with the default options. */
    public static void write(Path metrics, Path png) {
        write(MetricsLog.read(metrics), png, Options.defaults(String.valueOf(metrics.toAbsolutePath().getParent()
                .getFileName())));
    }

    /** Plots metric rows into {@code png}. */
    public static void write(List<ObjectNode> rows, Path png, Options o) {
        int topH = o.height() / 2;
        // rewards usually rise and losses fall: keep each legend out of its curves' way
        var top = panel(rows, o.top(), o.width(), topH, o.title(), "reward",
                org.knowm.xchart.style.Styler.LegendPosition.InsideSE);
        var bottom = panel(rows, o.bottom(), o.width(), o.height() - topH, null, "loss",
                org.knowm.xchart.style.Styler.LegendPosition.InsideNE);
        java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(o.width(), o.height(),
                java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = img.createGraphics();
        try {
            g.setColor(java.awt.Color.WHITE);
            g.fillRect(0, 0, o.width(), o.height());
            g.drawImage(org.knowm.xchart.BitmapEncoder.getBufferedImage(top), 0, 0, null);
            g.drawImage(org.knowm.xchart.BitmapEncoder.getBufferedImage(bottom), 0, topH, null);
        } finally {
            g.dispose();
        }
        try {
            AtomicFiles.replace(png, ch -> {
                OutputStream out = java.nio.channels.Channels.newOutputStream(ch);
                if (!javax.imageio.ImageIO.write(img, "png", out)) throw new IOException("no PNG writer");
                out.flush();
            });
        } catch (IOException e) {
            throw new UncheckedIOException(png + ": cannot write plot: " + e.getMessage(), e);
        }
    }

    private static org.knowm.xchart.XYChart panel(List<ObjectNode> rows, List<String> keys, int w, int h,
                                                  String title, String yTitle,
                                                  org.knowm.xchart.style.Styler.LegendPosition legend) {
        var chart = new org.knowm.xchart.XYChartBuilder().width(w).height(h)
                .title(title == null ? "" : title).xAxisTitle("step").yAxisTitle(yTitle).build();
        var st = chart.getStyler();
        st.setLegendPosition(legend);
        st.setChartBackgroundColor(java.awt.Color.WHITE);
        st.setPlotBackgroundColor(java.awt.Color.WHITE);
        st.setPlotGridLinesColor(new java.awt.Color(225, 225, 225));
        st.setDefaultSeriesRenderStyle(org.knowm.xchart.XYSeries.XYSeriesRenderStyle.Line);
        st.setAntiAlias(true);
        int added = 0;
        for (String k : keys) {
            List<double[]> pts = points(rows, k);
            if (pts.isEmpty()) continue;
            double[] x = new double[pts.size()], y = new double[pts.size()];
            for (int i = 0; i < x.length; i++) {
                x[i] = pts.get(i)[0];
                y[i] = pts.get(i)[1];
            }
            var s = chart.addSeries(k, x, y);
            s.setMarker(x.length > 50 ? org.knowm.xchart.style.markers.SeriesMarkers.NONE
                    : org.knowm.xchart.style.markers.SeriesMarkers.CIRCLE);
            added++;
        }
        if (added == 0) {
            // XChart needs a series to draw axes; an invisible one says "no data" in the legend.
            var s = chart.addSeries("no " + String.join("/", keys) + " yet", new double[]{0}, new double[]{0});
            s.setMarker(org.knowm.xchart.style.markers.SeriesMarkers.NONE);
        }
        return chart;
    }

    /** (step, value) pairs of one key, skipping missing, null and non-finite values. */
    static List<double[]> points(List<ObjectNode> rows, String key) {
        List<double[]> out = new ArrayList<>();
        for (ObjectNode r : rows) {
            JsonNode s = r.get(MetricsLog.STEP), v = r.get(key);
            if (s == null || !s.isNumber() || v == null || !v.isNumber()) continue;
            double d = v.doubleValue();
            if (Double.isFinite(d)) out.add(new double[]{s.doubleValue(), d});
        }
        return out;
    }
}
