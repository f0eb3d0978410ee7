package flashlm.train;

import flashlm.config.Configs;
import flashlm.data.SequenceBatches;
import flashlm.data.SequencesSnapshot;
import flashlm.dist.Collective;
import flashlm.fs.LockFile;
import flashlm.model.Init;
import flashlm.model.ModelSpec;
import flashlm.model.ParamLayout;
import flashlm.model.TrainableModel;
import flashlm.optim.Kernels;
import flashlm.report.Report;
import java.io.PrintStream;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;
import org.apache.hadoop.conf.Configuration;

/**
 * The training loop. Each optimizer update:
 *
 * <ol>
 *   <li>zero the gradient buffer; {@code grad_accum} times: next batch, forward + backward (the
 *       model adds into the buffer); scale by {@code 1 / grad_accum};
 *   <li>{@link Collective#allreduceMean} over the whole gradient buffer (one call: the buffer is
 *       flat), and of the loss for logging;
 *   <li>clip by global norm: if {@code ||g|| > grad_clip}, {@code g *= grad_clip / (||g|| +
 *       1e-6)} (as torch.nn.utils.clip_grad_norm_);
 *   <li>the optimizer update at the scheduled learning rate ({@link LrSchedule}).
 * </ol>
 *
 * <p>Every {@code eval_every} updates and at the end it evaluates on the first {@code
 * eval_batches} batches of the validation split (a fixed set); every {@code checkpoint.every}
 * updates and at the end rank 0 writes a checkpoint. The run stops at {@code max_steps} or when
 * the time budget's decay window ends, or after the step in flight when the JVM is asked to stop
 * ({@link Builder#optStopOnSignal}). Given the same config, table version and thread count, a
 * run is reproducible bit for bit, and a resumed run continues exactly as if never stopped
 * (except where a time budget decides when to decay).
 *
 * <p>Several ranks (data parallel, one {@code Trainer} each, {@link Builder#optCollective}) make
 * the same collective calls in the same order and take every decision alike: rank 0 chooses the
 * checkpoint to resume from and decides when the time budget's window opens (by its clock), a
 * stop signal on any rank stops all, every rank evaluates as many batches as the rank with the
 * fewest, and the checkpoint holds every rank's data position ({@link RankPositions}). Every
 * {@code distributed.checksum_every} updates they compare their weights ({@link
 * WeightsChecksum}).
 */
public final class Trainer {
  /**
   * How a run ended.
   *
   * @param steps updates done (over all resumes)
   * @param trainLoss loss of the last update
   * @param valLoss last validation loss, or NaN when there was none
   * @param stopReason why it stopped
   * @param checkpoint the last checkpoint written, or null
   */
  public record Result(long steps, double trainLoss, double valLoss, StopReason stopReason,
      String checkpoint) {}

  private final TrainConfig config;
  private final Configuration conf;
  private final Collective collective;
  private final boolean resume;
  private final LongSupplier clock;
  private final long stopAt;
  private final boolean stopOnSignal;
  private final boolean takeLock;
  private final TrainLog log;
  /** Updates done so far in this attempt's loop, for the failure record. */
  private long currentStep;

  private Trainer(Builder b) {
    config = b.config;
    conf = b.conf != null ? b.conf : new Configuration();
    collective = b.collective;
    resume = b.resume;
    clock = b.clock;
    stopAt = b.stopAt;
    stopOnSignal = b.stopOnSignal;
    takeLock = b.takeLock;
    log = new TrainLog(b.out, collective.rank() == 0);
  }

  public static Builder builder(TrainConfig config) {
    return new Builder(config);
  }

  /** Trains until max_steps or the time budget; returns how it ended. */
  public Result run() {
    Result result;
    // Closed in reverse order: the hook is released after the log's last line is out.
    try (SignalStop signal = stopOnSignal && config.checkpoint() != null
            ? SignalStop.install(config.checkpoint().signalWaitDuration(), log::info)
            : SignalStop.NONE;
        log) {
      try {
        result = train(signal);
      } catch (RuntimeException | Error e) {
        try {
          log.failure(currentStep, e);
        } catch (RuntimeException notRecorded) {
          e.addSuppressed(notRecorded); // the training error is the one to report
        }
        throw e;
      }
    }
    report();
    return result;
  }

