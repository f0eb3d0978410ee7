package flashlm.cluster;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import flashlm.config.ConfigException;
import flashlm.config.Configs;
import flashlm.data.SequencesSnapshot;
import flashlm.fs.LockFile;
import flashlm.fs.SerializableConfiguration;
import flashlm.train.Checkpoint;
import flashlm.train.CheckpointDir;
import flashlm.train.TrainConfig;
import flashlm.train.Trainer;
import java.io.PrintStream;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.IntStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import scala.reflect.ClassTag$;

/**
 * Data-parallel training as one Spark barrier stage (the driver's side). Before any rank starts
 * it resolves the world size, refuses what barrier mode cannot run (dynamic allocation, fewer
 * task slots than ranks) and more ranks than the table has shards, fixes the table version every
 * rank reads, and takes {@code checkpoint.dir}'s lock for the whole run. Then it runs the stage:
 * one {@link RankTask} per rank, rank 0's result returned.
 *
 * <p><b>Attempts.</b> When a rank fails (a task throws, an executor dies, a peer stops
 * answering), Spark kills the other ranks and the driver runs the stage again, every rank
 * resuming from the newest complete checkpoint, up to {@code spark.stage.maxConsecutiveAttempts}
 * (default 4) attempts. The driver reruns it itself rather than leaving it to Spark's stage retry
 * because Spark resubmits a failed barrier stage without waiting for the killed tasks to stop: a
 * rank of the old attempt could still be writing a checkpoint while the new one picks its
 * checkpoint. Here the next attempt starts only after every task of the last one has ended (at
 * most {@code distributed.timeout} later). Each attempt has its own secret, so that a rank of an
 * old attempt can never join a new one's ring. Errors of the config or the data (a {@link
 * ConfigException} or another {@link IllegalArgumentException}) and a backend this build does not
 * drive are not retried.
 */
public final class ClusterTraining {
  /** Spark's own setting for a stage's attempts, used for the same purpose. */
  static final String ATTEMPTS = "spark.stage.maxConsecutiveAttempts";
  /** Test hook: keep a digest of every rank's averaged gradients ({@link RankCollective}). */
  static final String DIGEST = "spark.flashlm.test.digest";
  /** How long to wait for executors to register, as Spark's scheduler does (default 30 s). */
  static final String REGISTRATION_WAIT = "spark.scheduler.maxRegisteredResourcesWaitingTime";

  private ClusterTraining() {}

  /**
   * One attempt of the stage and how it ended.
   *
   * @param number 1 for the first
   * @param resumed whether its ranks resumed from a checkpoint (every attempt after the first,
   *     and the first with --resume)
   * @param failure why it failed ({@code rank R on HOST: ...}), or null for the one that
   *     finished
   */
  public record Attempt(int number, boolean resumed, String failure) {}

  /**
   * How a run ended.
   *
   * @param result rank 0's result
   * @param worldSize the ranks
   * @param placements where each rank ran, in rank order (of the last attempt)
   * @param digests every rank's gradient digest with {@value #DIGEST} set (else unused values)
   * @param attempts every attempt, the last one the one that finished
   */
  public record Result(Trainer.Result result, int worldSize, List<String> placements,
      List<Long> digests, List<Attempt> attempts) {}

  /**
   * The embedded master for {@code d}'s ranks: {@code local[N]} with a task slot per rank (for
   * "auto", one per NUMA node of this host).
   */
  public static String localMaster(TrainConfig.Distributed d) {
    int n = d.ranks() == TrainConfig.Distributed.AUTO ? WorldSize.localAuto() : d.ranks();
    return "local[" + n + "]";
  }

  /**
   * The settings a {@code spark-submit} of a distributed run on {@code master} needs: dynamic
   * allocation off (barrier mode refuses it) and, on a cluster with {@code threads_per_rank}
   * set, as many cpus per task, so that Spark places no more ranks on an executor than its cores
   * hold.
   */
  public static Map<String, String> submitSettings(TrainConfig.Distributed d, String master) {
    Map<String, String> s = new LinkedHashMap<>();
    s.put(BarrierChecks.DYNAMIC_ALLOCATION, "false");
    if (d.threadsPerRank() != null && (master == null || !master.startsWith("local"))) {
      s.put("spark.task.cpus", Integer.toString(d.threadsPerRank()));
    }
    return s;
  }

