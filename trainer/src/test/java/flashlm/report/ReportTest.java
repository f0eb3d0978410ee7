package flashlm.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import javax.imageio.ImageIO;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportTest {
  @TempDir
  Path dir;

  private void metrics(int trainRecords, int evalRecords) throws Exception {
    List<String> lines = new ArrayList<>();
    lines.add("{\"type\":\"attempt\",\"attempt\":1,\"step\":0}");
    for (int i = 1; i <= trainRecords; i++) {
      lines.add(String.format(Locale.ROOT, "{\"type\":\"train\",\"step\":%d,\"loss\":%.3f,"
          + "\"lr\":%.5f,\"grad_norm\":%.3f,\"tokens\":%d,\"tokens_per_s\":%.1f,"
          + "\"elapsed_s\":%.1f}", 10 * i, 6.0 / i, 0.001 * i, 1.0 + i % 3, 4096 * i,
          1000.0 + 10 * i, 2.0 * i));
      if (i % (trainRecords / evalRecords) == 0) {
        lines.add(String.format(Locale.ROOT, "{\"type\":\"eval\",\"step\":%d,\"val_loss\":%.3f,"
            + "\"tokens\":%d}", 10 * i, 6.5 / i, 4096 * i));
      }
    }
    lines.add("not json: kept by the trainer, skipped here");
    lines.add("{\"type\":\"stop\",\"step\":" + 10 * trainRecords + ",\"reason\":\"time_budget\","
        + "\"loss\":0.5,\"checkpoint\":\"ckpt-1.flm\"}");
    Files.write(dir.resolve("metrics.jsonl"), lines);
  }

  /** Distinct colours, and pixels that are neither white nor grey (the series' lines). */
  private static int[] colours(Path png) throws Exception {
    BufferedImage img = ImageIO.read(png.toFile());
    assertEquals(Charts.WIDTH, img.getWidth());
    assertEquals(Charts.HEIGHT, img.getHeight());
    Set<Integer> seen = new HashSet<>();
    int coloured = 0;
    for (int y = 0; y < img.getHeight(); y++) {
      for (int x = 0; x < img.getWidth(); x++) {
        int rgb = img.getRGB(x, y) & 0xffffff;
        seen.add(rgb);
        int r = rgb >> 16;
        int g = (rgb >> 8) & 0xff;
        int b = rgb & 0xff;
        if (Math.max(r, Math.max(g, b)) - Math.min(r, Math.min(g, b)) > 60) {
          coloured++;
        }
      }
    }
    return new int[] {seen.size(), coloured};
  }

  @Test
  void aRunsReportHasRealPlotsOfItsMetricsAndItsSample() throws Exception {
    metrics(40, 4);
    Files.writeString(dir.resolve("sample.txt"), "Once upon a time <b>Tom</b> & a cat ran.");
    Files.writeString(dir.resolve("config.json"), "{\"model\": {\"arch\": \"ffn\"}}");
    Report.Result r = Report.write(new Configuration(), dir.toString());

    assertEquals(List.of("loss", "lr", "tokens_per_s", "grad_norm"),
        r.charts().stream().map(Report.Chart::name).toList());
    for (Report.Chart c : r.charts()) {
      assertEquals(40, c.points(), c.name());
      int[] col = colours(Path.of(c.png()));
      assertTrue(col[0] > 10 && col[1] > 200, c.name() + ": " + col[0] + " colours, " + col[1]
          + " coloured pixels: not a plot");
    }
    List<String> loss = Files.readAllLines(dir.resolve("report/loss.csv"));
    assertEquals(1 + 40 + 4, loss.size());
    assertEquals("train,4096,6", loss.get(1));
    assertEquals(4, loss.stream().filter(l -> l.startsWith("validation,")).count());
    String html = Files.readString(dir.resolve("report.html"));
    assertEquals(4, html.split("data:image/png;base64,", -1).length - 1);
    assertTrue(html.contains("&lt;b&gt;Tom&lt;/b&gt; &amp; a cat"), "sample escaped");
    assertTrue(html.contains("time_budget at step 400"));
    assertTrue(r.sample());
    assertEquals(0, r.evals());
  }

  @Test
  void aRunWithoutRecordsStillGetsAPageSayingSo() throws Exception {
    Report.Result r = Report.write(new Configuration(), dir.toString());
    assertTrue(r.charts().isEmpty());
    assertFalse(r.sample());
    assertTrue(Files.readString(Path.of(r.html())).contains("No training records"));
  }
}
