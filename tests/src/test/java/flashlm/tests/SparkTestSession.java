package flashlm.tests;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.sql.SparkSession;

/**
 * One embedded SparkSession per test JVM, with Delta and the settings that keep Delta tests fast
 * (STACK.md pitfall 4) and Spark on loopback (pitfall 10). Tests never stop it.
 */
public final class SparkTestSession {
  private static SparkSession session;

  private SparkTestSession() {}

  /** The shared session, created on first use. */
  public static synchronized SparkSession get() {
    if (session == null) {
      session = builder("local[2]").getOrCreate();
      session.sparkContext().setLogLevel("WARN");
    }
    return session;
  }

  /**
   * A builder with this session's settings on another master (benchmarks use {@code local[*]}).
   */
  public static SparkSession.Builder builder(String master) {
    Path warehouse = tempDir("spark-warehouse");
    return SparkSession.builder()
        .appName("flashlm-tests")
        .master(master)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.databricks.delta.snapshotPartitions", "1")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.warehouse.dir", warehouse.toUri().toString())
        .config("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s")
        .config("spark.executorEnv.OPT_OUT_TRACKING", "true")
        .config("spark.executorEnv.TOKENIZERS_PARALLELISM", "false");
  }

  private static Path tempDir(String name) {
    try {
      return Files.createTempDirectory(name);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