  /**
   * Trains {@code config} on {@code spark}'s executors; {@code resume} continues from the newest
   * complete checkpoint. Progress lines go to {@code out} (rank 0's trainer writes to its own
   * stdout, which under a local master is this process's).
   *
   * @throws ConfigException for a config, cluster or table the run cannot use
   * @throws IllegalStateException when every attempt failed, naming the last failure
   */
  public static Result run(SparkSession spark, TrainConfig config, boolean resume,
      PrintStream out) {
    SparkContext sc = spark.sparkContext();
    Configuration hadoop = new Configuration(sc.hadoopConfiguration());
    BarrierChecks.checkSettings(sc.getConf());
    Duration wait = Duration.ofMillis(sc.getConf().getTimeAsMs(REGISTRATION_WAIT, "30s"));
    int world = WorldSize.resolve(sc, config.distributed(), wait);
    SequencesSnapshot table = SequencesSnapshot.open(hadoop, config.data().table(),
        tableVersion(config, resume, hadoop));
    BarrierChecks.checkShards(world, table);
    BarrierChecks.awaitSlots(sc, world, wait);
    TrainConfig fixed = withTableVersion(config, table.version());
    out.printf("train: %d ranks in one barrier stage on %s; %s%n", world, sc.master(),
        table.describe());
    Integer threads = config.distributed().threadsPerRank();
    int taskCpus = sc.getConf().getInt("spark.task.cpus", 1);
    if (!sc.isLocal() && threads != null && threads != taskCpus) {
      out.printf("train: warning: each rank runs %d OpenMP threads but Spark reserves"
          + " spark.task.cpus=%d cores per task; set spark.task.cpus=%d so that an executor"
          + " holds no more ranks than its cores%n", threads, taskCpus, threads);
    }
    CheckpointDir dir = config.checkpoint() == null ? null
        : new CheckpointDir(hadoop, config.checkpoint().dir());
    // The driver holds the directory for the run: executors come and go between attempts.
    try (LockFile lock = dir == null ? null : dir.lock(line -> out.println("train: " + line))) {
      return attempts(sc, fixed, world, resume, hadoop, lock, out);
    }
  }

  private static Result attempts(SparkContext sc, TrainConfig config, int world, boolean resume,
      Configuration hadoop, LockFile lock, PrintStream out) {
    int max = Math.max(1, sc.getConf().getInt(ATTEMPTS, 4));
    FaultInjection fault = FaultInjection.of(testHook(sc, FaultInjection.KEY));
    boolean digest = Boolean.parseBoolean(testHook(sc, DIGEST));
    String json = json(config);
    SerializableConfiguration conf = new SerializableConfiguration(hadoop);
    Duration timeout = config.distributed().timeoutDuration();
    String run = UUID.randomUUID().toString();
    SecureRandom random = new SecureRandom();
    AttemptMonitor monitor = new AttemptMonitor();
    List<Attempt> attempts = new ArrayList<>();
    sc.addSparkListener(monitor);
    try {
      for (int a = 1; ; a++) {
        if (lock != null) {
          lock.check(); // another driver that raced this one for the directory stops here
        }
        byte[] secret = new byte[32];
        random.nextBytes(secret);
        boolean resumed = resume || a > 1;
        RankTask task = new RankTask(json, conf, secret, resumed, a == 1 ? fault : null, digest);
        String group = "flashlm-train-" + run + "-" + a;
        sc.setJobGroup(group, "flashlm train, attempt " + a + " of " + max, false);
        monitor.begin(group);
        try {
          List<RankResult> ranks = stage(sc, world, task);
          attempts.add(new Attempt(a, resumed, null));
          return result(ranks, world, attempts);
        } catch (Exception e) { // Spark's own SparkException is a checked exception
          List<AttemptMonitor.Failure> failures = awaitEnd(monitor, timeout, e);
          String failure = describe(failures, e)
              + (monitor.running() == 0 ? "" : " (" + monitor.running() + " of its tasks still"
                  + " running after " + timeout.toSeconds() + " s)");
          attempts.add(new Attempt(a, resumed, failure));
          RuntimeException refusal = refusal(failures, e);
          if (refusal != null) {
            throw refusal;
          }
          if (a >= max) {
            throw new IllegalStateException((max > 1 ? "training failed in all " + max
                + " attempts (" + ATTEMPTS + "); the last: " : "training failed: ") + failure, e);
          }
          out.printf("train: attempt %d of %d failed: %s; every rank resumes from the newest"
              + " complete checkpoint%n", a, max, failure);
        } finally {
          sc.clearJobGroup();
        }
      }
    } finally {
      sc.removeSparkListener(monitor);
    }
  }

