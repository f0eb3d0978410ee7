package flashlm.cluster;

import flashlm.jni.Native;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * A {@link RankPlacement} applied to the calling thread (a Spark task's): its OpenMP thread count
 * and the cpus its threads may run on. Closing restores both, because Spark reuses the thread
 * for other tasks. Pinning is best effort: when the OS refuses it, the rank runs unpinned and the
 * log says why.
 */
final class ThreadPlacement implements AutoCloseable {
  /** The calling thread's status; {@code Cpus_allowed_list} is its affinity. */
  private static final Path SELF = Path.of("/proc/thread-self/status");

  private final int threadsBefore;
  private final int[] cpusBefore;
  private final boolean pinned;
  private boolean closed;

  private ThreadPlacement(int threadsBefore, int[] cpusBefore, boolean pinned) {
    this.threadsBefore = threadsBefore;
    this.cpusBefore = cpusBefore;
    this.pinned = pinned;
  }

  /** Sets the thread count, pins where the placement says so, and logs what it did. */
  static ThreadPlacement apply(RankPlacement p, Consumer<String> log) {
    int threadsBefore = Native.numThreads();
    int[] before = allowedCpus();
    Native.check(Native.setNumThreads(p.threads()), "set the rank's OpenMP threads");
    boolean pinned = false;
    String line = p.describe();
    if (p.cpus().length > 0) {
      if (Native.pinThreads(p.cpus()) == 0) {
        pinned = true;
      } else {
        line = line + " (not pinned: " + Native.lastError() + ")";
      }
    }
    log.accept(line);
    return new ThreadPlacement(threadsBefore, before, pinned);
  }

  /**
   * The cpus the calling thread may run on now, or an empty array when the OS does not say
   * (not Linux).
   */
  static int[] allowedCpus() {
    try {
      for (String line : Files.readAllLines(SELF)) {
        if (line.startsWith("Cpus_allowed_list:")) {
          return NumaTopology.parseCpuList(line.substring(line.indexOf(':') + 1));
        }
      }
    } catch (IOException | RuntimeException e) {
      // no /proc: the topology is planned without the cpuset
    }
    return new int[0];
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    Native.check(Native.setNumThreads(threadsBefore), "restore the task thread's OpenMP threads");
    if (pinned && cpusBefore.length > 0) {
      Native.check(Native.pinThreads(cpusBefore), "restore the task thread's cpus");
    }
  }
}
