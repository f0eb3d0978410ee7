package flashlm.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.jni.NativeException;
import flashlm.jni.NativeLoader;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The ring with each rank a JVM of its own ({@link RingRank}), so that a rank can die for real
 * (SIGKILL) or stop answering (SIGSTOP).
 */
class RingProcessesTest {
  /** How long a child may take (JVM start-up on two shared cores included). */
  private static final long CHILD_SECONDS = 180;
  /** How late after a fault (plus the timeout) a rank may fail on a busy machine. */
  private static final long SLACK_MS = 3_000;

  @TempDir
  Path dir;

  private final List<Child> children = new ArrayList<>();

  /** A rank's process and the lines it printed, as they come. */
  private record Child(int rank, Process process, BlockingQueue<String> lines) {
    /** The next line, or "eof" when the process has closed its output. */
    String next() throws InterruptedException {
      String l = lines.poll(CHILD_SECONDS, TimeUnit.SECONDS);
      if (l == null) {
        throw new AssertionError("rank " + rank + " printed nothing for " + CHILD_SECONDS + " s");
      }
      return l;
    }
  }

  @AfterEach
  void killChildren() {
    children.forEach(c -> c.process().destroyForcibly());
  }

  private void start(int world, long timeoutMs, String... mode) throws IOException {
    for (int r = 0; r < world; r++) {
      List<String> cmd = new ArrayList<>(List.of(
          Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-Xmx256m", "-XX:MaxDirectMemorySize=512m", "-XX:TieredStopAtLevel=1",
          "-D" + NativeLoader.PATH_PROPERTY + "=" + NativeLoader.load(),
          "-cp", System.getProperty("java.class.path"), RingRank.class.getName(),
          dir.toString(), String.valueOf(r), String.valueOf(world), String.valueOf(timeoutMs)));
      cmd.addAll(List.of(mode));
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      BlockingQueue<String> lines = new LinkedBlockingQueue<>();
      Thread reader = new Thread(() -> {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(),
            StandardCharsets.UTF_8))) {
          for (String l; (l = in.readLine()) != null; ) {
            lines.add(l);
          }
        } catch (IOException e) {
          lines.add("read error " + e);
        }
        lines.add("eof");
      });
      reader.setDaemon(true);
      reader.start();
      children.add(new Child(r, p, lines));
    }
  }

  /**
   * 2, 3, 4 and 8 processes, sizes 0, 1, 7, not divisible by the world size, and 64 MB: rank 0
   * checks the float64 mean, every rank holds the same bits, and they are the bits the same
   * ranks as threads of one JVM get.
   */
  @ParameterizedTest
  @ValueSource(ints = {2, 3, 4, 8})
  void processesGetTheSameBitsAsThreadsOnEveryRank(int world) throws Exception {
    String sizes = Arrays.stream(RingCollectiveTest.SIZES).mapToObj(String::valueOf)
        .collect(Collectors.joining(","));
    start(world, 60_000, "sizes", sizes);
    long[][] threads = RingCollectiveTest.allreduceSizes(world, RingRank.SEED);
    for (Child c : children) {
      for (int s = 0; s < RingCollectiveTest.SIZES.length; s++) {
        String line = c.next();
        assertEquals("size " + RingCollectiveTest.SIZES[s] + " hash " + threads[0][s], line,
            "rank " + c.rank() + " of " + world + " processes vs threads");
      }
      assertTrue(c.process().waitFor(CHILD_SECONDS, TimeUnit.SECONDS));
      assertEquals(0, c.process().exitValue(), "rank " + c.rank());
    }
  }

  @Test
  void aKilledPeerFailsTheOthersAtOnceNamingIt() throws Exception {
    fault(false);
  }

  @Test
  void aStoppedPeerFailsTheOthersWithinTheTimeoutNamingIt() throws Exception {
    fault(true);
  }

  /**
   * Three ranks in a loop of allreduces; rank 2 is killed (SIGKILL) or stopped (SIGSTOP). The
   * others fail: at once for a kill (the timeout is a minute), within the 2 s timeout for a stop;
   * and a rank that noticed first names rank 2 and its address.
   */
  private void fault(boolean stop) throws Exception {
    int world = 3;
    int victim = 2;
    long timeoutMs = stop ? 2_000 : 60_000;
    start(world, timeoutMs, "loop");
    for (Child c : children) {
      assertEquals("running", c.next(), "rank " + c.rank());
    }
    Child v = children.get(victim);
    long at = System.currentTimeMillis();
    if (stop) {
      new ProcessBuilder("kill", "-STOP", String.valueOf(v.process().pid())).start().waitFor();
    } else {
      v.process().destroyForcibly(); // SIGKILL
    }
    String name = "rank " + victim + " (" + DirRendezvous.message(dir, victim) + ")";
    int named = 0;
    for (Child c : children.subList(0, victim)) {
      String line = c.next();
      String[] f = line.split(" ", 4);
      assertEquals("failed", f[0], "rank " + c.rank() + ": " + line);
      long late = Long.parseLong(f[1]) - at;
      int code = Integer.parseInt(f[2]);
      assertTrue(late <= (stop ? timeoutMs : 0) + SLACK_MS, "rank " + c.rank() + " failed "
          + late + " ms after rank " + victim + " was " + (stop ? "stopped" : "killed"));
      assertTrue(code == NativeException.ECOMM || code == NativeException.ETIMEOUT, line);
      if (f[3].contains(name)) {
        named++;
        assertEquals(stop ? NativeException.ETIMEOUT : NativeException.ECOMM, code, line);
      }
      assertTrue(c.process().waitFor(CHILD_SECONDS, TimeUnit.SECONDS));
      assertEquals(3, c.process().exitValue());
    }
    assertTrue(named > 0, "no rank named " + name);
  }
}