  /**
   * A test hook's value: the calling thread's Spark local property {@code key} (a test sharing
   * one session sets it around its run), else the Spark setting, else null.
   */
  private static String testHook(SparkContext sc, String key) {
    String local = sc.getLocalProperty(key);
    return local != null ? local : sc.getConf().get(key, null);
  }

  /** Runs the barrier stage: one task per rank; every rank's {@link RankResult}. */
  private static List<RankResult> stage(SparkContext sc, int world, RankTask task) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(sc);
    List<Integer> ranks = IntStream.range(0, world).boxed().toList();
    return jsc.parallelize(ranks, world).rdd().barrier()
        .mapPartitions(task, false, ClassTag$.MODULE$.apply(RankResult.class))
        .toJavaRDD().collect(); // one small record per rank
  }

  private static Result result(List<RankResult> ranks, int world, List<Attempt> attempts) {
    List<RankResult> sorted = new ArrayList<>(ranks);
    sorted.sort(Comparator.comparingInt(RankResult::rank));
    if (sorted.size() != world) {
      throw new IllegalStateException("the barrier stage returned " + sorted.size()
          + " results for " + world + " ranks");
    }
    RankResult r0 = sorted.get(0);
    Trainer.Result r = new Trainer.Result(r0.steps(), r0.trainLoss(), r0.valLoss(),
        r0.stopReason(), r0.checkpoint());
    return new Result(r, world, sorted.stream().map(RankResult::placement).toList(),
        sorted.stream().map(RankResult::digest).toList(), List.copyOf(attempts));
  }

  /**
   * The failures of the attempt, first first, once every task of it has ended (or the timeout
   * passed).
   */
  private static List<AttemptMonitor.Failure> awaitEnd(AttemptMonitor monitor, Duration timeout,
      Exception e) {
    try {
      return monitor.awaitEnd(timeout);
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while the failed attempt's tasks stopped", e);
    }
  }

  /** The first rank that failed and how, else the first line of what the job said. */
  private static String describe(List<AttemptMonitor.Failure> failures, Exception e) {
    if (!failures.isEmpty()) {
      return failures.get(0).describe();
    }
    String m = String.valueOf(e.getMessage());
    int nl = m.indexOf('\n');
    return nl < 0 ? m : m.substring(0, nl);
  }

  /**
   * A failure that another attempt would repeat, or null: an error of the config or the data (an
   * {@link IllegalArgumentException} from the driver or a rank), or a backend this build does not
   * drive ({@link UnsupportedOperationException}).
   */
  private static RuntimeException refusal(List<AttemptMonitor.Failure> failures, Exception e) {
    List<Throwable> causes = new ArrayList<>();
    for (Throwable t = e; t != null && causes.size() < 32; t = t.getCause()) {
      causes.add(t);
    }
    for (AttemptMonitor.Failure f : failures) {
      for (Throwable t = f.error(); t != null && causes.size() < 64; t = t.getCause()) {
        causes.add(t);
      }
    }
    return causes.stream().filter(t -> t instanceof IllegalArgumentException
            || t instanceof UnsupportedOperationException)
        .map(t -> (RuntimeException) t).findFirst().orElse(null);
  }

  /**
   * The table version every rank reads: {@code data.version}; else, when resuming from a
   * checkpoint of the same table, its version (as a single-process resume does); else the
   * latest.
   */
  static Long tableVersion(TrainConfig c, boolean resume, Configuration hadoop) {
    if (c.data().version() != null || !resume || c.checkpoint() == null) {
      return c.data().version();
    }
    Optional<String> newest = new CheckpointDir(hadoop, c.checkpoint().dir()).latest(bad -> {});
    if (newest.isEmpty()) {
      return null;
    }
    Checkpoint.Header h = Checkpoint.readHeader(hadoop, newest.get());
    return h.table().equals(c.data().table()) ? Long.valueOf(h.tableVersion()) : null;
  }

  /** {@code c} with {@code data.version} set. */
  static TrainConfig withTableVersion(TrainConfig c, long version) {
    ObjectNode tree = Configs.json().valueToTree(c);
    Configs.applyOverride(tree, "data.version=" + version);
    return Configs.bind(tree, TrainConfig.class, "the driver's resolved config");
  }

  /** The config as it travels to the ranks: all of it, no value masked. */
  private static String json(TrainConfig c) {
    try {
      return Configs.json().writeValueAsString(c);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize the config", e);
    }
  }
}
