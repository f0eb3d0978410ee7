package flashlm.jobs;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

/**
 * The JVM flags every JVM of the project gets, and the versions it was built with. The one list
 * is the root {@code pom.xml} ({@code flashlm.jvm.*}); Maven writes it into {@code
 * flashlm/jobs/build.properties}, which this class, {@code bin/flashlm} and the benchmark scripts
 * read, so the launcher, spark-submit lines, executors, tests and benchmarks cannot drift apart.
 */
public final class JvmFlags {
  private static final Properties BUILD = load();

  private JvmFlags() {}

  /** Flags that keep DJL (the tokenizer library) from calling telemetry hosts. */
  public static String offline() {
    return BUILD.getProperty("jvm.offline");
  }

  /** Spark's {@code --add-opens} list and the Netty setting it needs on JDK 17 and newer. */
  public static String opens() {
    return BUILD.getProperty("jvm.opens");
  }

  /** All flags for a JVM of {@code javaVersion} (feature release, e.g. 17 or 25). */
  public static List<String> forJava(int javaVersion) {
    List<String> flags = new ArrayList<>();
    flags.addAll(split(offline()));
    flags.addAll(split(opens()));
    if (javaVersion >= 21) {
      flags.addAll(split(BUILD.getProperty("jvm.jdk21")));
    }
    return flags;
  }

  /** A build property ({@code spark.version}, {@code delta.version}, {@code scala.binary}). */
  static String build(String key) {
    return BUILD.getProperty(key);
  }

  private static List<String> split(String flags) {
    return flags == null || flags.isBlank() ? List.of()
        : Arrays.asList(flags.trim().split("\\s+"));
  }

  private static Properties load() {
    Properties p = new Properties();
    try (InputStream in = JvmFlags.class.getResourceAsStream("build.properties")) {
      if (in == null) {
        throw new IllegalStateException("flashlm/jobs/build.properties missing from the jar");
      }
      p.load(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return p;
  }
}
