package flashlm.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.geom.Ellipse2D;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** Line charts as PNG (JFreeChart, headless) and the data behind them as CSV. */
final class Charts {
  static final int WIDTH = 900;
  static final int HEIGHT = 420;
  private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0xd62728),
      new Color(0x2ca02c), new Color(0x9467bd)};

  static {
    // no display here, on a cluster node or in CI: AWT must draw off screen
    if (System.getProperty("java.awt.headless") == null) {
      System.setProperty("java.awt.headless", "true");
    }
  }

  /**
   * One series: points (x[i], y[i]); {@code markers} draws each point as a dot (few points, such
   * as evaluations), else a line.
   */
  record Series(String name, double[] x, double[] y, boolean markers) {}

  private Charts() {}

  /** The chart as PNG bytes. */
  static byte[] png(String title, String xLabel, String yLabel, List<Series> series) {
    XYSeriesCollection data = new XYSeriesCollection();
    for (Series s : series) {
      XYSeries xy = new XYSeries(s.name(), false, true);
      for (int i = 0; i < s.x().length; i++) {
        xy.add(s.x()[i], s.y()[i]);
      }
      data.addSeries(xy);
    }
    JFreeChart chart = ChartFactory.createXYLineChart(title, xLabel, yLabel, data,
        PlotOrientation.VERTICAL, series.size() > 1, false, false);
    chart.setBackgroundPaint(Color.WHITE);
    XYPlot plot = chart.getXYPlot();
    plot.setBackgroundPaint(Color.WHITE);
    plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
    plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
    XYLineAndShapeRenderer r = new XYLineAndShapeRenderer();
    for (int i = 0; i < series.size(); i++) {
      boolean markers = series.get(i).markers();
      r.setSeriesPaint(i, COLORS[i % COLORS.length]);
      r.setSeriesStroke(i, new BasicStroke(1.6f));
      r.setSeriesLinesVisible(i, !markers || series.get(i).x().length > 1);
      r.setSeriesShapesVisible(i, markers);
      r.setSeriesShape(i, new Ellipse2D.Double(-3.5, -3.5, 7, 7));
    }
    plot.setRenderer(r);
    if (plot.getRangeAxis() instanceof org.jfree.chart.axis.NumberAxis axis) {
      axis.setAutoRangeIncludesZero(false);
    }
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ChartUtils.writeChartAsPNG(out, chart, WIDTH, HEIGHT);
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot draw " + title + ": " + e.getMessage(), e);
    }
  }

  /** The points of every series: {@code series,x,y}, one line each. */
  static String csv(String xName, String yName, List<Series> series) {
    StringBuilder b = new StringBuilder("series," + xName + "," + yName + "\n");
    for (Series s : series) {
      for (int i = 0; i < s.x().length; i++) {
        b.append(s.name()).append(',').append(num(s.x()[i])).append(',').append(num(s.y()[i]))
            .append('\n');
      }
    }
    return b.toString();
  }

  private static String num(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v)
        : String.format(Locale.ROOT, "%.6g", v);
  }
}
