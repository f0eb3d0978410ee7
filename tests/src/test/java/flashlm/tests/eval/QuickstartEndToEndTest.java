package flashlm.tests.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import flashlm.tests.SparkTestSession;
import flashlm.tests.fixtures.TinyStoriesFixture;
import flashlm.tests.hub.HubServer;
import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.imageio.ImageIO;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code flashlm quickstart} as the README runs it, shortened to 12 training steps: the report
 * it leaves has real plots of the run's metrics (the right number of points), the evals table
 * has the validation stories' row, and the sample and the packed model are there; with {@code
 * source=hub} it fetches TinyStories' validation file from a loopback hub.
 */
class QuickstartEndToEndTest {
  @TempDir
  Path dir;

  @BeforeAll
  static void home() {
    System.setProperty("FLASHLM_HOME", Path.of("..").toAbsolutePath().normalize().toString());
  }

  @AfterAll
  static void clear() {
    System.clearProperty("FLASHLM_HOME");
  }

  @Test
  void theQuickstartLeavesAReportOfItsRunAnEvalRowAndAStory() throws Exception {
    SparkTestSession.get();
    Path run = dir.resolve("run");
    EvalEndToEndTest.Run r = EvalEndToEndTest.launch("quickstart", "--conf",
        "../conf/quickstart.yaml", "--set", "data_dir=" + dir.resolve("data"), "--set",
        "run_dir=" + run, "--set", "train.max_steps=12", "--set", "train.time_budget=10m",
        "--set", "train.log.every=2", "--set", "train.eval_every=6",
        "--set", "max_new_tokens=30");
    assertEquals(0, r.status(), r.err());
    assertTrue(r.out().contains("<- open this first"), r.out());
    assertTrue(r.out().contains("history of ") && r.err().contains("audit history"), r.out());

    // the run's metrics: 6 train records (every 2 of 12 steps), evaluations at 6 and 12
    long trainRecords = 0;
    for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
      JsonNode n = new ObjectMapper().readTree(line);
      trainRecords += n.path("type").asText().equals("train") ? 1 : 0;
    }
    assertEquals(6, trainRecords);
    for (String chart : List.of("loss", "lr", "tokens_per_s", "grad_norm")) {
      List<String> csv = Files.readAllLines(run.resolve("report/" + chart + ".csv"));
      long points = csv.stream().filter(l -> !l.startsWith("validation,")).count() - 1;
      assertEquals(trainRecords, points, chart);
      BufferedImage img = ImageIO.read(run.resolve("report/" + chart + ".png").toFile());
      Set<Integer> colours = new HashSet<>();
      for (int y = 0; y < img.getHeight(); y += 2) {
        for (int x = 0; x < img.getWidth(); x += 2) {
          colours.add(img.getRGB(x, y));
        }
      }
      assertTrue(colours.size() > 10, chart + ": " + colours.size() + " colours: not a plot");
    }
    assertEquals(2, Files.readAllLines(run.resolve("report/loss.csv")).stream()
        .filter(l -> l.startsWith("validation,")).count());
    String html = Files.readString(run.resolve("report.html"));
    assertTrue(html.contains("Evaluations") && html.contains("Generated sample"), "report");

    List<Row> evals = SparkTestSession.get().read().format("delta")
        .load(run.resolve("evals").toString()).collectAsList();
    assertEquals(1, evals.size());
    long validation = new ObjectMapper().readTree(SparkTestSession.get().read().format("delta")
        .load(dir.resolve("data/sequences").toString()).sparkSession().sql("DESCRIBE HISTORY"
            + " delta.`" + dir.resolve("data/sequences") + "`").first().<String>getAs(
            "userMetadata")).path("counts").path("validation").path("documents").asLong();
    assertEquals(validation, evals.get(0).<Long>getAs("documents"),
        "every validation story the table was built from");
    assertTrue(Files.readString(run.resolve("sample.txt")).startsWith("Once upon a time"));
    assertTrue(Files.size(run.resolve("packed/model.flmpack")) > 500_000);
  }

  @Test
  void withSourceHubTheQuickstartDownloadsTinyStoriesValidationFileOnly() throws Exception {
    try (HubServer hub = HubServer.start()) {
      // both files in the real layout (stories separated by <|endoftext|>)
      hub.repo("roneneldan/TinyStories")
          .addLfsFile(TinyStoriesFixture.VALID,
              TinyStoriesFixture.valid(300_000).getBytes(StandardCharsets.UTF_8))
          .addLfsFile(TinyStoriesFixture.TRAIN,
              TinyStoriesFixture.train(300_000).getBytes(StandardCharsets.UTF_8));
      // the shipped hub data set, pointed at the loopback hub instead of huggingface.co
      String shipped = Files.readString(Path.of("../conf/datasets/quickstart-hub.yaml"));
      assertTrue(shipped.contains("\ndownload:\n"), "the download section moved");
      Path conf = dir.resolve("quickstart-hub.yaml");
      Files.writeString(conf, shipped.replace("\ndownload:\n", "\ndownload:\n  endpoint: "
          + hub.endpoint() + "\n"));
      Path data = dir.resolve("hub-data");
      Path run = dir.resolve("hub-run");
      EvalEndToEndTest.Run r = EvalEndToEndTest.launch("quickstart", "--conf",
          "../conf/quickstart.yaml", "--set", "source=hub", "--set", "datasets.hub=" + conf,
          "--set", "data_dir=" + data, "--set", "run_dir=" + run, "--set", "train.max_steps=4",
          "--set", "train.time_budget=10m", "--set", "train.eval_every=4", "--set",
          "max_new_tokens=10", "--set", "max_documents=20");
      assertEquals(0, r.status(), r.err());
      assertTrue(Files.exists(data.resolve("raw/" + TinyStoriesFixture.VALID)));
      assertFalse(Files.exists(data.resolve("raw/" + TinyStoriesFixture.TRAIN)),
          "the validation file only");
      assertTrue(Files.exists(run.resolve("report.html")));
      assertEquals(20L, SparkTestSession.get().read().format("delta")
          .load(run.resolve("evals").toString()).first().<Long>getAs("documents"),
          r.out() + r.err());
    }
  }
}

