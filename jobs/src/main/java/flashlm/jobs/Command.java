package flashlm.jobs;

import org.apache.spark.sql.SparkSession;

/** One job of the launcher. Implementations are stateless; {@link Commands} lists them. */
public interface Command {
  /** The name typed after {@code bin/flashlm}. */
  String name();

  /** One line for the usage listing. */
  String summary();

  /** The {@code spark-submit --class} of this job. */
  String mainClass();

  /** The config file used when {@code --conf} is not given (relative to the working directory). */
  String defaultConf();

  /** Whether the job needs a SparkSession ({@code run} gets null otherwise). */
  default boolean usesSpark() {
    return true;
  }

  /** Runs the job. Throws on failure; the launcher reports the error. */
  void run(CommandLine args, SparkSession spark) throws Exception;
}
