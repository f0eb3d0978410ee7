package flashlm.dist;

import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * A {@link Rendezvous} for ranks that are threads of one JVM: each rank's {@link #forRank} view
 * blocks in {@code allGather} until every rank has arrived, as Spark's barrier tasks do.
 * Reusable: a second round waits until every rank has read the first.
 */
public final class LocalRendezvous {
  private static final long WAIT_SECONDS = 120;

  private final String[] messages;
  private final CyclicBarrier arrived;
  private final CyclicBarrier read;
  private volatile List<String> gathered;

  /** {@code onGathered} (may be null) sees every round's messages before any rank gets them. */
  public LocalRendezvous(int world, Consumer<List<String>> onGathered) {
    messages = new String[world];
    arrived = new CyclicBarrier(world, () -> {
      gathered = List.of(messages.clone());
      if (onGathered != null) {
        onGathered.accept(gathered);
      }
    });
    read = new CyclicBarrier(world);
  }

  public LocalRendezvous(int world) {
    this(world, null);
  }

  /** Rank {@code rank}'s side. */
  public Rendezvous forRank(int rank) {
    return message -> {
      messages[rank] = message;
      await(arrived);
      List<String> all = gathered;
      await(read);
      return all;
    };
  }

  private static void await(CyclicBarrier b) {
    try {
      b.await(WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted in the rendezvous", e);
    } catch (BrokenBarrierException | TimeoutException e) {
      throw new IllegalStateException("the rendezvous broke: a rank did not arrive", e);
    }
  }
}