  /** Rank 0 draws the run's report beside the checkpoints (the run succeeded: never throws). */
  private void report() {
    if (collective.rank() != 0 || config.checkpoint() == null) {
      return;
    }
    String dir = config.checkpoint().dir();
    String metrics = config.log().metrics() != null ? config.log().metrics()
        : new CheckpointDir(conf, dir).metricsPath();
    try {
      log.info("report " + Report.write(conf, dir, metrics).html());
    } catch (RuntimeException e) {
      log.info("report not written: " + e);
    }
  }

  private Result train(SignalStop signal) {
    // The table starts opening first (on a cold JVM Delta Kernel's class loading and log replay
    // take about a second) and overlaps with taking the lock, finding the checkpoint to resume
    // from and building the model; a resume pinned to another version opens that one instead.
    CompletableFuture<SequencesSnapshot> opening = open(config.data().version());
    CheckpointDir dir = config.checkpoint() == null ? null
        : new CheckpointDir(conf, config.checkpoint().dir());
    // Rank 0 writes the directory, so it holds the lock, from before it reads the directory
    // until its last checkpoint is written.
    try (LockFile lock = dir == null || collective.rank() != 0 || !takeLock ? null
        : dir.lock(log::info)) {
      return train(signal, dir, lock, opening);
    }
  }

  private CompletableFuture<SequencesSnapshot> open(Long version) {
    return CompletableFuture.supplyAsync(() ->
        SequencesSnapshot.open(conf, config.data().table(), version));
  }

  private Result train(SignalStop signal, CheckpointDir dir, LockFile lock,
      CompletableFuture<SequencesSnapshot> started) {
    TrainConfig c = config;
    ModelSpec spec = c.model();
    Resume start = new Resume(conf, c, collective, resume, log);
    String fromPath = start.agreedPath(dir);
    Checkpoint.Header from = fromPath == null ? null : start.header(fromPath);
    currentStep = from == null ? 0 : from.step();
    openMetrics(dir, from, fromPath);
    boolean sameTable = from != null && from.table().equals(c.data().table())
        && (c.data().version() == null || c.data().version() == from.tableVersion());
    Long pin = sameTable ? Long.valueOf(from.tableVersion()) : c.data().version();
    CompletableFuture<SequencesSnapshot> opening = Objects.equals(pin, c.data().version())
        ? started
        : started.handle((s, e) -> s != null && s.version() == pin ? s : null)
            .thenCompose(s -> s != null ? CompletableFuture.completedFuture(s) : open(pin));
    try (TrainableModel model = Models.create(spec, c.backend(), c.data().batchSize())) {
      ParamLayout layout = model.layout();
      OptimizerState opt = new OptimizerState(c.optimizer(), layout, Models.kernels(c.backend()));
      if (from != null) {
        Checkpoint.read(conf, fromPath, model.params(), opt.state());
      } else {
        Init.normal(model.params(), layout, spec.initStd(), c.seed());
      }
      SequencesSnapshot table = TableChecks.opened(opening);
      TableChecks.check(table, spec, collective.worldSize());
      TableChecks.checkSameVersion(table, collective);
      log.info(String.format("model %s quant %s, %,d parameters; %s, %,d train rows on rank %d"
          + " of %d", spec.arch().id(), spec.quant().id(), spec.parameterCount(),
          table.describe(), table.rows(c.data().trainSplit(), collective.rank(),
              collective.worldSize()), collective.rank(), collective.worldSize()));
      Loop loop = new Loop(model, opt, Models.kernels(c.backend()), table, dir, lock, signal);
      if (from != null) {
        loop.restore(from, fromPath, sameTable);
        log.info("resumed from " + fromPath + " at step " + from.step());
      }
      if (dir != null && collective.rank() == 0) {
        dir.writeConfig(Configs.toJson(c));
      }
      return RunsRegistry.of(conf, c).record(collective, table, from, fromPath, dir, loop::run);
    }
  }

  /** Rank 0's metrics file: log.metrics, else beside the checkpoints. */
  private void openMetrics(CheckpointDir dir, Checkpoint.Header from, String fromPath) {
    String path = config.log().metrics() != null ? config.log().metrics()
        : dir != null ? dir.metricsPath() : null;
    if (path != null && log.active()) {
      log.metrics(MetricsFile.open(conf, path, resume, from == null ? 0 : from.step(), fromPath,
          collective.worldSize()));
    }
  }

