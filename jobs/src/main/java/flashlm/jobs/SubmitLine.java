package flashlm.jobs;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The {@code spark-submit} line equivalent to a launcher invocation: same job class, same
 * arguments, the runnable jar (Spark and Delta provided by the cluster, Delta through
 * {@code --packages}) and the settings every FlashLM session needs.
 */
final class SubmitLine {
  private SubmitLine() {}

  static String of(Command command, CommandLine cl) {
    List<String> parts = new ArrayList<>();
    // Configs may say ${FLASHLM_HOME}/...; in client mode the driver sees this environment.
    parts.add("FLASHLM_HOME=" + quote(home().toString()) + " spark-submit");
    parts.add("--class " + command.mainClass());
    String master = cl.master() != null ? cl.master() : command.defaultMaster(cl);
    if (master != null) {
      parts.add("--master " + quote(master));
    }
    parts.add("--deploy-mode client");
    parts.add("--packages io.delta:delta-spark_" + JvmFlags.build("scala.binary") + ":"
        + JvmFlags.build("delta.version"));
    for (Map.Entry<String, String> e : SparkSessions.settings("flashlm-" + command.name(), "")
        .entrySet()) {
      if (!e.getKey().equals("spark.master") && !e.getKey().equals("spark.app.name")) {
        parts.add("--conf " + quote(e.getKey() + "=" + e.getValue()));
      }
    }
    for (Map.Entry<String, String> e : command.submitSettings(cl).entrySet()) {
      parts.add("--conf " + quote(e.getKey() + "=" + e.getValue()));
    }
    parts.add("--conf " + quote("spark.driver.extraJavaOptions=" + JvmFlags.offline()));
    parts.add(quote(jarPath()));
    List<String> args = new ArrayList<>();
    args.add("--conf " + quote(cl.confOr(command).toAbsolutePath().normalize().toString()));
    for (String o : cl.overrides()) {
      args.add("--set " + quote(o));
    }
    if (cl.resume()) {
      args.add("--resume");
    }
    for (String r : cl.rest()) {
      args.add(quote(r));
    }
    parts.addAll(args);
    return String.join(" \\\n  ", parts);
  }

  /** The spark-submit jar next to the launcher's classes (jobs/target/flashlm-jobs-spark.jar). */
  private static String jarPath() {
    return home().resolve("jobs/target/flashlm-jobs-spark.jar").normalize().toString();
  }

  /** The checkout the launcher runs from ({@code -Dflashlm.home}, else the working directory). */
  private static Path home() {
    String home = System.getProperty("flashlm.home");
    return (home != null ? Path.of(home) : Path.of("")).toAbsolutePath().normalize();
  }

  /** Quotes for a POSIX shell when needed. */
  static String quote(String s) {
    if (s.matches("[A-Za-z0-9_./:=,@+-]+")) {
      return s;
    }
    return "'" + s.replace("'", "'\\''") + "'";
  }
}
