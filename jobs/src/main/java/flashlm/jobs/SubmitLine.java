package flashlm.jobs;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The {@code spark-submit} line equivalent to a launcher invocation: same job class, same
 * arguments, the runnable jar (Spark and Delta provided by the cluster, Delta through
 * {@code --packages}) and the settings every FlashLM session needs.
 */
final class SubmitLine {
  private SubmitLine() {}

  static String of(Command command, CommandLine cl) {
    Properties build = buildProperties();
    List<String> parts = new ArrayList<>();
    parts.add("spark-submit");
    parts.add("--class " + command.mainClass());
    if (cl.master() != null) {
      parts.add("--master " + quote(cl.master()));
    }
    parts.add("--deploy-mode client");
    parts.add("--packages io.delta:delta-spark_" + build.getProperty("scala.binary") + ":"
        + build.getProperty("delta.version"));
    for (Map.Entry<String, String> e : SparkSessions.settings("flashlm-" + command.name(), "")
        .entrySet()) {
      if (!e.getKey().equals("spark.master") && !e.getKey().equals("spark.app.name")) {
        parts.add("--conf " + quote(e.getKey() + "=" + e.getValue()));
      }
    }
    parts.add("--conf " + quote("spark.driver.extraJavaOptions=" + SparkSessions.OFFLINE_JAVA_OPTIONS));
    parts.add(quote(jarPath()));
    List<String> args = new ArrayList<>();
    Path conf = cl.conf() != null ? cl.conf() : Path.of(command.defaultConf());
    args.add("--conf " + quote(conf.toAbsolutePath().normalize().toString()));
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
    String home = System.getProperty("flashlm.home");
    Path base = home != null ? Path.of(home) : Path.of("").toAbsolutePath();
    return base.resolve("jobs/target/flashlm-jobs-spark.jar").normalize().toString();
  }

  private static Properties buildProperties() {
    Properties p = new Properties();
    try (InputStream in = SubmitLine.class.getResourceAsStream("build.properties")) {
      if (in == null) {
        throw new IllegalStateException("flashlm/jobs/build.properties missing from the jar");
      }
      p.load(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return p;
  }

  /** Quotes for a POSIX shell when needed. */
  static String quote(String s) {
    if (s.matches("[A-Za-z0-9_./:=,@+-]+")) {
      return s;
    }
    return "'" + s.replace("'", "'\\''") + "'";
  }
}
