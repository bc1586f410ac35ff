package io.pref4j.experiment.length;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Line charts of the experiments' curves (mean over seeds with error bars = standard deviation), written as PNG. */
final class Charts {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private Charts() {}

    /** One curve: x, mean y, and the spread of y (may be null). */
    record Series(double[] x, double[] y, double[] err) {}

    static void write(Path png, String title, String xTitle, String yTitle, Map<String, Series> series) {
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        var st = chart.getStyler();
        st.setLegendPosition(Styler.LegendPosition.InsideSE);
        st.setChartBackgroundColor(Color.WHITE);
        st.setPlotBackgroundColor(Color.WHITE);
        st.setPlotGridLinesColor(new Color(225, 225, 225));
        st.setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        st.setAntiAlias(true);
        st.setErrorBarsColorSeriesColor(true);
        for (var e : series.entrySet()) {
            Series s = e.getValue();
            XYSeries xy = s.err() != null ? chart.addSeries(e.getKey(), s.x(), s.y(), s.err()) : chart.addSeries(e.getKey(), s.x(), s.y());
            xy.setMarker(SeriesMarkers.CIRCLE);
        }
        try {
            Files.createDirectories(png.toAbsolutePath().getParent());
            BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException(png + ": cannot write plot: " + e.getMessage(), e);
        }
    }

    /** Mean and standard deviation over seeds of curves sampled at the same points. */
    static Series meanCurve(List<double[]> xs, List<double[]> ys) {
        int n = xs.stream().mapToInt(a -> a.length).min().orElse(0);
        double[] x = new double[n], y = new double[n], err = new double[n];
        for (int i = 0; i < n; i++) {
            double[] xi = new double[xs.size()], yi = new double[ys.size()];
            for (int s = 0; s < xs.size(); s++) {
                xi[s] = xs.get(s)[i];
                yi[s] = ys.get(s)[i];
            }
            x[i] = Stats.mean(xi);
            y[i] = Stats.mean(yi);
            err[i] = Stats.std(yi);
        }
        return new Series(x, y, xs.size() > 1 ? err : null);
    }

    static Map<String, Series> ordered() {
        return new LinkedHashMap<>();
    }
}
