package flashlm.jobs;

import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/** Hadoop settings for the jobs that run without a SparkSession (train, export). */
final class HadoopConfs {
  private static final String PREFIX = "spark.hadoop.";

  private HadoopConfs() {}

  /**
   * The default Hadoop configuration (core-site.xml on the classpath, environment credentials)
   * plus every {@code spark.hadoop.*} JVM system property with the prefix removed, as Spark
   * would apply them: {@code spark-submit --conf spark.hadoop.fs.s3a.endpoint=...} and {@code
   * -Dspark.hadoop...} reach the trainer's table reads and checkpoint writes.
   */
  static Configuration fromSystemProperties() {
    Configuration conf = new Configuration();
    for (Map.Entry<Object, Object> e : System.getProperties().entrySet()) {
      String key = e.getKey().toString();
      if (key.startsWith(PREFIX) && key.length() > PREFIX.length()) {
        conf.set(key.substring(PREFIX.length()), e.getValue().toString());
      }
    }
    return conf;
  }
}
