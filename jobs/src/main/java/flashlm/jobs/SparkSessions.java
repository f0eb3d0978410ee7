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
    return settings(appName, master, System.getenv("SPARK_LOCAL_IP"),
        new SparkConf().contains("spark.ui.enabled"));
  }

  /**
   * {@link #settings(String, String)} for a JVM whose {@code SPARK_LOCAL_IP} is {@code localIp}
   * and where the user did or did not set {@code spark.ui.enabled} themselves.
   */
  static Map<String, String> settings(String appName, String master, String localIp,
      boolean uiChosen) {
    Map<String, String> conf = new LinkedHashMap<>();
    conf.put("spark.app.name", appName);
    conf.put("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension");
    conf.put("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog");
    conf.put("spark.executorEnv.OPT_OUT_TRACKING", "true");
    // Spark already runs one task per core: the tokenizer's own thread pool would oversubscribe.
    conf.put("spark.executorEnv.TOKENIZERS_PARALLELISM", "false");
    conf.put("spark.executor.extraJavaOptions", JvmFlags.offline());
    String chosen = master != null ? master : masterChosen() ? null : "local[*]";
    if (chosen != null) {
      conf.put("spark.master", chosen);
    }
    if (chosen != null && chosen.startsWith("local")) {
      // Embedded Spark on one machine: stay on loopback (a machine whose hostname resolves to
      // loopback makes Spark pick another interface otherwise), and keep Delta's per-job
      // overheads small (its default of 50 snapshot partitions costs seconds per commit).
      conf.put("spark.driver.host", "127.0.0.1");
      conf.put("spark.driver.bindAddress", "127.0.0.1");
      int cores = Runtime.getRuntime().availableProcessors();
      conf.put("spark.sql.shuffle.partitions", Integer.toString(Math.max(2, 2 * cores)));
      conf.put("spark.databricks.delta.snapshotPartitions", "2");
      conf.put("spark.ui.showConsoleProgress", "false");
      if (!uiChosen && !isLoopback(localIp)) {
        // Spark's UI binds to SPARK_LOCAL_IP, else to every interface, and cannot be told
        // otherwise from inside the JVM: without a loopback SPARK_LOCAL_IP (bin/flashlm sets
        // one) an embedded job runs without a UI rather than publish it to the network.
        conf.put("spark.ui.enabled", "false");
      }
    }
    return conf;
  }

  /** Whether {@code ip} names this machine's loopback interface only. */
  static boolean isLoopback(String ip) {
    return ip != null && (ip.equals("localhost") || ip.equals("::1") || ip.startsWith("127."));
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
