package flashlm.report;

import com.fasterxml.jackson.databind.JsonNode;
import flashlm.fs.AtomicFiles;
import flashlm.fs.HadoopFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * A run's report, drawn from what the run left in its directory (the checkpoint directory):
 *
 * <pre>
 * RUN_DIR/report.html           one self-contained page (charts inlined as PNG data URIs)
 * RUN_DIR/report/NAME.png       each chart: train and validation loss, learning rate, tokens/s,
 *                               gradient norm, all against tokens seen
 * RUN_DIR/report/NAME.csv       the points of each chart (series, x, y)
 * </pre>
 *
 * from {@code RUN_DIR/metrics.jsonl} (or the metrics file given), {@code RUN_DIR/config.json},
 * and when present the {@code RUN_DIR/evals} Delta table ({@code flashlm eval}) and a generated
 * sample, {@code RUN_DIR/sample.txt} ({@code flashlm generate --set out=...}). The trainer writes
 * it when a run ends; {@code flashlm report RUN_DIR} draws it again (after an eval, say). Every
 * file goes through {@link AtomicFiles}, so RUN_DIR may be on any Hadoop filesystem.
 */
public final class Report {
  public static final String HTML = "report.html";
  public static final String CHARTS = "report";
  public static final String SAMPLE = "sample.txt";
  public static final String EVALS = "evals";
  public static final String METRICS = "metrics.jsonl";
  private static final String CONFIG = "config.json";

  /**
   * A chart written.
   *
   * @param name file name without extension
   * @param png the PNG file
   * @param csv the CSV file of its points
   * @param points points of its first series (the train records, for the train charts)
   */
  public record Chart(String name, String png, String csv, int points) {}

  /**
   * What was written.
   *
   * @param html the page
   * @param charts the charts, in page order
   * @param evals rows of the evals table shown
   * @param sample whether a generated sample is shown
   */
  public record Result(String html, List<Chart> charts, int evals, boolean sample) {}

  private Report() {}

  /** Writes the report of {@code runDir} from {@code runDir/metrics.jsonl}. */
  public static Result write(Configuration conf, String runDir) {
    return write(conf, runDir, new Path(runDir, METRICS).toString());
  }

  /** Writes the report of {@code runDir} with the metrics at {@code metrics}. */
  public static Result write(Configuration conf, String runDir, String metrics) {
    RunMetrics m = RunMetrics.read(conf, metrics);
    List<Chart> charts = new ArrayList<>();
    StringBuilder body = new StringBuilder();
    body.append("<h1>FlashLM run report</h1>\n<p class=dim>").append(esc(runDir))
        .append("</p>\n");
    body.append(summary(conf, runDir, m));
    body.append("<h2>Training</h2>\n");
    if (m.train().isEmpty()) {
      body.append("<p>No training records in ").append(esc(metrics)).append(".</p>\n");
    } else {
      List<Charts.Series> loss = new ArrayList<>(List.of(series("train", m.train(),
          RunMetrics.Train::loss, false)));
      if (!m.evals().isEmpty()) {
        loss.add(new Charts.Series("validation", m.evals().stream()
            .mapToDouble(RunMetrics.Eval::tokens).toArray(), m.evals().stream()
            .mapToDouble(RunMetrics.Eval::valLoss).toArray(), true));
      }
      chart(conf, runDir, charts, body, "loss", "Loss", "loss (nats/token)", loss);
      chart(conf, runDir, charts, body, "lr", "Learning rate", "learning rate",
          List.of(series("lr", m.train(), RunMetrics.Train::lr, false)));
      chart(conf, runDir, charts, body, "tokens_per_s", "Throughput", "tokens/s",
          List.of(series("tokens/s", m.train(), RunMetrics.Train::tokensPerSecond, false)));
      chart(conf, runDir, charts, body, "grad_norm", "Gradient norm (before clipping)",
          "grad norm", List.of(series("grad norm", m.train(), RunMetrics.Train::gradNorm,
              false)));
    }
    int evals = evals(conf, runDir, body);
    boolean sample = text(conf, new Path(runDir, SAMPLE).toString(), "Generated sample", body);
    text(conf, new Path(runDir, CONFIG).toString(), "Config", body);
    String html = new Path(runDir, HTML).toString();
    AtomicFiles.write(conf, html, page(body.toString()).getBytes(StandardCharsets.UTF_8));
    return new Result(html, charts, evals, sample);
  }

  private static Charts.Series series(String name, List<RunMetrics.Train> train,
      ToDoubleFunction<RunMetrics.Train> y, boolean markers) {
    return new Charts.Series(name, train.stream().mapToDouble(RunMetrics.Train::tokens).toArray(),
        train.stream().mapToDouble(y).toArray(), markers);
  }