  /** The state of one run of the loop. */
  private final class Loop {
    private final TrainableModel model;
    private final OptimizerState opt;
    private final Kernels kernels;
    private final SequencesSnapshot table;
    private final CheckpointDir dir;
    private final LockFile lock;
    private final SignalStop signal;
    private final LrSchedule schedule;
    private final long budgetMillis;
    private long step;
    private long elapsedBefore;
    private LrSchedule.BudgetDecay window;
    private SequenceBatches.Position position = SequenceBatches.Position.START;
    private List<int[]> evalSet;
    private double valLoss = Double.NaN;
    private String lastCheckpoint;
    /** Clock of step 0 of the whole run (time before a resume counts). */
    private long start;
    /** Clock and step of the last progress line, and nanoseconds in the allreduce since. */
    private long markTime;
    private long markStep;
    private long commNanos;

    Loop(TrainableModel model, OptimizerState opt, Kernels kernels, SequencesSnapshot table,
        CheckpointDir dir, LockFile lock, SignalStop signal) {
      this.model = model;
      this.opt = opt;
      this.kernels = kernels;
      this.table = table;
      this.dir = dir;
      this.lock = lock;
      this.signal = signal;
      schedule = new LrSchedule(config.schedule(), config.optimizer().lr(), config.maxSteps());
      budgetMillis = config.timeBudget() == null ? -1 : config.timeBudgetDuration().toMillis();
    }

    void restore(Checkpoint.Header h, String path, boolean sameTable) {
      step = h.step();
      lastCheckpoint = path; // a run stopped before its first update does not rewrite it
      elapsedBefore = h.elapsedMillis();
      window = h.decayStart() == null ? null
          : new LrSchedule.BudgetDecay(h.decayStart(), h.decayEnd(), h.decayFromLr());
      SequenceBatches.Position mine = RankPositions.of(h, collective.rank());
      if (sameTable) {
        position = mine;
      } else {
        position = new SequenceBatches.Position(mine.epoch() + 1, 0);
        log.info("--resume: the data table or version changed, so the data order restarts at epoch "
            + position.epoch());
      }
    }

    Result run() {
      TrainConfig.Data d = config.data();
      SequenceBatches train = SequenceBatches.builder(table).setSplit(d.trainSplit())
          .setBatchSize(d.batchSize()).optRank(collective.rank(), collective.worldSize())
          .optSeed(config.seed()).optWindowTokens(d.shuffleWindow()).optPosition(position).build();
      int[] batch = new int[d.batchSize() * train.width()];
      start = clock.getAsLong() - elapsedBefore;
      markTime = clock.getAsLong();
      markStep = step;
      StopReason stop;
      double loss = Double.NaN;
      while ((stop = stopReason()) == null) {
        Update u = update(train, batch);
        loss = u.loss();
        logProgress(u);
        if (config.evalEvery() > 0 && step % config.evalEvery() == 0) {
          evaluate();
        }
        if (dir != null && config.checkpoint().every() > 0
            && step % config.checkpoint().every() == 0) {
          save();
        }
      }
      return finish(stop, loss);
    }

    /** Why the loop stops before the next update, or null to go on (may open the decay window). */
    private StopReason stopReason() {
      if (step >= config.maxSteps()) {
        return StopReason.MAX_STEPS;
      }
      if (stopAt >= 0 && step >= stopAt) {
        return StopReason.STOP_AT;
      }
      if (signal.requested(collective)) {
        return StopReason.SIGNAL;
      }
      long elapsed = clock.getAsLong() - start;
      if (window == null && budgetMillis > 0 && budgetUsed(elapsed)) {
        window = schedule.budgetDecay(step);
        log.info(String.format("time budget: %s of %s used at step %d; decaying to min_lr over"
            + " %d updates (to step %d)", TrainLog.duration(elapsed / 1e3),
            TrainLog.duration(budgetMillis / 1e3), step, window.end() - step, window.end()));
      }
      return window != null && step >= window.end() ? StopReason.TIME_BUDGET : null;
    }

    /**
     * Whether the stable share of the time budget is used, by rank 0's clock: the window opens
     * at the same step on every rank (it is a function of that step).
     */
    private boolean budgetUsed(long elapsed) {
      boolean used = elapsed >= (1 - config.schedule().decayFraction()) * budgetMillis;
      return collective.worldSize() == 1 ? used : collective.broadcast(used ? 1L : 0L) == 1;
    }

