package flashlm.dist;

import flashlm.jni.NativeException;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.time.Duration;

/**
 * One rank of a ring as a process, for {@link RingProcessesTest}. It meets the others through a
 * {@link DirRendezvous} and prints one line per result to stdout:
 *
 * <pre>
 * java ... flashlm.dist.RingRank DIR RANK WORLD TIMEOUT_MS sizes N,N,...
 *     "size N hash H" per size (rank 0 checks the values against the float64 mean first:
 *     "bad size N: ..." and exit 1 if off)
 * java ... flashlm.dist.RingRank DIR RANK WORLD TIMEOUT_MS loop
 *     1M-float allreduces until one fails: "running" after two, then
 *     "failed MILLIS CODE MESSAGE" and exit 3
 * </pre>
 *
 * A test source, not a test.
 */
public final class RingRank {
  /** The seed of the inputs; the thread tests use the same. */
  static final long SEED = 7;

  private RingRank() {}

  public static void main(String[] args) {
    Path dir = Path.of(args[0]);
    int rank = Integer.parseInt(args[1]);
    int world = Integer.parseInt(args[2]);
    Duration timeout = Duration.ofMillis(Long.parseLong(args[3]));
    try (RingCollective c = RingCollective.connect(new DirRendezvous(dir, rank, world), rank,
        world, RankThreads.SECRET, "127.0.0.1", timeout)) {
      if (args[4].equals("sizes")) {
        for (String size : args[5].split(",")) {
          int n = Integer.parseInt(size);
          FloatBuffer x = AllreduceCase.inputs(rank, n, SEED);
          c.allreduceMean(x);
          String bad = rank == 0 ? AllreduceCase.check(x, world, SEED) : null;
          if (bad != null) {
            System.out.println("bad size " + n + ": " + bad);
            System.exit(1);
          }
          System.out.println("size " + n + " hash " + AllreduceCase.hash(x));
        }
      } else {
        FloatBuffer x = AllreduceCase.inputs(rank, 1 << 20, 3);
        for (int calls = 0; ; calls++) {
          if (calls == 2) {
            System.out.println("running");
          }
          try {
            c.allreduceMean(x);
          } catch (NativeException e) {
            System.out.println("failed " + System.currentTimeMillis() + " " + e.code() + " "
                + e.getMessage());
            System.exit(3);
          }
        }
      }
    }
  }
}
