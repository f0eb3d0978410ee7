package flashlm.cluster;

import flashlm.config.Configs;
import flashlm.fs.SerializableConfiguration;
import flashlm.dist.Collective;
import flashlm.dist.Collectives;
import flashlm.train.TrainConfig;
import flashlm.train.Trainer;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.BarrierTaskInfo;
import org.apache.spark.util.TaskInterruptListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractFunction1;

/**
 * One rank of a barrier stage: plans its place on the host, connects the collective, trains, and
 * returns a {@link RankResult}. Every path makes the same rendezvous calls (one {@code
 * allGather}, in the collective's connect) in the same order: a rank whose preparation fails still
 * joins the rendezvous and then fails, so that the others fail at their first collective call
 * instead of waiting in theirs. The collective is closed in {@code finally} (its errors added to
 * the first one) and when Spark kills the task.
 */
final class RankTask extends AbstractFunction1<Iterator<Integer>, Iterator<RankResult>>
    implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(RankTask.class);

  private final String configJson;
  private final SerializableConfiguration hadoop;
  private final byte[] secret;
  private final boolean resume;
  private final FaultInjection fault;
  private final boolean digest;

  /**
   * @param configJson the resolved config (the table version fixed by the driver)
   * @param secret this attempt's secret; never logged
   * @param resume continue from the newest complete checkpoint
   * @param fault a fault to inject, or null
   * @param digest whether to keep the gradient digest (test hook)
   */
  RankTask(String configJson, SerializableConfiguration hadoop, byte[] secret, boolean resume,
      FaultInjection fault, boolean digest) {
    this.configJson = configJson;
    this.hadoop = hadoop;
    this.secret = secret.clone();
    this.resume = resume;
    this.fault = fault;
    this.digest = digest;
  }

  @Override
  @SuppressWarnings("try") // the placement is held, not used, for the length of the training
  public Iterator<RankResult> apply(Iterator<Integer> partition) {
    BarrierTaskContext ctx = BarrierTaskContext.get();
    int rank = ctx.partitionId();
    int world = ctx.numPartitions();
    List<String> hosts = hosts(ctx.getTaskInfos());
    RuntimeException failed = null;
    TrainConfig config = null;
    RankPlacement place = null;
    try {
      config = Configs.bind(Configs.json().readTree(configJson), TrainConfig.class, "driver");
      place = RankPlacement.plan(rank, hosts, NumaTopology.local(),
          ThreadPlacement.allowedCpus(), config.distributed().threadsPerRank());
    } catch (Exception e) {
      failed = e instanceof RuntimeException r ? r
          : new IllegalStateException("rank " + rank + ": " + e.getMessage(), e);
    }
    TrainConfig.Distributed d = config != null ? config.distributed()
        : TrainConfig.Distributed.single();
    try (Collective ring = Collectives.connect(d.backend(),
            message -> Arrays.asList(ctx.allGather(message)), rank, world, secret,
            hosts.get(rank), d.timeoutDuration());
        RankCollective c = new RankCollective(ring, ctx, fault, digest)) {
      if (failed != null) {
        throw failed;
      }
      // A kill (the stage failed elsewhere) ends a call blocked in the ring at once: closing
      // the ring from another thread is safe and fails that call.
      ctx.addTaskInterruptListener((TaskInterruptListener) (task, reason) -> ring.close());
      try (ThreadPlacement pinned = ThreadPlacement.apply(place, LOG::info)) {
        Trainer.Result r = Trainer.builder(config).optCollective(c).optResume(resume)
            .optHadoopConf(hadoop.get()).optCheckpointLock(false).build().run();
        RankResult out = new RankResult(rank, place.describe(), r.steps(), r.trainLoss(),
            r.valLoss(), r.stopReason(), r.checkpoint(), c.updates(), c.digest());
        return CollectionConverters.asScala(List.of(out).iterator());
      }
    }
  }

  /** Each rank's host, from the executors' "host:port" addresses Spark gives barrier tasks. */
  static List<String> hosts(BarrierTaskInfo[] infos) {
    List<String> out = new ArrayList<>(infos.length);
    for (BarrierTaskInfo info : infos) {
      out.add(host(info.address()));
    }
    return out;
  }

  /** The host of "host:port", "[v6]:port" or a bare host. */
  static String host(String address) {
    if (address.startsWith("[")) {
      int end = address.indexOf(']');
      return end > 0 ? address.substring(1, end) : address;
    }
    int colon = address.lastIndexOf(':');
    return colon > 0 && address.indexOf(':') == colon ? address.substring(0, colon) : address;
  }
}