    /** What one optimizer update measured. */
    private record Update(double loss, double gradNorm, double lr) {}

    /**
     * One optimizer update: gradients of {@code grad_accum} batches, averaged over them and over
     * ranks, clipped by global norm, applied at the scheduled learning rate.
     */
    private Update update(SequenceBatches train, int[] batch) {
      TrainConfig.Data d = config.data();
      FloatBuffer grads = model.grads();
      long n = model.layout().size();
      model.zeroGrads();
      double lossSum = 0;
      for (int a = 0; a < d.gradAccum(); a++) {
        train.next(batch);
        lossSum += model.forwardBackward(batch, d.batchSize());
      }
      if (d.gradAccum() > 1) {
        kernels.scale(grads, 0, n, 1f / d.gradAccum());
      }
      long t0 = System.nanoTime();
      collective.allreduceMean(grads);
      commNanos += System.nanoTime() - t0;
      double loss = collective.allreduceMean(lossSum / d.gradAccum());
      double norm = Math.sqrt(kernels.sumSquares(grads, 0, n));
      if (config.gradClip() > 0 && norm > config.gradClip()) {
        kernels.scale(grads, 0, n, (float) (config.gradClip() / (norm + 1e-6)));
      }
      double lr = schedule.lr(step, window);
      opt.step(model.params(), grads, lr, step + 1);
      step++;
      currentStep = step;
      position = train.position();
      int every = config.distributed().checksumEvery();
      if (collective.worldSize() > 1 && every > 0 && step % every == 0) {
        WeightsChecksum.compare(collective, model.params(), step);
      }
      if (!Double.isFinite(loss) || !Double.isFinite(norm)) {
        throw new IllegalStateException("training diverged at step " + step + ": loss " + loss
            + ", grad norm " + norm + "; lower optimizer.lr or raise schedule.warmup, and resume"
            + " from an earlier checkpoint");
      }
      return new Update(loss, norm, lr);
    }

    /** Every {@code log.every} updates: a console line and a metrics record, with rate and ETA. */
    private void logProgress(Update u) {
      if (step % config.log().every() != 0) {
        return;
      }
      long now = clock.getAsLong();
      long tokensPerStep = config.tokensPerStep() * collective.worldSize();
      double secs = Math.max(1e-9, (now - markTime) / 1e3);
      double perStep = secs / (step - markStep);
      long last = window != null ? window.end() : config.maxSteps();
      double eta = (last - step) * perStep;
      if (budgetMillis > 0 && window == null) {
        eta = Math.min(eta, (budgetMillis - (now - start)) / 1e3);
      }
      log.step(step, last, u.loss(), u.lr(), u.gradNorm(), step * tokensPerStep,
          (step - markStep) * tokensPerStep / secs, (now - start) / 1e3, eta, commNanos / 1e9,
          secs, collective.worldSize() > 1);
      markTime = now;
      markStep = step;
      commNanos = 0;
    }

    /** The final evaluation and checkpoint (none of the first on a signal), and the summary. */
    private Result finish(StopReason stop, double loss) {
      // On a signal the time left is the cluster manager's grace period: no final evaluation.
      if (stop != StopReason.SIGNAL
          && (config.evalEvery() == 0 || step % config.evalEvery() != 0)) {
        evaluate();
      }
      if (dir != null && !dir.path(step).equals(lastCheckpoint)) {
        save();
      }
      if (stop == StopReason.SIGNAL) {
        log.info("stopping on signal: checkpoint step " + step + " written to " + lastCheckpoint);
      }
      log.info(String.format("stopped at step %d (%s) after %s; train loss %.4f, %s", step,
          stop.id(), TrainLog.duration((clock.getAsLong() - start) / 1e3), loss,
          Double.isNaN(valLoss) ? "no evaluation ran" : String.format("val loss %.4f", valLoss)));
      log.stop(step, stop.id(), loss, valLoss, lastCheckpoint);
      return new Result(step, loss, valLoss, stop, lastCheckpoint);
    }

