package flashlm.jobs;

import java.util.Map;
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

  /**
   * An option this command takes after its name, beyond the launcher's own; the launcher keeps
   * it, and its value when it takes one ({@code --version 3} or {@code --version=3}), in {@link
   * CommandLine#rest()} for the command to read.
   *
   * @param name with its dashes, such as {@code --json}
   * @param takesValue whether a value follows it
   */
  record Option(String name, boolean takesValue) {}

  /** The options this command takes beyond the launcher's; default none. */
  default java.util.List<Option> options() {
    return java.util.List.of();
  }

  /** Whether the job needs a SparkSession ({@code run} gets null otherwise). */
  default boolean usesSpark() {
    return true;
  }

  /**
   * Whether this invocation needs a SparkSession; default {@link #usesSpark()}. (train needs
   * one only for a distributed run.) May load the config: a mistake in it is reported here,
   * before Spark starts.
   */
  default boolean usesSpark(CommandLine args) {
    return usesSpark();
  }

  /**
   * The Spark master of this invocation when neither {@code --master} nor spark-submit chose
   * one, or null for {@code local[*]}.
   */
  default String defaultMaster(CommandLine args) {
    return null;
  }

  /**
   * Spark settings the {@code spark-submit} line of this invocation adds to the ones every job
   * gets; default none.
   */
  default Map<String, String> submitSettings(CommandLine args) {
    return Map.of();
  }

  /**
   * Checks the arguments and config before any SparkSession starts, so that a mistake costs no
   * Spark start-up; throws a config or usage error. Default: nothing to check.
   */
  default void check(CommandLine args) {}

  /** Runs the job. Throws on failure; the launcher reports the error. */
  void run(CommandLine args, SparkSession spark) throws Exception;
}
