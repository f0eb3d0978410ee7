package flashlm.cluster;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.spark.ExceptionFailure;
import org.apache.spark.ExecutorLostFailure;
import org.apache.spark.TaskEndReason;
import org.apache.spark.TaskFailedReason;
import org.apache.spark.TaskKilled;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobEnd;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;

/**
 * Follows the tasks of one attempt's barrier stage (the jobs of one job group) on the driver:
 * which rank failed first and why, and when the attempt's last task has ended. A failed barrier
 * stage's job ends as soon as one task fails, while Spark is still killing the others; the next
 * attempt starts only after they have ended, so that no rank of the old attempt writes a
 * checkpoint while the new one reads the directory.
 */
final class AttemptMonitor extends SparkListener {
  /**
   * A rank's task that failed.
   *
   * @param rank the rank (the task's partition)
   * @param host where it ran
   * @param reason Spark's account of it (the exception's class and message, or the executor's
   *     loss)
   * @param error the exception the task threw, when it reached the driver; else null
   */
  record Failure(int rank, String host, String reason, Throwable error) {
    String describe() {
      return "rank " + rank + " on " + host + ": " + reason;
    }
  }

  private String group;
  private final Set<Integer> jobs = new HashSet<>();
  private final Set<Integer> stages = new HashSet<>();
  private final List<Failure> failures = new ArrayList<>();
  private int running;
  private boolean ended;

  /** Starts following the jobs of {@code group} (and forgets the previous attempt). */
  synchronized void begin(String group) {
    this.group = group;
    jobs.clear();
    stages.clear();
    failures.clear();
    running = 0;
    ended = false;
  }

  /**
   * Waits until the attempt's job has ended and every task it started has ended, at most {@code
   * timeout}; returns the failures seen, first first.
   *
   * @return the failures; tasks still running after the timeout are not waited for
   */
  synchronized List<Failure> awaitEnd(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!(ended && running == 0)) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        break;
      }
      wait(Math.max(1, left / 1_000_000));
    }
    return List.copyOf(failures);
  }

  /** Tasks of the attempt that have started and not ended. */
  synchronized int running() {
    return running;
  }

  @Override
  public synchronized void onJobStart(SparkListenerJobStart e) {
    if (group != null && group.equals(e.properties().getProperty("spark.jobGroup.id"))) {
      jobs.add(e.jobId());
      for (Object id : scala.jdk.javaapi.CollectionConverters.asJava(e.stageIds())) {
        stages.add((Integer) id);
      }
    }
  }

  @Override
  public synchronized void onJobEnd(SparkListenerJobEnd e) {
    if (jobs.contains(e.jobId())) {
      ended = true;
      notifyAll();
    }
  }

  @Override
  public synchronized void onTaskStart(SparkListenerTaskStart e) {
    if (stages.contains(e.stageId())) {
      running++;
    }
  }

  @Override
  public synchronized void onTaskEnd(SparkListenerTaskEnd e) {
    if (!stages.contains(e.stageId())) {
      return;
    }
    running--;
    TaskEndReason r = e.reason();
    if (r instanceof TaskFailedReason f && !(r instanceof TaskKilled)) {
      Throwable error = r instanceof ExceptionFailure x && x.exception().isDefined()
          ? x.exception().get() : null;
      String reason = r instanceof ExceptionFailure x ? x.className() + ": " + x.description()
          : r instanceof ExecutorLostFailure lost ? "its executor " + lost.execId() + " was lost ("
              + lost.reason().getOrElse(() -> "no reason given") + ")"
          : f.toErrorString();
      failures.add(new Failure(e.taskInfo().index(), e.taskInfo().host(), reason, error));
    }
    notifyAll();
  }
}
