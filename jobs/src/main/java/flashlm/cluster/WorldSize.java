package flashlm.cluster;

import flashlm.train.TrainConfig;
import java.io.Serializable;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;
import java.util.stream.IntStream;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function;
import scala.Tuple2;

/**
 * How many ranks a run has: {@code distributed.world_size}, or for "auto" one per accelerator
 * when the tasks request one ({@code spark.task.resource.NAME.amount}), else one per NUMA node of
 * each executor host (this host's nodes under a local master; on a cluster, a short job asks
 * every executor).
 */
final class WorldSize {
  private static final String TASK_RESOURCE = "spark.task.resource.";
  private static final String AMOUNT = ".amount";

  private WorldSize() {}

  /** The ranks of a run on {@code sc}. */
  static int resolve(SparkContext sc, TrainConfig.Distributed d, java.time.Duration wait) {
    if (d.ranks() != TrainConfig.Distributed.AUTO) {
      return d.ranks();
    }
    if (sc.isLocal()) {
      return NumaTopology.local().nodes().size();
    }
    BarrierChecks.awaitSlots(sc, 1, wait);
    OptionalInt perAccelerator = accelerators(sc.getConf(), sc.getExecutorIds().size());
    return perAccelerator.isPresent() ? perAccelerator.getAsInt() : numaNodesOfExecutorHosts(sc);
  }

  /** The ranks "auto" means under a local master: this host's NUMA nodes. */
  static int localAuto() {
    return NumaTopology.local().nodes().size();
  }

  /**
   * With a {@code spark.task.resource.NAME.amount} set, the tasks that fit on {@code executors}
   * executors of {@code spark.executor.resource.NAME.amount} each (one per accelerator when a
   * task asks for one); empty when no task resource is set.
   *
   * @throws IllegalArgumentException when the executors' amount of that resource is not set
   */
  static OptionalInt accelerators(SparkConf conf, int executors) {
    for (Tuple2<String, String> kv : conf.getAllWithPrefix(TASK_RESOURCE)) {
      String key = kv._1();
      if (!key.endsWith(AMOUNT)) {
        continue;
      }
      String name = key.substring(0, key.length() - AMOUNT.length());
      double perTask = Double.parseDouble(kv._2());
      String executorKey = "spark.executor.resource." + name + AMOUNT;
      if (!conf.contains(executorKey)) {
        throw new IllegalArgumentException(TASK_RESOURCE + key + " is set but " + executorKey
            + " is not: set how many '" + name + "' each executor has");
      }
      long perExecutor = (long) Math.floor(conf.getDouble(executorKey, 0) / perTask + 1e-9);
      return OptionalInt.of(Math.toIntExact(perExecutor * executors));
    }
    return OptionalInt.empty();
  }

  /** The sum over executor hosts of their NUMA nodes, asked of every executor slot once. */
  private static int numaNodesOfExecutorHosts(SparkContext sc) {
    int slots = BarrierChecks.slots(sc);
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(sc);
    List<String> answers = jsc.parallelize(IntStream.range(0, slots).boxed().toList(), slots)
        .map(new ProbeHost()).distinct().collect(); // one short line per executor host
    Map<String, Integer> nodes = new TreeMap<>();
    for (String a : answers) {
      int tab = a.lastIndexOf('\t');
      nodes.put(a.substring(0, tab), Integer.parseInt(a.substring(tab + 1)));
    }
    return nodes.values().stream().mapToInt(Integer::intValue).sum();
  }

  /** "host TAB nodes" of the executor a task runs on. */
  static final class ProbeHost implements Function<Integer, String>, Serializable {
    private static final long serialVersionUID = 1L;

    @Override
    public String call(Integer ignored) {
      String host = SparkEnv.get().blockManager().blockManagerId().host();
      return host + "\t" + NumaTopology.local().nodes().size();
    }
  }
}
