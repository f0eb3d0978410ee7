package flashlm.tests.train;

import static flashlm.tests.train.SmokeSequences.assertSameBits;
import static flashlm.tests.train.SmokeSequences.bits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import flashlm.jobs.JvmFlags;
import flashlm.train.CheckpointDir;
import flashlm.train.StopReason;
import flashlm.train.Trainer;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code flashlm train} in a child JVM (the launcher's main, as bin/flashlm runs it): SIGTERM in
 * the middle of training finishes the step, writes a checkpoint, says so and exits with 143; a
 * run that ends normally exits 0 at once (the hook does not hold it up); and {@code --resume}
 * from the signal's checkpoint ends bit for bit where the uninterrupted run ends.
 */
class TrainSignalTest {
  private static final int STEPS = 100;
  /** Steps the child logs before it gets SIGTERM. */
  private static final int SIGNAL_AFTER = 3;
  private static final long CHILD_TIMEOUT_S = 120;
  private static final Pattern STEP = Pattern.compile("step (\\d+)/" + STEPS + " \\|.*");
  private static final Pattern STOPPED = Pattern.compile(
      "train: stopping on signal: checkpoint step (\\d+) written to (\\S+)");

  @TempDir Path dir;

  /** A started child and the lines it printed so far. */
  private record Child(Process process, Thread reader, List<String> lines,
      CountDownLatch signalPoint) {
    String output() {
      synchronized (lines) {
        return String.join("\n", lines);
      }
    }
  }

  private Child start(String run) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"),
        "-Xmx1g", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
        "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"),
        "flashlm.jobs.Launcher", "train", "--conf", "../conf/v7-smoke.json"));
    cmd.addAll(1, JvmFlags.forJava(Runtime.version().feature()));
    for (String o : SmokeSequences.overrides(dir.resolve(run).toString(),
        dir.resolve(run + ".jsonl"), "max_steps=" + STEPS, "checkpoint.every=1000")) {
      cmd.add("--set");
      cmd.add(o);
    }
    // OMP_NUM_THREADS and the rest of the environment are the test JVM's: the same thread
    // count, so the same bits
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    List<String> lines = new ArrayList<>();
    CountDownLatch signalPoint = new CountDownLatch(1);
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
          StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          synchronized (lines) {
            lines.add(line);
          }
          Matcher m = STEP.matcher(line);
          if (m.matches() && Integer.parseInt(m.group(1)) >= SIGNAL_AFTER) {
            signalPoint.countDown();
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }, "child-" + run);
    reader.setDaemon(true);
    reader.start();
    return new Child(p, reader, lines, signalPoint);
  }

  private static int exit(Child c) throws InterruptedException {
    if (!c.process().waitFor(CHILD_TIMEOUT_S, TimeUnit.SECONDS)) {
      c.process().destroyForcibly();
      throw new AssertionError("the child did not exit within " + CHILD_TIMEOUT_S + " s:\n"
          + c.output());
    }
    c.reader().join(TimeUnit.SECONDS.toMillis(CHILD_TIMEOUT_S)); // the last lines
    return c.process().exitValue();
  }

  /** The last record of a metrics file (JSON lines). */
  private static JsonNode lastRecord(Path metrics) throws IOException {
    List<String> lines = Files.readAllLines(metrics);
    return new ObjectMapper().readTree(lines.get(lines.size() - 1));
  }

  @Test
  void sigtermCheckpointsTheStepInFlightAndResumeContinuesExactly() throws Exception {
    SmokeSequences.table(); // before the clock starts: the first call builds it with Spark
    long start = System.nanoTime();

    Child whole = start("whole");
    assertEquals(0, exit(whole), whole.output());
    JsonNode stop = lastRecord(dir.resolve("whole.jsonl"));
    assertEquals("stop", stop.get("type").asText(), whole.output());
    assertEquals(StopReason.MAX_STEPS.id(), stop.get("reason").asText(), whole.output());
    assertEquals(STEPS, stop.get("step").asLong(), whole.output());

    Child cut = start("cut");
    assertTrue(cut.signalPoint().await(CHILD_TIMEOUT_S, TimeUnit.SECONDS),
        "no step " + SIGNAL_AFTER + " logged:\n" + cut.output());
    long t0 = System.nanoTime();
    // SIGTERM. Through the handle: Process.destroy() sends the same signal but also closes the
    // pipe of the child's output, whose last lines this test reads.
    assertTrue(cut.process().toHandle().destroy());
    int status = exit(cut);
    double exitSeconds = (System.nanoTime() - t0) / 1e9;
    String out = cut.output();
    assertEquals(143, status, "exit status after SIGTERM (128 + 15):\n" + out);
    Matcher m = STOPPED.matcher(out);
    assertTrue(m.find(), "no 'stopping on signal' line:\n" + out);
    int step = Integer.parseInt(m.group(1));
    assertTrue(step >= SIGNAL_AFTER && step < STEPS, "stopped at step " + step + ":\n" + out);
    Configuration conf = new Configuration();
    CheckpointDir cutDir = new CheckpointDir(conf, dir.resolve("cut").toString());
    assertEquals(cutDir.path(step), m.group(2));
    assertEquals(List.of(cutDir.path(step)), cutDir.list());
    assertTrue(
        out.contains("step " + step + "/" + STEPS + " |"), "the last step is logged:\n" + out);
    assertTrue(!out.contains("step " + (step + 1) + "/" + STEPS + " |"), "a step after the stop:\n"
        + out);
    System.out.printf("signal: SIGTERM after step %d logged, exit %d %.2f s later: %s%n",
        SIGNAL_AFTER, status, exitSeconds, m.group());

    ByteArrayOutputStream console = new ByteArrayOutputStream();
    Trainer.Result rest = Trainer.builder(SmokeSequences.config(dir.resolve("cut").toString(),
            dir.resolve("cut.jsonl"), "max_steps=" + STEPS, "checkpoint.every=1000"))
        .optResume(true).optOut(new PrintStream(console, true)).build().run();
    assertTrue(
        console.toString().contains("resumed from " + cutDir.path(step) + " at step " + step),
        console.toString());
    assertEquals(STEPS, rest.steps());
    String wholeCheckpoint = new CheckpointDir(conf, dir.resolve("whole").toString()).path(STEPS);
    assertSameBits(bits(conf, wholeCheckpoint), bits(conf, rest.checkpoint()),
        "uninterrupted vs resumed after SIGTERM at step " + step);
    System.out.printf("signal: two child JVMs and the resume took %.1f s%n",
        (System.nanoTime() - start) / 1e9);
  }
}
