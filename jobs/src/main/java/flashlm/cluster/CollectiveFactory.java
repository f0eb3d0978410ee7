package flashlm.cluster;

import flashlm.train.Collective;
import flashlm.train.TrainConfig.Distributed.CommBackend;
import java.time.Duration;

/** The one place where a rank's {@link Collective} is made. */
final class CollectiveFactory {
  private CollectiveFactory() {}

  /**
   * Connects rank {@code rank} of {@code world}: one {@code allGather} of the ranks' listening
   * addresses through {@code rendezvous}, connections authenticated with {@code secret} (at least
   * 16 bytes), every call failing after {@code timeout} without progress.
   *
   * @param bindHost the executor's address, where the rank listens until the ring is connected
   */
  static Collective connect(CommBackend backend, Rendezvous rendezvous, int rank, int world,
      byte[] secret, String bindHost, Duration timeout) {
    if (secret.length < 16) {
      throw new IllegalArgumentException("the run's secret has " + secret.length
          + " bytes; at least 16 are needed");
    }
    return StandInCollective.connect(rendezvous, rank, world, bindHost);
  }

  /** Whether {@link #connect} makes ranks that reduce their gradients (false: stand-ins). */
  static boolean reduces() {
    return false;
  }
}
