package flashlm.cluster;

import flashlm.dist.Collective;
import java.nio.FloatBuffer;
import org.apache.spark.TaskContext;
import org.apache.spark.TaskKilledException;

/**
 * A rank's {@link Collective} as the trainer sees it inside a Spark task. Before every call it
 * checks whether Spark has killed the task (a failed barrier stage kills the other ranks, which
 * would otherwise go on as zombies next to the next attempt) and stops it with {@link
 * TaskKilledException}. It also carries two test hooks: a {@link FaultInjection}, and a digest of
 * the averaged gradients of every update, equal on every rank when the ranks train in step.
 */
final class RankCollective implements Collective {
  private final Collective inner;
  private final TaskContext task;
  private final FaultInjection fault;
  private final boolean digesting;
  private long updates;
  private long digest = 0xcbf29ce484222325L;

  /**
   * @param task the task to watch for a kill, or null (outside Spark)
   * @param fault the fault to inject, or null
   * @param digesting whether to keep {@link #digest}
   */
  RankCollective(Collective inner, TaskContext task, FaultInjection fault, boolean digesting) {
    this.inner = inner;
    this.task = task;
    this.fault = fault;
    this.digesting = digesting;
  }

  @Override
  public int rank() {
    return inner.rank();
  }

  @Override
  public int worldSize() {
    return inner.worldSize();
  }

  @Override
  public void allreduceMean(FloatBuffer grads) {
    stopIfKilled();
    updates++;
    if (fault != null && fault.rank() == rank() && fault.step() == updates) {
      throw new FaultInjection.InjectedFault("rank " + rank() + ": fault injected at update "
          + updates + " (" + FaultInjection.KEY + ")");
    }
    inner.allreduceMean(grads);
    if (digesting) {
      long h = digest;
      for (int i = 0, n = grads.capacity(); i < n; i++) {
        h = (h ^ Float.floatToRawIntBits(grads.get(i))) * 0x100000001b3L;
      }
      digest = h;
    }
  }

  @Override
  public double allreduceMean(double value) {
    stopIfKilled();
    return inner.allreduceMean(value);
  }

  @Override
  public double allreduceMax(double value) {
    stopIfKilled();
    return inner.allreduceMax(value);
  }

  @Override
  public long broadcast(long value) {
    stopIfKilled();
    return inner.broadcast(value);
  }

  @Override
  public double broadcast(double value) {
    stopIfKilled();
    return inner.broadcast(value);
  }

  @Override
  public void barrier() {
    stopIfKilled();
    inner.barrier();
  }

  @Override
  public long[] allGather(long value) {
    stopIfKilled();
    return inner.allGather(value);
  }

  /** FNV-1a over the bits of every averaged gradient so far (0xcbf29ce484222325 before any). */
  long digest() {
    return digest;
  }

  /** Gradient allreduces made, one per optimizer update. */
  long updates() {
    return updates;
  }

  private void stopIfKilled() {
    if (task != null && task.isInterrupted()) {
      throw new TaskKilledException(task.getKillReason().getOrElse(() -> "killed"));
    }
  }

  @Override
  public void close() {
    inner.close();
  }
}
