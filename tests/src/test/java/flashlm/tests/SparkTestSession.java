package flashlm.tests;

import flashlm.jobs.SparkSessions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * One embedded SparkSession per test JVM with the settings every job gets ({@link
 * SparkSessions#settings}), plus those that keep Delta tests fast (one snapshot partition, two
 * shuffle partitions, no UI) and barrier stages quick to schedule. Tests never stop it.
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
    SparkSession.Builder builder = SparkSession.builder();
    for (Map.Entry<String, String> e : SparkSessions.settings("flashlm-tests", master).entrySet()) {
      builder.config(e.getKey(), e.getValue());
    }
    return builder
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.databricks.delta.snapshotPartitions", "1")
        .config("spark.sql.warehouse.dir", warehouse.toUri().toString())
        .config("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s");
  }

  private static Path tempDir(String name) {
    try {
      return Files.createTempDirectory(name);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
