package flashlm.tests.train;

import static flashlm.tests.train.SmokeSequences.assertSameBits;
import static flashlm.tests.train.SmokeSequences.bits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.cluster.ClusterTraining;
import flashlm.jobs.JvmFlags;
import flashlm.tests.SparkTestSession;
import flashlm.train.CheckpointDir;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real cluster on this machine: a Spark standalone master and worker started from the Maven
 * jars (child JVMs; the worker's SPARK_HOME is a folder whose jars/ links this JVM's classpath),
 * two one-core executors, and {@code flashlm train --master spark://...} as the driver in a third
 * child JVM, two ranks of conf/v7-smoke.json. Once the first checkpoint is written, one executor
 * process is killed with SIGKILL: the driver runs the stage again on a new executor, every rank
 * resumes from the newest checkpoint, and the run ends with the weights of an uninterrupted
 * two-rank run, bit for bit.
 */
class StandaloneClusterTest {
  private static final int STEPS = 60;
  private static final long TIMEOUT_S = 150;
  private static final Pattern CHECKPOINT = Pattern.compile("checkpoint (\\S+\\.flm)\\s*$",
      Pattern.MULTILINE);

  @TempDir Path dir;
  private final List<Process> started = new ArrayList<>();

  /** The run: two ranks of one thread each, a checkpoint every 10 updates. */
  private static final String[] RUN = {"distributed.world_size=2",
      "distributed.threads_per_rank=1", "max_steps=" + STEPS, "checkpoint.every=10",
      "log.every=10"};

  @Test
  void aRunSurvivesAnExecutorKilledWithSigkillAndEndsBitExact() throws Exception {
    SmokeSequences.table();
    long c0 = System.nanoTime();
    ClusterTraining.Result clean = ClusterTraining.run(SparkTestSession.get(),
        SmokeSequences.config(dir.resolve("clean").toString(), dir.resolve("clean.jsonl"), RUN),
        false, System.out);
    System.out.printf("standalone: the clean run on local[2] took %.1f s%n",
        (System.nanoTime() - c0) / 1e9);
    long t0 = System.nanoTime();
    Path home = sparkHome();
    // The worker finds the executors' jars by the Scala version (without it, it hangs).
    String scalaVersion = scala.util.Properties.versionNumberString()
        .replaceAll("^(\\d+\\.\\d+).*", "$1");
    Map<String, String> env = Map.of("SPARK_HOME", home.toString(),
        "SPARK_SCALA_VERSION", scalaVersion, "SPARK_LOCAL_IP", "127.0.0.1");
    int port = freePort();
    String master = "spark://127.0.0.1:" + port;
    start("master", env, List.of(), "org.apache.spark.deploy.master.Master", "--host",
        "127.0.0.1", "--port", Integer.toString(port), "--webui-port", "0");
    Process worker = start("worker", env, List.of(), "org.apache.spark.deploy.worker.Worker",
        "--host", "127.0.0.1", "--port", "0", "--webui-port", "0", "--cores", "2", "--memory",
        "2g", "--work-dir", dir.resolve("work").toString(), master);
    List<String> args = new ArrayList<>(List.of("flashlm.jobs.Launcher", "train", "--conf",
        "../conf/v7-smoke.json", "--master", master));
    for (String o : SmokeSequences.overrides(dir.resolve("cut").toString(),
        dir.resolve("cut.jsonl"), RUN)) {
      args.add("--set");
      args.add(o);
    }
    Process driver = start("driver", env, List.of("-Dspark.executor.cores=1",
        "-Dspark.cores.max=2", "-Dspark.executor.memory=640m", "-Dspark.ui.enabled=false",
        "-Dspark.driver.host=127.0.0.1", "-Dspark.driver.bindAddress=127.0.0.1",
        "-Dspark.executor.extraClassPath=" + System.getProperty("java.class.path"),
        "-Dspark.scheduler.barrier.maxConcurrentTasksCheck.interval=1s"),
        args.toArray(String[]::new));

    CheckpointDir cut = new CheckpointDir(new Configuration(), dir.resolve("cut").toString());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_S);
    while (cut.list().isEmpty() && driver.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertTrue(!cut.list().isEmpty(), "no checkpoint written:\n" + logs());
    // Rank 0's executor: it is still training (it writes the checkpoints) when the first appears.
    String rank0 = executorOf("rank 0 on ");
    List<ProcessHandle> executors = worker.toHandle().descendants()
        .filter(p -> commandLine(p).contains("CoarseGrainedExecutorBackend")
            && commandLine(p).contains(" --executor-id " + rank0 + " "))
        .toList();
    assertEquals(1, executors.size(), "executor " + rank0 + " of the worker:\n" + logs());
    executors.get(0).destroyForcibly(); // SIGKILL: no hook, no goodbye
    System.out.printf("standalone: SIGKILL to executor %s (pid %d, rank 0) %.1f s after the"
        + " cluster started, checkpoints then %s%n", rank0, executors.get(0).pid(),
        (System.nanoTime() - t0) / 1e9, cut.list());

    assertTrue(driver.waitFor(Math.max(1, (deadline - System.nanoTime()) / 1_000_000_000L),
        TimeUnit.SECONDS), "the driver did not finish:\n" + logs());
    String out = Files.readString(dir.resolve("driver.log"));
    assertEquals(0, driver.exitValue(), logs());
    Matcher failed = Pattern.compile("train: attempt 1 of 4 failed: .*").matcher(out);
    assertTrue(failed.find(), out);
    System.out.println("standalone: " + failed.group());
    assertTrue(out.contains("train: 2 ranks, 2 attempts"), out);
    Matcher m = CHECKPOINT.matcher(out);
    assertTrue(m.find(), out);
    System.out.printf("standalone: the run ended %.1f s after the cluster started%n",
        (System.nanoTime() - t0) / 1e9);
    Configuration conf = new Configuration();
    assertEquals(cut.path(STEPS), m.group(1));
    assertSameBits(bits(conf, clean.result().checkpoint()), bits(conf, m.group(1)),
        "clean 2-rank run vs a standalone run whose executor was killed");
  }

  @AfterEach
  void stopProcesses() {
    for (int i = started.size() - 1; i >= 0; i--) {
      Process p = started.get(i);
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    }
  }

  /** A child JVM on this JVM's classpath, its output in {@code dir/NAME.log}. */
  private Process start(String name, Map<String, String> env, List<String> props,
      String... mainAndArgs) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "-Xmx768m", "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC", "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir")));
    cmd.addAll(1, JvmFlags.forJava(Runtime.version().feature()));
    cmd.addAll(props);
    cmd.addAll(List.of(mainAndArgs));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(dir.resolve(name + ".log").toFile());
    pb.environment().putAll(env);
    Process p = pb.start();
    started.add(p);
    return p;
  }

  /**
   * A SPARK_HOME for the worker: it starts executors with SPARK_HOME/jars on their classpath,
   * and spark.executor.extraClassPath (this JVM's whole classpath) brings the rest, so the
   * folder may be empty.
   */
  private Path sparkHome() throws IOException {
    return Files.createDirectories(dir.resolve("spark-home/jars")).getParent();
  }

  /** The id of the executor whose log has {@code line} (work/APP/ID/stderr). */
  private String executorOf(String line) throws IOException {
    try (Stream<Path> files = Files.walk(dir.resolve("work"))) {
      for (Path f : files.filter(p -> p.getFileName().toString().equals("stderr")).toList()) {
        if (Files.readString(f).contains(line)) {
          return f.getParent().getFileName().toString();
        }
      }
    }
    throw new AssertionError("no executor logged '" + line + "':\n" + logs());
  }

  /** A process's arguments (from /proc: ProcessHandle.Info leaves very long ones out). */
  private static String commandLine(ProcessHandle p) {
    try {
      return Files.readString(Path.of("/proc", Long.toString(p.pid()), "cmdline"))
          .replace('\0', ' ');
    } catch (IOException e) {
      return ""; // gone meanwhile
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** The children's logs and the executors' stdout/stderr, for a failure message. */
  private String logs() {
    StringBuilder b = new StringBuilder();
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".log")
          || p.getFileName().toString().matches("std(out|err)")).sorted(Comparator.naturalOrder())
          .toList()) {
        // without the executors' launch commands, one line of the whole classpath each
        String text = Files.readAllLines(f).stream().filter(l -> l.length() < 2000)
            .collect(java.util.stream.Collectors.joining("\n", "", "\n"));
        b.append("==== ").append(dir.relativize(f)).append('\n')
            .append(text.length() > 6000 ? text.substring(text.length() - 6000) : text);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return b.toString();
  }
}
