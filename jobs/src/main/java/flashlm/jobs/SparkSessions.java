package flashlm.jobs;

import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/**
 * Builds the SparkSession every job runs in: Delta enabled, DJL kept offline in every executor,
 * and, when no master was chosen by {@code spark-submit}, embedded Spark on this machine.
 */
public final class SparkSessions {
  /** JVM options that keep DJL offline (STACK.md pitfall 1); also set by bin/flashlm. */
  public static final String OFFLINE_JAVA_OPTIONS = "-DOPT_OUT_TRACKING=true -Dai.djl.offline=true";

  private SparkSessions() {}

  /** True when spark-submit (or a test) has already chosen a master. */
  static boolean masterChosen() {
    return new SparkConf().contains("spark.master");
  }

  /**
   * The settings this project needs in every session; {@code master} null means keep what
   * spark-submit chose, or {@code local[*]} when nothing chose.
   */
  public static Map<String, String> settings(String appName, String master) {
    Map<String, String> conf = new LinkedHashMap<>();
    conf.put("spark.app.name", appName);
    conf.put("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension");
    conf.put("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog");
    conf.put("spark.executorEnv.OPT_OUT_TRACKING", "true");
    // Spark already runs one task per core: the tokenizer's own thread pool would oversubscribe.
    conf.put("spark.executorEnv.TOKENIZERS_PARALLELISM", "false");
    conf.put("spark.executor.extraJavaOptions", OFFLINE_JAVA_OPTIONS);
    String chosen = master != null ? master : masterChosen() ? null : "local[*]";
    if (chosen != null) {
      conf.put("spark.master", chosen);
    }
    if (chosen != null && chosen.startsWith("local")) {
      // Embedded Spark on one machine: stay on loopback (STACK.md pitfall 10), keep the
      // per-job overheads small (pitfall 4).
      conf.put("spark.driver.host", "127.0.0.1");
      conf.put("spark.driver.bindAddress", "127.0.0.1");
      int cores = Runtime.getRuntime().availableProcessors();
      conf.put("spark.sql.shuffle.partitions", Integer.toString(Math.max(2, 2 * cores)));
      conf.put("spark.databricks.delta.snapshotPartitions", "2");
      conf.put("spark.ui.showConsoleProgress", "false");
    }
    return conf;
  }

  /** Gets or creates the session with {@link #settings}. */
  public static SparkSession getOrCreate(String appName, String master) {
    SparkSession.Builder builder = SparkSession.builder();
    for (Map.Entry<String, String> e : settings(appName, master).entrySet()) {
      builder.config(e.getKey(), e.getValue());
    }
    return builder.getOrCreate();
  }
}