    /** Mean loss over the fixed validation batches, averaged over ranks (as many on each). */
    private void evaluate() {
      if (config.evalBatches() == 0) {
        return;
      }
      if (evalSet == null) {
        evalSet = EvalBatches.of(table, config, collective, log);
      }
      if (evalSet.isEmpty()) {
        return;
      }
      double sum = 0;
      for (int[] b : evalSet) {
        sum += model.loss(b, config.data().batchSize());
      }
      valLoss = collective.allreduceMean(sum / evalSet.size());
      log.eval(step, valLoss, step * config.tokensPerStep() * collective.worldSize(),
          (clock.getAsLong() - start) / 1e3);
    }

    /** Rank 0 writes the checkpoint, with every rank's data position; all ranks call this. */
    private void save() {
      List<SequenceBatches.Position> positions = RankPositions.gather(collective, position);
      String path = dir.path(step);
      lastCheckpoint = path;
      if (collective.rank() != 0) {
        return;
      }
      long elapsed = clock.getAsLong() - start;
      Checkpoint.Header h = new Checkpoint.Header(config, step, elapsed, config.seed(),
          table.table(), table.version(), position.epoch(), position.index(),
          window == null ? null : window.start(), window == null ? null : window.end(),
          window == null ? null : window.fromLr(), opt.type(), model.layout().tensors(),
          model.layout().size(), opt.state().capacity(), collective.worldSize(), positions);
      if (lock != null) {
        lock.check(); // another trainer that raced this one for the directory stops here
      }
      Checkpoint.write(conf, path, h, model.params(), opt.state());
      dir.prune(config.checkpoint().keep());
      log.info("checkpoint " + path);
      log.flush(); // the stored metrics cover every step up to the newest checkpoint
    }
  }

  /** Builds a {@link Trainer}; {@code optX} are optional. */
  public static final class Builder {
    private final TrainConfig config;
    private Configuration conf;
    private Collective collective = Collective.single();
    private boolean resume;
    private PrintStream out = System.out;
    private LongSupplier clock = System::currentTimeMillis;
    private long stopAt = -1;
    private boolean stopOnSignal;
    private boolean takeLock = true;

    private Builder(TrainConfig config) {
      this.config = config;
    }

    /** Hadoop settings for the table and checkpoints (s3a credentials, ...). */
    public Builder optHadoopConf(Configuration conf) {
      this.conf = conf;
      return this;
    }

    /** The data-parallel group; default one process. */
    public Builder optCollective(Collective collective) {
      this.collective = collective;
      return this;
    }

    /** Continue from the newest checkpoint in checkpoint.dir. */
    public Builder optResume(boolean resume) {
      this.resume = resume;
      return this;
    }

    /** Where log lines go; default stdout. */
    public Builder optOut(PrintStream out) {
      this.out = out;
      return this;
    }

    /** Milliseconds, for the time budget; tests pass a fake clock. */
    public Builder optClock(LongSupplier clock) {
      this.clock = clock;
      return this;
    }

    /**
     * Stop this session cleanly (final evaluation and checkpoint) once {@code step} updates are
     * done, as a preempted job would; a later {@code --resume} continues the same schedule.
     */
    public Builder optStopAt(long step) {
      this.stopAt = step;
      return this;
    }

    /**
     * When the JVM is asked to stop during {@link Trainer#run} (SIGTERM, SIGINT, SIGHUP, {@code
     * System.exit}), finish the step in flight, write a checkpoint, log {@code stopping on
     * signal: checkpoint step N written to PATH} and let the JVM exit; a later {@code --resume}
     * continues exactly. It waits at most {@code checkpoint.signal_wait}; needs {@code
     * checkpoint.dir}. For a process that runs one training ({@code flashlm train}); default off,
     * so that embedding the trainer adds no JVM shutdown hook. See {@link SignalStop}.
     */
    public Builder optStopOnSignal(boolean stopOnSignal) {
      this.stopOnSignal = stopOnSignal;
      return this;
    }

    /**
     * Whether rank 0 holds {@code checkpoint.dir}'s lock for the run (default true). False when
     * the caller holds it across several trainers of one run, as the Spark driver does over the
     * attempts of a barrier stage (an executor that dies keeps no lock the next attempt needs).
     */
    public Builder optCheckpointLock(boolean takeLock) {
      this.takeLock = takeLock;
      return this;
    }

    public Trainer build() {
      return new Trainer(this);
    }
  }
}
