package flashlm.cluster;

import flashlm.config.ConfigException;
import flashlm.data.SequencesSnapshot;
import java.time.Duration;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;

/**
 * What Spark's barrier mode and the sharded table need, checked on the driver before any rank
 * starts, each refusal naming the setting to change: no dynamic allocation, slots for every rank
 * at once, and at least one shard per rank.
 */
final class BarrierChecks {
  static final String DYNAMIC_ALLOCATION = "spark.dynamicAllocation.enabled";

  private BarrierChecks() {}

  /** Refuses dynamic allocation, under which Spark does not run barrier stages. */
  static void checkSettings(SparkConf conf) {
    if (conf.getBoolean(DYNAMIC_ALLOCATION, false)) {
      throw new ConfigException("distributed training runs as one Spark barrier stage, which"
          + " Spark does not run with dynamic allocation (executors that come and go); set "
          + DYNAMIC_ALLOCATION + "=false");
    }
  }

  /**
   * How many tasks the application's executors run at once (each executor's cores over {@code
   * spark.task.cpus}, and its resources over what a task asks for): the number Spark's own
   * barrier check compares with the stage's tasks.
   */
  static int slots(SparkContext sc) {
    return sc.maxNumConcurrentTasks(sc.resourceProfileManager().defaultResourceProfile());
  }

  /**
   * Waits up to {@code wait} (executors register after the application starts) until the
   * executors can run {@code world} tasks at once, else refuses naming what to change.
   */
  static void awaitSlots(SparkContext sc, int world, Duration wait) {
    long deadline = System.nanoTime() + wait.toNanos();
    int slots = slots(sc);
    while (slots < world && !sc.isLocal() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for executors", e);
      }
      slots = slots(sc);
    }
    if (slots < world) {
      // (getExecutorIds only under a cluster manager: a local master warns that it has none)
      int executors = sc.isLocal() ? 0 : sc.getExecutorIds().size();
      throw new ConfigException(slotsMessage(sc.master(), sc.isLocal(), slots, world, executors,
          sc.getConf().getInt("spark.task.cpus", 1), wait));
    }
  }

  /** The refusal for {@code world} ranks when the executors run {@code slots} tasks at once. */
  static String slotsMessage(String master, boolean local, int slots, int world, int executors,
      int taskCpus, Duration wait) {
    String need = "distributed.world_size " + world + " needs " + world
        + " tasks running at once (one barrier stage), but ";
    if (local) {
      return need + "the master " + master + " runs " + slots + ": run with --master local["
          + world + "] (or leave --master out), or lower distributed.world_size";
    }
    return need + "the application's " + executors + " executor" + (executors == 1 ? "" : "s")
        + " run " + slots + " (after waiting " + wait.toSeconds() + " s for executors; each runs"
        + " spark.executor.cores / spark.task.cpus (" + taskCpus + ") tasks): add executors"
        + " (spark.executor.instances, or workers), raise spark.executor.cores, or lower"
        + " distributed.world_size";
  }

  /** Refuses more ranks than the table has shards: a rank reads whole shards. */
  static void checkShards(int world, SequencesSnapshot table) {
    if (world > table.numShards()) {
      throw new ConfigException("distributed.world_size " + world + " is more than the "
          + table.numShards() + " shards of " + table.describe() + ": rank r of w reads the"
          + " shards with shard % w == r, so some ranks would read nothing. Set"
          + " distributed.world_size to at most " + table.numShards() + ", or tokenize again"
          + " with tokenize.num_shards of at least " + world);
    }
  }
}
