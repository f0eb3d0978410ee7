package flashlm.dist;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.IntFunction;

/**
 * Runs the ranks of a ring as threads of this JVM, each with its own {@link RingCollective} on
 * loopback (connected, then closed in {@code finally}, as a barrier task does), and reports what
 * each rank returned or threw. Fails the calling test if a rank is still running after {@link
 * #WATCHDOG}: a hang is a failure, not a wait.
 */
public final class RankThreads {
  /** The secret of test rings (32 bytes). */
  public static final byte[] SECRET =
      "flashlm test secret, 32 bytes!!!".getBytes(StandardCharsets.US_ASCII);
  /** Longest a run of ranks may take. */
  public static final Duration WATCHDOG = Duration.ofMinutes(4);

  /** What rank {@code rank} did: its value, or what it threw, and when it ended. */
  public record Outcome<T>(int rank, T value, Throwable error, long endMillis) {
    /** The value, or the rank's error rethrown with the rank named. */
    public T get() {
      if (error != null) {
        throw new AssertionError("rank " + rank + " failed: " + error, error);
      }
      return value;
    }
  }

  /** The work of one rank. */
  @FunctionalInterface
  public interface Body<T> {
    T run(Collective collective) throws Exception;
  }

  private RankThreads() {}

  /** {@code world} ranks on loopback with {@link #SECRET} and the given timeout. */
  public static <T> List<Outcome<T>> ring(int world, Duration timeout, Body<T> body) {
    return ring(world, timeout, r -> SECRET, null, body);
  }

  /**
   * {@code world} ranks on loopback; rank r authenticates with {@code secrets.apply(r)}, and
   * {@code onGathered} (may be null) sees the addresses before the ranks connect.
   */
  public static <T> List<Outcome<T>> ring(int world, Duration timeout, IntFunction<byte[]> secrets,
      Consumer<List<String>> onGathered, Body<T> body) {
    LocalRendezvous rv = new LocalRendezvous(world, onGathered);
    return run(world, r -> RingCollective.connect(rv.forRank(r), r, world, secrets.apply(r),
        "127.0.0.1", timeout), body);
  }

  /** Rank r's collective from {@code connect.apply(r)}, then {@code body}, in thread r. */
  @SuppressWarnings("unchecked")
  public static <T> List<Outcome<T>> run(int world, IntFunction<Collective> connect,
      Body<T> body) {
    Outcome<T>[] out = new Outcome[world];
    List<Thread> threads = new ArrayList<>();
    for (int r = 0; r < world; r++) {
      int rank = r;
      Thread t = new Thread(() -> {
        T value = null;
        Throwable error = null;
        try (Collective c = connect.apply(rank)) {
          value = body.run(c);
        } catch (Throwable e) {
          error = e;
        }
        out[rank] = new Outcome<>(rank, value, error, System.currentTimeMillis());
      }, "rank-" + r);
      t.setDaemon(true);
      threads.add(t);
      t.start();
    }
    long deadline = System.currentTimeMillis() + WATCHDOG.toMillis();
    for (Thread t : threads) {
      try {
        t.join(Math.max(1, deadline - System.currentTimeMillis()));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted", e);
      }
      if (t.isAlive()) {
        throw new AssertionError(t.getName() + " of " + world + " still runs after " + WATCHDOG
            + ": the ranks hang");
      }
    }
    return List.of(out);
  }
}
