package flashlm.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.pipeline.ingest.IngestException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The launcher's exit codes, usage and spark-submit line (no Spark is started here). */
class LauncherTest {
  @TempDir Path dir;
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int launch(String... args) {
    return Launcher.run(null, args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  private String out() {
    return out.toString(StandardCharsets.UTF_8);
  }

  private String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void printSubmitNamesTheJobClassTheJarAndTheArguments() throws Exception {
    Path conf = Files.writeString(dir.resolve("d.yaml"), "data_dir: s3a://b/x\n");
    assertEquals(0, launch("prepare", "--conf", conf.toString(), "--set", "tokenize.seq_len=512",
        "--master", "yarn", "--print-submit"));
    String line = out();
    assertTrue(line.contains("spark-submit"), line);
    assertTrue(line.contains("FLASHLM_HOME="), line);
    assertTrue(line.contains("--class flashlm.jobs.PrepareJob"), line);
    assertTrue(line.contains("--master yarn"), line);
    assertTrue(line.contains("--packages io.delta:delta-spark_2.13:"), line);
    assertTrue(line.contains("flashlm-jobs-spark.jar"), line);
    assertTrue(line.contains("--conf " + conf.toAbsolutePath()), line);
    assertTrue(line.contains("--set tokenize.seq_len=512"), line);
    assertTrue(line.contains("ai.djl.offline=true"), line);
  }

  @Test
  void everyCommandHasAJobClassWithAMain() throws Exception {
    for (Command c : Commands.ALL) {
      Class<?> job = Class.forName(c.mainClass());
      assertEquals(void.class, job.getMethod("main", String[].class).getReturnType(), c.name());
    }
  }

  @Test
  void anUnknownCommandIsAUsageError() {
    assertEquals(2, launch("frobnicate"));
    assertTrue(err().contains("unknown command 'frobnicate'"), err());
  }

  @Test
  void aBadConfigKeyIsAConfigErrorNamingIt() throws Exception {
    Path conf = Files.writeString(dir.resolve("d.yaml"),
        "data_dir: /tmp/x\ntokenize:\n  seq_lenn: 256\n");
    assertEquals(2, launch("tokenize", "--conf", conf.toString()));
    assertTrue(err().contains("seq_lenn") && err().contains("d.yaml"), err());
  }

  @Test
  void aDatasetWithoutADownloadSectionSaysSo() throws Exception {
    Path conf = Files.writeString(dir.resolve("d.yaml"), "data_dir: /tmp/x\n");
    assertEquals(2, launch("download", "--conf", conf.toString()));
    assertTrue(err().contains("no 'download' section"), err());
  }

  @Test
  void helpListsEveryCommand() {
    assertEquals(0, launch("help"));
    for (Command c : Commands.ALL) {
      assertTrue(out().contains(c.name()), c.name());
    }
  }

  @Test
  void aFailureIsDescribedOnceByTheProjectsOwnMessageNotSparksWrapper() {
    RuntimeException wrapped = new RuntimeException("Job aborted due to stage failure: "
        + "at a.b.C(C.java:1) at d.e.F(F.java:2) ...",
        new IngestException("file:/x.txt: invalid UTF-8 at byte offset 5"));
    assertEquals("file:/x.txt: invalid UTF-8 at byte offset 5", Launcher.describe(wrapped));
    assertTrue(!Launcher.isBug(wrapped));
  }

  @Test
  void aProgrammingErrorKeepsItsStackTrace() {
    RuntimeException wrapped = new RuntimeException("task failed", new NullPointerException());
    assertTrue(Launcher.isBug(wrapped));
    assertEquals("the table's seq_len is 128",
        Launcher.describe(new java.util.concurrent.ExecutionException(
            new IllegalArgumentException("the table's seq_len is 128"))));
    assertEquals("tables/x is not a Delta table",
        Launcher.describe(new IllegalArgumentException("tables/x is not a Delta table",
            new java.io.FileNotFoundException("tables/x/_delta_log does not exist"))));
  }
}
