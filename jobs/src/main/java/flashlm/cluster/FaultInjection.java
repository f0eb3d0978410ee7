package flashlm.cluster;

import java.io.Serializable;

/**
 * A test hook: rank {@code rank} throws {@link InjectedFault} at its {@code step}-th optimizer
 * update of the run's first attempt, as a crashing task would. Set with the Spark setting (or the
 * driver thread's local property) {@value #KEY}{@code =RANK:STEP}; absent in real runs.
 *
 * @param rank the rank that fails
 * @param step the update (1-based, counted from the attempt's start) at which it fails
 */
record FaultInjection(int rank, long step) implements Serializable {
  static final String KEY = "spark.flashlm.test.failAt";

  /** The hook {@code RANK:STEP}, or null when {@code value} is null. */
  static FaultInjection of(String value) {
    if (value == null) {
      return null;
    }
    String v = value.trim();
    if (!v.matches("\\d+:[1-9]\\d*")) {
      throw new IllegalArgumentException(KEY + " must be RANK:STEP (e.g. 1:5), got '" + v + "'");
    }
    int colon = v.indexOf(':');
    return new FaultInjection(Integer.parseInt(v.substring(0, colon)),
        Long.parseLong(v.substring(colon + 1)));
  }

  /** The failure a {@link FaultInjection} causes. */
  static final class InjectedFault extends RuntimeException {
    private static final long serialVersionUID = 1L;

    InjectedFault(String message) {
      super(message);
    }
  }
}