  private static void chart(Configuration conf, String runDir, List<Chart> charts,
      StringBuilder body, String name, String title, String yLabel, List<Charts.Series> s) {
    byte[] png = Charts.png(title, "tokens", yLabel, s);
    String dir = new Path(runDir, CHARTS).toString();
    String pngPath = new Path(dir, name + ".png").toString();
    String csvPath = new Path(dir, name + ".csv").toString();
    AtomicFiles.write(conf, pngPath, png);
    AtomicFiles.write(conf, csvPath, Charts.csv("tokens", name, s)
        .getBytes(StandardCharsets.UTF_8));
    charts.add(new Chart(name, pngPath, csvPath, s.get(0).x().length));
    body.append("<figure><img alt=\"").append(esc(title)).append("\" width=")
        .append(Charts.WIDTH).append(" src=\"data:image/png;base64,")
        .append(Base64.getEncoder().encodeToString(png)).append("\"><figcaption>")
        .append(esc(title)).append(": ").append(s.get(0).x().length).append(" points (")
        .append(CHARTS).append('/').append(name).append(".csv)</figcaption></figure>\n");
  }

  private static String summary(Configuration conf, String runDir, RunMetrics m) {
    StringBuilder b = new StringBuilder("<table class=kv>\n");
    if (!m.train().isEmpty()) {
      RunMetrics.Train last = m.train().get(m.train().size() - 1);
      row(b, "steps", Long.toString(last.step()));
      row(b, "tokens", String.format(Locale.ROOT, "%,d", last.tokens()));
      row(b, "train loss (last record)", String.format(Locale.ROOT, "%.4f", last.loss()));
      row(b, "elapsed", String.format(Locale.ROOT, "%.0f s", last.elapsedSeconds()));
    }
    if (!m.evals().isEmpty()) {
      RunMetrics.Eval e = m.evals().get(m.evals().size() - 1);
      row(b, "validation loss (step " + e.step() + ")", String.format(Locale.ROOT, "%.4f",
          e.valLoss()));
    }
    JsonNode stop = m.stop();
    if (stop != null) {
      row(b, "stopped", stop.path("reason").asText() + " at step " + stop.path("step").asLong());
      row(b, "last checkpoint", stop.path("checkpoint").asText(""));
    }
    row(b, "attempts", Integer.toString(m.attempts()));
    return b.append("</table>\n").toString();
  }

  private static int evals(Configuration conf, String runDir, StringBuilder body) {
    String table = new Path(runDir, EVALS).toString();
    try {
      if (!HadoopFiles.exists(conf, new Path(table, "_delta_log").toString())) {
        return 0;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot look for " + table + ": " + e.getMessage(), e);
    }
    List<Map<String, Object>> rows = EvalRows.read(conf, table);
    body.append("<h2>Evaluations</h2>\n<p class=dim>").append(esc(table))
        .append(": bits per character are the summed loss over the documents' characters"
            + " (Unicode code points), in bits.</p>\n<table>\n<tr>");
    String[] cols = {"step", "table", "table_version", "documents", "tokens", "characters",
        "loss", "ppl", "bpc", "evaluated_at"};
    for (String c : cols) {
      body.append("<th>").append(c).append("</th>");
    }
    body.append("</tr>\n");
    for (Map<String, Object> r : rows) {
      body.append("<tr>");
      for (String c : cols) {
        Object v = r.get(c);
        String s = v instanceof Double d ? String.format(Locale.ROOT, "%.4f", d)
            : v instanceof Long l && !c.equals("step") && !c.equals("table_version")
                ? String.format(Locale.ROOT, "%,d", l) : String.valueOf(v);
        body.append("<td>").append(esc(s)).append("</td>");
      }
      body.append("</tr>\n");
    }
    body.append("</table>\n");
    return rows.size();
  }

  private static boolean text(Configuration conf, String path, String title,
      StringBuilder body) {
    try {
      if (!HadoopFiles.exists(conf, path)) {
        return false;
      }
      String text = new String(HadoopFiles.readAll(conf, path), StandardCharsets.UTF_8);
      body.append("<h2>").append(esc(title)).append("</h2>\n<pre>").append(esc(text))
          .append("</pre>\n");
      return true;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
    }
  }

  private static void row(StringBuilder b, String k, String v) {
    b.append("<tr><th>").append(esc(k)).append("</th><td>").append(esc(v)).append("</td></tr>\n");
  }

  private static String page(String body) {
    return "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        + "<title>FlashLM run report</title><style>"
        + "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}"
        + "table{border-collapse:collapse;margin:1em 0}th,td{padding:.25em .7em;"
        + "border-bottom:1px solid #ddd;text-align:left}.kv th{font-weight:normal;color:#555}"
        + "pre{white-space:pre-wrap;background:#f6f6f6;padding:1em}.dim{color:#777}"
        + "figure{margin:1em 0}figcaption{color:#555;font-size:90%}img{max-width:100%}"
        + "</style></head><body>\n" + body + "</body></html>\n";
  }

  static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace("\"", "&quot;");
  }
}
