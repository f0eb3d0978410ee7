package flashlm.train;

import flashlm.dist.Collective;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.util.ShutdownHookManager;

/**
 * Turns a request to stop the JVM during training (SIGTERM from a cluster manager, SIGINT from
 * Ctrl-C, SIGHUP, {@code System.exit} elsewhere) into a clean stop: the loop finishes the
 * optimizer step in flight, writes a checkpoint and returns, and only then does the JVM exit, with
 * the status the signal gives (143 for SIGTERM, 130 for SIGINT), as a cluster manager expects of
 * a process it terminated.
 *
 * <p>Why a shutdown hook and not a signal handler ({@code sun.misc.Signal}): a hook is supported
 * API and sees every way the JVM is asked to stop, and it takes no process-wide signal handler
 * away from the code that owns it (a Spark driver, a notebook or a test harness hosting the
 * trainer keeps its own). It is registered with Hadoop's {@link ShutdownHookManager} at a
 * priority above Hadoop's FileSystem hook ({@value FileSystem#SHUTDOWN_HOOK_PRIORITY}), because
 * that hook closes the cached filesystems, the s3a one the checkpoint is written to included; a
 * plain {@code Runtime} hook would race with it. The cost of a hook: the JVM halts as soon as it
 * returns, so the hook must wait for the training thread, at most {@code checkpoint.signal_wait}.
 *
 * <p>No deadlock: the hook waits on a latch that {@link #close} releases, in the trainer's
 * {@code finally} after the last checkpoint and log line, never on a lock or a thread the
 * training holds; {@link #close} never waits on the hook. A run that ends normally removes the
 * hook, and a hook that starts after the end finds the latch released and returns at once. If
 * the wait runs out (a step hung in native code, a slow store), the JVM exits without the new
 * checkpoint; the atomic writes leave the previous one as the newest complete one.
 */
final class SignalStop implements AutoCloseable {
  /** Runs before Hadoop's FileSystem hook (10) and Spark's hooks (40). */
  static final int PRIORITY = FileSystem.SHUTDOWN_HOOK_PRIORITY + 100;
  /** A stop that is never requested: no hook. */
  static final SignalStop NONE = new SignalStop(Duration.ZERO, message -> {});

  private final AtomicBoolean requested = new AtomicBoolean();
  private final CountDownLatch ended = new CountDownLatch(1);
  private final Duration wait;
  private final Consumer<String> log;
  private final Runnable hook = this::onShutdown;

  private SignalStop(Duration wait, Consumer<String> log) {
    this.wait = wait;
    this.log = log;
  }

  /** Registers the hook; {@code log} takes the line written when the wait runs out. */
  static SignalStop install(Duration wait, Consumer<String> log) {
    SignalStop s = new SignalStop(wait, log);
    // Hadoop's own timeout for the hook comes after ours, so that ours decides and says so.
    ShutdownHookManager.get().addShutdownHook(s.hook, PRIORITY, wait.toMillis() + 5_000,
        TimeUnit.MILLISECONDS);
    return s;
  }

  /**
   * Whether a stop was requested on any rank. All ranks must stop after the same step, or the
   * others would wait in the next allreduce forever; so with a hook this costs one scalar
   * allreduce per step.
   */
  boolean requested(Collective collective) {
    return this != NONE && collective.allreduceMax(requested.get() ? 1 : 0) > 0;
  }

  /** The hook, for tests that run it without shutting the JVM down. */
  Runnable hook() {
    return hook;
  }

  private void onShutdown() {
    requested.set(true);
    try {
      if (!ended.await(wait.toMillis(), TimeUnit.MILLISECONDS)) {
        log.accept("stopping on signal: the step in flight and its checkpoint did not finish"
            + " within checkpoint.signal_wait (" + TrainLog.duration(wait.toMillis() / 1e3)
            + "); exiting without them. --resume continues from the newest complete checkpoint");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Training has ended: releases a waiting hook and removes it. Idempotent. */
  @Override
  public void close() {
    if (this == NONE) {
      return;
    }
    ended.countDown();
    try {
      ShutdownHookManager.get().removeShutdownHook(hook);
    } catch (IllegalStateException shuttingDown) {
      // the hook is running or about to: it finds the latch released and returns at once
    }
  }
}
