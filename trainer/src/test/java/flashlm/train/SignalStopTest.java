package flashlm.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.dist.Collective;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.hadoop.util.ShutdownHookManager;
import org.junit.jupiter.api.Test;

/**
 * The shutdown hook's waiting, run on a thread here (a real JVM shutdown is tested in
 * flashlm.tests.train.TrainSignalTest): it requests the stop, waits for the training to end and
 * no longer, and a run that ended removes it.
 */
class SignalStopTest {
  /** Slack for thread scheduling on a busy machine. */
  private static final long SLACK_MS = 2_000;

  @Test
  void hookRequestsTheStopAndReturnsWhenTrainingEnds() throws Exception {
    List<String> log = new CopyOnWriteArrayList<>();
    SignalStop s = SignalStop.install(Duration.ofMinutes(1), log::add);
    assertTrue(ShutdownHookManager.get().hasShutdownHook(s.hook()));
    assertFalse(s.requested(Collective.single()));
    Thread hook = new Thread(s.hook());
    hook.start();
    long deadline = System.nanoTime() + SLACK_MS * 1_000_000;
    while (!s.requested(Collective.single())) {
      assertTrue(System.nanoTime() < deadline, "the hook did not request a stop");
      Thread.sleep(5);
    }
    Thread.sleep(50);
    assertTrue(hook.isAlive(), "the hook must wait for the step and checkpoint in flight");
    s.close();
    hook.join(SLACK_MS);
    assertFalse(hook.isAlive(), "the hook still waits after the training ended");
    assertFalse(ShutdownHookManager.get().hasShutdownHook(s.hook()));
    assertEquals(List.of(), log);
    s.close(); // idempotent
  }

  @Test
  void hookWaitsNoLongerThanSignalWait() throws Exception {
    List<String> log = new CopyOnWriteArrayList<>();
    SignalStop s = SignalStop.install(Duration.ofMillis(200), log::add);
    try {
      long t0 = System.nanoTime();
      s.hook().run(); // training never ends
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(ms >= 200 && ms < 200 + SLACK_MS, ms + " ms");
      assertEquals(1, log.size());
      assertTrue(log.get(0).contains("did not finish within checkpoint.signal_wait"), log.get(0));
    } finally {
      s.close();
    }
  }

  @Test
  void afterTheEndTheHookReturnsAtOnce() {
    SignalStop s = SignalStop.install(Duration.ofMinutes(1), m -> {});
    s.close();
    long t0 = System.nanoTime();
    s.hook().run(); // a shutdown that starts after the run ended
    assertTrue((System.nanoTime() - t0) / 1_000_000 < SLACK_MS);
    assertFalse(SignalStop.NONE.requested(Collective.single()));
  }
}
