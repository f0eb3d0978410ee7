package flashlm.train;

import java.nio.FloatBuffer;

/**
 * What data-parallel ranks share each step, called between backward and update. Every rank makes
 * the same calls in the same order. {@link #single()} is the one-process implementation; the
 * barrier-stage ring allreduce implements the same interface.
 */
public interface Collective extends AutoCloseable {
  int rank();

  int worldSize();

  /** Replaces {@code grads} (all of it) with the mean over ranks. */
  void allreduceMean(FloatBuffer grads);

  /** The mean of a scalar over ranks (losses, for logging). */
  double allreduceMean(double value);

  /** Idempotent. */
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
      public void close() {}
    };
  }
}
