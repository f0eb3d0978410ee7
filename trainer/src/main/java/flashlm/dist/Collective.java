package flashlm.dist;

import java.nio.FloatBuffer;

/**
 * What data-parallel ranks share: called by the trainer between backward and update, and for
 * the decisions every rank must take alike (stop, decay window, evaluation size, checkpoint
 * positions). Every rank makes the same calls in the same order, one call at a time. {@link
 * #single()} is the one-process implementation; {@link RingCollective} connects ranks over TCP
 * (see {@link Collectives} for the backends).
 *
 * <p>Results are deterministic: for a given world size, every rank gets the same bits, in every
 * run. A call that cannot complete (a peer died, hangs, or made another call) throws, naming the
 * peer's rank and address where the backend knows them, within the backend's timeout.
 */
public interface Collective extends AutoCloseable {
  /** This rank, 0 to {@code worldSize() - 1}. */
  int rank();

  /** The number of ranks. */
  int worldSize();

  /**
   * Replaces {@code grads} (all of its capacity, from index 0; a direct buffer in native order)
   * with the mean over ranks: the ring's deterministic sum, then times {@code 1 / worldSize}.
   */
  void allreduceMean(FloatBuffer grads);

  /** The mean of a scalar over ranks (losses, for logging). */
  double allreduceMean(double value);

  /** The maximum of a scalar over ranks: agreement (a stop requested on any rank). */
  double allreduceMax(double value);

  /** Rank 0's value, on every rank. */
  long broadcast(long value);

  /** Rank 0's value, on every rank. */
  double broadcast(double value);

  /** Returns on each rank only after every rank has entered it. */
  void barrier();

  /**
   * Every rank's value, in rank order (element {@code r} is rank r's), on every rank. The
   * default takes each value in two exact halves of 32 bits through {@link #allreduceMax} (two
   * calls per rank); implementations do it in one call.
   */
  default long[] allGather(long value) {
    long[] out = new long[worldSize()];
    for (int r = 0; r < out.length; r++) {
      boolean mine = r == rank();
      long high = (long) allreduceMax(mine ? value >>> 32 : -1);
      long low = (long) allreduceMax(mine ? value & 0xFFFFFFFFL : -1);
      out[r] = high << 32 | low;
    }
    return out;
  }

  /** Releases the connections; idempotent. */
  @Override
  void close();

  /** One process: every reduction is the identity. */
  static Collective single() {
    return new Collective() {
      @Override
      public int rank() {
        return 0;
      }

      @Override
      public int worldSize() {
        return 1;
      }

      @Override
      public void allreduceMean(FloatBuffer grads) {}

      @Override
      public double allreduceMean(double value) {
        return value;
      }

      @Override
      public double allreduceMax(double value) {
        return value;
      }

      @Override
      public long broadcast(long value) {
        return value;
      }

      @Override
      public double broadcast(double value) {
        return value;
      }

      @Override
      public void barrier() {}

      @Override
      public long[] allGather(long value) {
        return new long[] {value};
      }

      @Override
      public void close() {}
    };
  }
}
