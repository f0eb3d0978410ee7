package flashlm.train;

import com.fasterxml.jackson.annotation.JsonCreator;
import flashlm.config.ConfigEnum;
import flashlm.config.ConfigException;
import flashlm.dist.CommBackend;
import flashlm.model.ModelSpec;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A training run: model, data, optimizer, schedule, limits, evaluation, checkpoints and logging.
 * Read with {@link flashlm.config.Configs#load}; files under {@code conf/} are examples.
 *
 * @param model the architecture
 * @param data the sequences table and batch shape
 * @param optimizer AdamW or SGD with momentum
 * @param schedule warmup-stable-decay or cosine
 * @param gradClip global gradient-norm clip (grad_clip), default 1.0; 0 turns clipping off
 * @param maxSteps optimizer steps (max_steps); the run stops at this step or at the time budget
 * @param timeBudget wall-clock budget of the run (time_budget) such as "2h", "90s", "1h30m";
 *     null for none. When (1 - decay_fraction) of it is used the trainer decays the learning rate
 *     over the updates the rest of the budget holds at the pace so far, then stops cleanly (see
 *     {@link LrSchedule}). Time spent before a resume counts.
 * @param seed initialisation and data-order seed, default 1234
 * @param evalEvery evaluate on the validation split every this many steps (eval_every), 0 for
 *     never (a final evaluation still runs), default 0
 * @param evalBatches validation batches per evaluation (eval_batches), default 8
 * @param checkpoint where and how often to checkpoint; null for no checkpoints
 * @param log console and metrics logging
 * @param backend "native" (C kernels through JNI) or "reference" (the slow double-precision Java
 *     model, for tests), default "native"
 * @param distributed data-parallel training over several ranks (a Spark barrier stage); absent
 *     or {@code world_size: 1} for one process
 * @param runsTable the runs registry (runs_table): a Delta table to which every run appends one
 *     row saying what it trained on and how it ended (see {@link flashlm.table.RunsTable});
 *     local path or URI, default {@code runs} beside {@code data.table}
 */
public record TrainConfig(
    ModelSpec model,
    Data data,
    Optimizer optimizer,
    Schedule schedule,
    Double gradClip,
    Integer maxSteps,
    String timeBudget,
    Long seed,
    Integer evalEvery,
    Integer evalBatches,
    Checkpointing checkpoint,
    Log log,
    Backend backend,
    Distributed distributed,
    String runsTable) {

  /** Which model and update kernels run: the C ones or the double-precision Java reference. */
  public enum Backend implements ConfigEnum {
    NATIVE,
    REFERENCE;

    @JsonCreator
    public static Backend of(String id) {
      return ConfigEnum.parse(Backend.class, "backend", id);
    }
  }

  public TrainConfig {
    if (model == null) {
      throw ConfigException.missing("model");
    }
    if (data == null) {
      throw ConfigException.missing("data");
    }
    optimizer = optimizer == null ? Optimizer.defaults() : optimizer;
    schedule = schedule == null ? Schedule.defaults() : schedule;
    gradClip = gradClip == null ? 1.0 : gradClip;
    if (!(gradClip >= 0)) {
      throw ConfigException.badValue("grad_clip", gradClip, "a number >= 0 (0 turns clipping off)");
    }
    if (maxSteps == null) {
      throw ConfigException.missing("max_steps");
    }
    if (maxSteps <= 0) {
      throw ConfigException.badValue("max_steps", maxSteps, "a positive integer");
    }
    if (timeBudget != null) {
      parseDuration("time_budget", timeBudget);
      if (schedule.decayFraction() >= 1) {
        throw ConfigException.badValue("schedule.decay_fraction", schedule.decayFraction(),
            "a number below 1 with a time_budget (the decay window is sized from the pace of the"
            + " stable phase)");
      }
    }
    seed = seed == null ? 1234L : seed;
    evalEvery = evalEvery == null ? 0 : evalEvery;
    evalBatches = evalBatches == null ? 8 : evalBatches;
    if (evalEvery < 0 || evalBatches < 0) {
      throw ConfigException.badValue("eval_every/eval_batches", evalEvery + "/" + evalBatches,
          "integers >= 0");
    }
    log = log == null ? new Log(null, null) : log;
    backend = backend == null ? Backend.NATIVE : backend;
    distributed = distributed == null ? Distributed.single() : distributed;
    if (runsTable != null && runsTable.isBlank()) {
      throw ConfigException.badValue("runs_table", "''", "a path or URI, or leave it unset");
    }
  }

  /** Where this run's row goes: {@code runs_table}, else {@code runs} beside the table. */
  public String runsTableOrDefault() {
    return runsTable != null ? runsTable : flashlm.table.RunsTable.beside(data.table());
  }

  /** The time budget, or null when the run is limited by {@code max_steps} only. */
  public Duration timeBudgetDuration() {
    return timeBudget == null ? null : parseDuration("time_budget", timeBudget);
  }

  /** Tokens one optimizer step consumes on one rank. */
  public long tokensPerStep() {
    return (long) data.batchSize() * data.gradAccum() * model.seqLen();
  }

  private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|s|m|h|d)");

  /** Parses "90s", "2h", "1h30m", "500ms". */
  static Duration parseDuration(String key, String text) {
    String s = text.trim().toLowerCase(java.util.Locale.ROOT);
    Matcher m = DURATION.matcher(s);
    double millis = 0;
    int end = 0;
    while (m.find() && m.start() == end) {
      double v = Double.parseDouble(m.group(1));
      millis += v * switch (m.group(2)) {
        case "ms" -> 1;
        case "s" -> 1_000;
        case "m" -> 60_000;
        case "h" -> 3_600_000;
        default -> 86_400_000;
      };
      end = m.end();
    }
    if (s.isEmpty() || end != s.length() || millis <= 0) {
      throw ConfigException.badValue(key, text, "a positive duration such as 90s, 45m, 2h, 1h30m");
    }
    return Duration.ofMillis(Math.round(millis));
  }

  /**
   * The sequences table (see {@link flashlm.table.SequencesTable}) and the batch shape.
   *
   * @param table path or URI of the Delta table (local, file:, s3a://)
   * @param version Delta version to read; null for the latest
   * @param batchSize sequences per micro-batch (batch_size)
   * @param gradAccum micro-batches per optimizer step (grad_accum), default 1
   * @param trainSplit split to train on (train_split), default "train"
   * @param validationSplit split to evaluate on (validation_split), default "validation"
   * @param shuffleWindow tokens held in memory for shuffling (shuffle_window), default 16777216
   *     (64 MiB); rows are shuffled within windows of whole parquet row groups, whose order is
   *     shuffled too (see {@link flashlm.data.SequenceBatches})
   */
  public record Data(String table, Long version, Integer batchSize, Integer gradAccum,
      String trainSplit, String validationSplit, Long shuffleWindow) {
    public Data {
      if (table == null || table.isBlank()) {
        throw ConfigException.missing("data.table");
      }
      if (version != null && version < 0) {
        throw ConfigException.badValue(
            "data.version", version, "a Delta version >= 0, or absent for latest");
      }
      if (batchSize == null) {
        throw ConfigException.missing("data.batch_size");
      }
      if (batchSize <= 0) {
        throw ConfigException.badValue("data.batch_size", batchSize, "a positive integer");
      }
      gradAccum = gradAccum == null ? 1 : gradAccum;
      if (gradAccum <= 0) {
        throw ConfigException.badValue("data.grad_accum", gradAccum, "a positive integer");
      }
      trainSplit = trainSplit == null ? flashlm.table.SequencesTable.TRAIN : trainSplit;
      validationSplit =
          validationSplit == null ? flashlm.table.SequencesTable.VALIDATION : validationSplit;
      shuffleWindow = shuffleWindow == null ? 1L << 24 : shuffleWindow;
      if (shuffleWindow <= 0) {
        throw ConfigException.badValue(
            "data.shuffle_window", shuffleWindow, "a positive number of tokens");
      }
    }
  }

  /**
   * The optimizer. AdamW follows {@code torch.optim.AdamW} (decoupled weight decay, applied only
   * to the tensors marked {@code decay}: the 2-D ones, see {@link flashlm.model.ParamLayout});
   * SGD follows {@code torch.optim.SGD} with momentum
   * (L2 weight decay added to the gradient of decay tensors).
   *
   * @param type adamw or sgd
   * @param lr peak learning rate, default 1e-3 (adamw) or 0.1 (sgd)
   * @param beta1 default 0.9 (adamw)
   * @param beta2 default 0.95 (adamw)
   * @param eps default 1e-8 (adamw)
   * @param weightDecay default 0.1 (adamw) or 0 (sgd) (weight_decay)
   * @param momentum default 0.9 (sgd)
   */
  public record Optimizer(Type type, Double lr, Double beta1, Double beta2, Double eps,
      Double weightDecay, Double momentum) {
    /** The optimizers: {@code adamw}, {@code sgd}. */
    public enum Type implements ConfigEnum {
      ADAMW,
      SGD;

      @JsonCreator
      public static Type of(String id) {
        return ConfigEnum.parse(Type.class, "optimizer.type", id);
      }
    }

    public Optimizer {
      type = type == null ? Type.ADAMW : type;
      boolean adam = type == Type.ADAMW;
      lr = lr == null ? (adam ? 1e-3 : 0.1) : lr;
      beta1 = beta1 == null ? 0.9 : beta1;
      beta2 = beta2 == null ? 0.95 : beta2;
      eps = eps == null ? 1e-8 : eps;
      weightDecay = weightDecay == null ? (adam ? 0.1 : 0.0) : weightDecay;
      momentum = momentum == null ? 0.9 : momentum;
      if (!(lr > 0)) {
        throw ConfigException.badValue("optimizer.lr", lr, "a positive number");
      }
      if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
        throw ConfigException.badValue(
            "optimizer.beta1/beta2", beta1 + "/" + beta2, "numbers in [0, 1)");
      }
      if (!(eps > 0)) {
        throw ConfigException.badValue("optimizer.eps", eps, "a positive number");
      }
      if (!(weightDecay >= 0)) {
        throw ConfigException.badValue("optimizer.weight_decay", weightDecay, "a number >= 0");
      }
      if (!(momentum >= 0 && momentum < 1)) {
        throw ConfigException.badValue("optimizer.momentum", momentum, "a number in [0, 1)");
      }
    }

    public boolean adamw() {
      return type == Type.ADAMW;
    }

    /** Every setting at its default (adamw). */
    public static Optimizer defaults() {
      return new Optimizer(null, null, null, null, null, null, null);
    }
  }

  /**
   * The learning-rate schedule over max_steps updates; see {@link LrSchedule} for the formulas
   * and for what a time budget does to them.
   *
   * @param type wsd (linear warmup, constant, linear decay to min_lr over the last
   *     decay_fraction of the run) or cosine (linear warmup, cosine to min_lr at max_steps)
   * @param warmup warmup steps, default 100
   * @param decayFraction share of the run spent decaying (decay_fraction), default 0.2: of the
   *     steps for wsd, and for both types the share of a time budget left for the decay window
   * @param minLr final learning rate (min_lr), default 0
   */
  public record Schedule(Type type, Integer warmup, Double decayFraction, Double minLr) {
    /** The schedules: {@code wsd} (warmup-stable-decay), {@code cosine}. */
    public enum Type implements ConfigEnum {
      WSD,
      COSINE;

      @JsonCreator
      public static Type of(String id) {
        return ConfigEnum.parse(Type.class, "schedule.type", id);
      }
    }

    /** Every setting at its default (wsd). */
    public static Schedule defaults() {
      return new Schedule(null, null, null, null);
    }

    public Schedule {
      type = type == null ? Type.WSD : type;
      warmup = warmup == null ? 100 : warmup;
      if (warmup < 0) {
        throw ConfigException.badValue("schedule.warmup", warmup, "an integer >= 0");
      }
      decayFraction = decayFraction == null ? 0.2 : decayFraction;
      if (!(decayFraction >= 0 && decayFraction <= 1)) {
        throw ConfigException.badValue(
            "schedule.decay_fraction", decayFraction, "a number in [0, 1]");
      }
      minLr = minLr == null ? 0.0 : minLr;
      if (!(minLr >= 0)) {
        throw ConfigException.badValue("schedule.min_lr", minLr, "a number >= 0");
      }
    }
  }

  /**
   * Checkpoints, written atomically through the Hadoop FileSystem API.
   *
   * @param dir directory or URI (local, s3a://)
   * @param every steps between checkpoints, default 1000; 0 for only the final one
   * @param keep how many of the newest checkpoints to keep, default 3
   * @param signalWait (signal_wait) how long a stop signal (SIGTERM, SIGINT) to {@code flashlm
   *     train} waits for the step in flight and its checkpoint before the JVM exits without them,
   *     such as "90s", default "2m". Keep it below the grace period of the cluster manager
   *     (Kubernetes' terminationGracePeriodSeconds, 30 s by default) or raise that.
   */
  public record Checkpointing(String dir, Integer every, Integer keep, String signalWait) {
    public Checkpointing {
      if (dir == null || dir.isBlank()) {
        throw ConfigException.missing("checkpoint.dir");
      }
      every = every == null ? 1000 : every;
      keep = keep == null ? 3 : keep;
      if (every < 0) {
        throw ConfigException.badValue("checkpoint.every", every, "an integer >= 0");
      }
      if (keep <= 0) {
        throw ConfigException.badValue("checkpoint.keep", keep, "a positive integer");
      }
      signalWait = signalWait == null ? "2m" : signalWait;
      parseDuration("checkpoint.signal_wait", signalWait);
    }

    /** {@link #signalWait} parsed. */
    public Duration signalWaitDuration() {
      return parseDuration("checkpoint.signal_wait", signalWait);
    }
  }

  /**
   * Logging.
   *
   * @param metrics path or URI (local, s3a://, any Hadoop filesystem) of the metrics JSON-lines
   *     file, written by rank 0 (see {@link MetricsFile}); default {@code
   *     checkpoint.dir/metrics.jsonl}, none without a checkpoint.dir
   * @param every steps between log lines, default 10
   */
  public record Log(String metrics, Integer every) {
    public Log {
      every = every == null ? 10 : every;
      if (every <= 0) {
        throw ConfigException.badValue("log.every", every, "a positive integer");
      }
    }
  }

  /**
   * Data-parallel training: one trainer per rank in a Spark barrier stage, gradients summed by
   * a ring allreduce each step.
   *
   * @param worldSize ranks (world_size): a positive integer, or "auto" for one per NUMA node of
   *     each executor host (one per accelerator when the tasks request one); default 1, one
   *     process without Spark
   * @param threadsPerRank OpenMP threads of each rank (threads_per_rank); default the cores of
   *     the rank's NUMA node (its share of the executor's cores)
   * @param timeout how long a rank waits for a peer before the run fails naming it, default "5m"
   * @param backend how gradients travel: cpu-ring (TCP, built here), nccl or hccl (used when
   *     their libraries are present), default cpu-ring
   * @param checksumEvery compare a checksum of every rank's weights every this many updates
   *     (checksum_every), failing loudly on a difference; 0 for never, default 100
   */
  public record Distributed(String worldSize, Integer threadsPerRank, String timeout,
      CommBackend backend, Integer checksumEvery) {
    /** {@link #worldSize()} when it is "auto". */
    public static final int AUTO = 0;

    public Distributed {
      worldSize = worldSize == null ? "1" : worldSize.trim();
      if (!worldSize.equals("auto") && !worldSize.matches("[1-9][0-9]{0,5}")) {
        throw ConfigException.badValue("distributed.world_size", worldSize,
            "a positive integer or \"auto\"");
      }
      if (threadsPerRank != null && threadsPerRank < 1) {
        throw ConfigException.badValue("distributed.threads_per_rank", threadsPerRank,
            "a positive integer");
      }
      timeout = timeout == null ? "5m" : timeout;
      parseDuration("distributed.timeout", timeout);
      backend = backend == null ? CommBackend.CPU_RING : backend;
      checksumEvery = checksumEvery == null ? 100 : checksumEvery;
      if (checksumEvery < 0) {
        throw ConfigException.badValue("distributed.checksum_every", checksumEvery,
            "an integer >= 0");
      }
    }

    /** One process, no Spark. */
    public static Distributed single() {
      return new Distributed(null, null, null, null, null);
    }

    /** The number of ranks, or {@link #AUTO}. */
    public int ranks() {
      return worldSize.equals("auto") ? AUTO : Integer.parseInt(worldSize);
    }

    /** Whether this run is one process without Spark. */
    public boolean oneProcess() {
      return ranks() == 1;
    }

    public Duration timeoutDuration() {
      return parseDuration("distributed.timeout", timeout);
    }
  }
}
