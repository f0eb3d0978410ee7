package flashlm.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import flashlm.config.Configs;
import flashlm.data.SequencesFixture;
import flashlm.dist.Collective;
import flashlm.dist.LocalRendezvous;
import flashlm.dist.RankThreads;
import flashlm.dist.RingCollective;
import flashlm.table.SequencesTable;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import java.util.function.LongSupplier;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Several trainers as ranks of one run, threads of this JVM joined by the native ring on
 * loopback: what a single process never exercised.
 */
class MultiRankTrainerTest {
  private static final int SEQ = 8;
  private static final int VOCAB = 64;
  /** A rank waits this long for a peer: short, since a bug here shows as a wait. */
  private static final Duration TIMEOUT = Duration.ofSeconds(30);
  /**
   * N ranks of batch B against one rank of batch N x B on the same rows, after 6 AdamW updates:
   * the sums are taken in another order (and, for 3 ranks, scaled by a rounded 1/3), so fp32
   * rounding apart; the parameters are about 0.02.
   */
  private static final double ONE_RANK_TOLERANCE = 2e-6;

  @TempDir
  Path dir;

  private final ByteArrayOutputStream console = new ByteArrayOutputStream();

  /** A table of {@code shards} shards, each of train and validation rows as given. */
  private String table(String name, int shards, int trainRows, int validationRows) {
    Path t = dir.resolve(name);
    if (!Files.exists(t)) {
      SequencesFixture.random(t, SEQ, VOCAB, shards, trainRows, validationRows, 11);
    }
    return t.toString();
  }

  /** A tiny transformer run, checkpoints every 2 updates, the ranks' weights compared each. */
  private TrainConfig config(String run, String table, String... extra) {
    List<String> o = new ArrayList<>(List.of("backend=reference", "model.arch=transformer",
        "model.vocab_size=" + VOCAB, "model.d_model=16", "model.n_layers=1", "model.n_heads=2",
        "model.ffn_dim=24", "model.seq_len=" + SEQ, "data.table=" + table, "data.batch_size=3",
        "data.shuffle_window=" + 3 * (SEQ + 1), "max_steps=6", "schedule.warmup=2",
        "eval_every=3", "eval_batches=2", "log.every=1", "checkpoint.dir=" + dir.resolve(run),
        "checkpoint.every=2", "checkpoint.keep=4", "distributed.checksum_every=1"));
    o.addAll(List.of(extra));
    return Configs.load(null, TrainConfig.class, o);
  }

  private Trainer.Builder trainer(TrainConfig c) {
    return Trainer.builder(c).optOut(new PrintStream(console, true));
  }

  /** {@code world} ranks of {@code c}, resumed or not, each stopping at {@code stopAt}. */
  private List<RankThreads.Outcome<Trainer.Result>> ranks(int world, TrainConfig c,
      boolean resume, long stopAt) {
    return RankThreads.ring(world, TIMEOUT, col -> trainer(c).optCollective(col)
        .optResume(resume).optStopAt(stopAt).build().run());
  }

  private static Trainer.Result same(List<RankThreads.Outcome<Trainer.Result>> out) {
    Trainer.Result first = out.get(0).get();
    for (RankThreads.Outcome<Trainer.Result> o : out) {
      assertEquals(first, o.get(), "rank " + o.rank() + " against rank 0");
    }
    return first;
  }

  private static float[] params(String checkpoint) {
    Configuration conf = new Configuration();
    Checkpoint.Header h = Checkpoint.readHeader(conf, checkpoint);
    FloatBuffer p = FloatBuffer.allocate((int) h.paramCount());
    Checkpoint.read(conf, checkpoint, p, FloatBuffer.allocate((int) h.optimizerCount()));
    return p.array();
  }

  private static void assertSameBits(String a, String b, String what) {
    float[] x = params(a);
    float[] y = params(b);
    int differ = 0;
    for (int i = 0; i < x.length; i++) {
      differ += Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(y[i]) ? 1 : 0;
    }
    assertEquals(0, differ, what + ": parameters that differ");
  }

  /**
   * Every row the same, so N ranks of batch 3 see what one rank of batch 3N sees: the mean over
   * ranks must train like the bigger batch. The ranks' weights are compared after every update
   * (checksum_every=1), so they stay identical bit for bit.
   */
  @ParameterizedTest
  @CsvSource({"2, reference", "3, reference", "4, reference", "2, native", "3, native",
      "4, native"})
  void ranksTrainLikeOneRankWithTheWholeBatchAndHoldTheSameWeights(int world, String backend) {
    Path t = dir.resolve("uniform");
    SequencesFixture.create(t, SEQ, VOCAB, 4, 6, 3, (row, col) -> (col * 7 + 3) % VOCAB);
    Trainer.Result ranks = same(ranks(world, config("n", t.toString(), "backend=" + backend,
        "distributed.world_size=" + world), false, -1));
    Trainer.Result one = trainer(config("one", t.toString(), "backend=" + backend,
        "data.batch_size=" + 3 * world)).build().run();
    assertEquals(6, ranks.steps());
    float[] a = params(ranks.checkpoint());
    float[] b = params(one.checkpoint());
    double worst = 0;
    for (int i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i] - b[i]));
    }
    System.out.printf("%d ranks (%s) vs one rank: max parameter difference %.3g%n", world,
        backend, worst);
    assertTrue(worst <= ONE_RANK_TOLERANCE, "max parameter difference " + worst);
    assertEquals(one.trainLoss(), ranks.trainLoss(), 1e-5);
  }

  /**
   * Three shards over two ranks: rank 0 reads 14 rows an epoch, rank 1 reads 7, so after 3
   * updates they are at different places. Stopped there and resumed, the run ends bit for bit as
   * an uninterrupted one: each rank resumed at its own position.
   */
  @ParameterizedTest
  @ValueSource(strings = {"reference", "native"})
  void aTwoRankRunResumesBitForBit(String backend) {
    String t = table("t", 3, 7, 3);
    Trainer.Result clean = same(ranks(2, config("clean", t, "backend=" + backend), false, -1));
    Trainer.Result half = same(ranks(2, config("b", t, "backend=" + backend), false, 3));
    assertEquals(StopReason.STOP_AT, half.stopReason());
    Checkpoint.Header h = Checkpoint.readHeader(new Configuration(), half.checkpoint());
    assertEquals(2, h.worldSize());
    assertTrue(!h.positions().get(0).equals(h.positions().get(1)), h.positions().toString());
    Trainer.Result rest = same(ranks(2, config("b", t, "backend=" + backend), true, -1));
    assertEquals(6, rest.steps());
    assertSameBits(clean.checkpoint(), rest.checkpoint(), "uninterrupted vs resumed at 3");
    assertEquals(clean.trainLoss(), rest.trainLoss());
    assertEquals(clean.valLoss(), rest.valLoss());
  }

  @Test
  void resumingWithAnotherWorldSizeIsRefused() {
    String t = table("t", 3, 7, 3);
    same(ranks(2, config("b", t), false, 3));
    IllegalArgumentException one = assertInstanceOf(IllegalArgumentException.class,
        trainerError(() -> trainer(config("b", t)).optResume(true).build().run()));
    assertTrue(one.getMessage().contains("ckpt-0000000003.flm was written by a run of 2 ranks"
        + " (distributed.world_size 2), but this run has 1 rank") && one.getMessage()
        .contains("resume with distributed.world_size=2"), one.getMessage());
    for (RankThreads.Outcome<Trainer.Result> o : ranks(3, config("b", t), true, -1)) {
      assertTrue(o.error() instanceof IllegalArgumentException
          && o.error().getMessage().contains("but this run has 3 ranks"), "rank " + o.rank()
          + ": " + o.error());
    }
  }

  private static Throwable trainerError(Runnable r) {
    try {
      r.run();
    } catch (RuntimeException e) {
      return e;
    }
    throw new AssertionError("no error");
  }

  /**
   * Rank 1 holds 2 validation rows, fewer than a batch, rank 0 holds 4: no rank evaluates (a
   * rank that skipped alone would leave the others waiting in their allreduce).
   */
  @Test
  void aRankShortOfAValidationBatchMeansNoRankEvaluates() {
    String t = table("short", 3, 7, 2);
    Trainer.Result r = same(ranks(2, config("r", t), false, -1));
    assertTrue(Double.isNaN(r.valLoss()), "val loss " + r.valLoss());
    assertTrue(console.toString().contains("no evaluation: sequences table " + t + " version 0"
        + " split validation holds rows [4, 2] on ranks 0..1, fewer than one batch of 3 on a"
        + " rank"), console.toString());
  }

  /** Rank 0 holds 2 validation batches, rank 1 one: both evaluate one. */
  @Test
  void everyRankEvaluatesAsManyBatchesAsTheRankWithTheFewest() {
    String t = table("t", 3, 7, 3);
    Trainer.Result r = same(ranks(2, config("r", t), false, -1));
    assertTrue(Double.isFinite(r.valLoss()));
    assertTrue(console.toString().contains("evaluating 1 batches on each rank (split validation"
        + " holds rows [6, 3] on ranks 0..1)"), console.toString());
  }

  /**
   * Rank 1's clock runs ten times slower than rank 0's: the decay window still opens at the step
   * rank 0's clock says, on both, and both stop after it.
   */
  @Test
  void theTimeBudgetWindowOpensWhereRank0sClockSays() {
    String t = table("t", 3, 7, 3);
    TrainConfig c = config("b", t, "max_steps=1000", "time_budget=2s",
        "schedule.decay_fraction=0.25", "eval_every=0", "checkpoint.every=0");
    IntFunction<LongSupplier> clocks = r -> {
      AtomicLong now = new AtomicLong();
      return () -> now.addAndGet(r == 0 ? 10 : 1);
    };
    Trainer.Result r = same(RankThreads.ring(2, TIMEOUT, col -> trainer(c).optCollective(col)
        .optClock(clocks.apply(col.rank())).build().run()));
    assertEquals(StopReason.TIME_BUDGET, r.stopReason());
  }

  /** A rank whose update differs (here a gradient nudged on rank 1) stops the run loudly. */
  @Test
  void weightsThatDifferBetweenRanksFailTheRunNamingTheStep() {
    String t = table("t", 3, 7, 3);
    TrainConfig c = config("r", t, "distributed.checksum_every=2");
    LocalRendezvous rv = new LocalRendezvous(2);
    List<RankThreads.Outcome<Trainer.Result>> out = RankThreads.run(2, r -> new Nudging(
        RingCollective.connect(rv.forRank(r), r, 2, RankThreads.SECRET, "127.0.0.1", TIMEOUT),
        r == 1 ? 2 : -1), col -> trainer(c).optCollective(col).build().run());
    for (RankThreads.Outcome<Trainer.Result> o : out) {
      assertTrue(o.error() instanceof IllegalStateException && o.error().getMessage().startsWith(
          "the ranks' weights differ after step 2: rank(s) [1] hold other weights than rank 0"),
          "rank " + o.rank() + ": " + o.error());
    }
  }

  /**
   * The metrics of a 2-rank run go beside the checkpoints. An attempt that fails in update 6
   * (rank 1 throws) is recorded with its error; the retry resumes from step 4, its record of
   * step 5 replaces the failed attempt's, and it ends with the weights of a clean run.
   */
  @Test
  void aFailedAttemptIsRecordedAndItsRetryReplacesTheStepsItRepeats() throws Exception {
    String t = table("t", 3, 7, 3);
    Trainer.Result clean = same(ranks(2, config("clean", t), false, -1));
    TrainConfig c = config("r", t);
    LocalRendezvous rv = new LocalRendezvous(2);
    List<RankThreads.Outcome<Trainer.Result>> failed = RankThreads.run(2, r -> new Nudging(
        RingCollective.connect(rv.forRank(r), r, 2, RankThreads.SECRET, "127.0.0.1", TIMEOUT),
        r == 1 ? -6 : -1), col -> trainer(c).optCollective(col).build().run());
    assertTrue(failed.get(1).error().getMessage().contains("injected failure"));
    assertTrue(failed.get(0).error() != null);
    Trainer.Result rest = same(ranks(2, c, true, -1));
    assertSameBits(clean.checkpoint(), rest.checkpoint(), "clean vs failed at 6 and retried");

    List<JsonNode> records = new ArrayList<>();
    for (String line : Files.readAllLines(dir.resolve("r").resolve(CheckpointDir.METRICS))) {
      records.add(new ObjectMapper().readTree(line));
    }
    List<Long> steps = records.stream().filter(n -> n.get("type").asText().equals("train"))
        .map(n -> n.get("step").asLong()).toList();
    assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L), steps);
    List<String> types = records.stream().map(n -> n.get("type").asText())
        .filter(x -> !x.equals("train") && !x.equals("eval")).toList();
    assertEquals(List.of("attempt", "failure", "attempt", "stop"), types, records.toString());
    JsonNode second = records.stream().filter(n -> n.get("type").asText().equals("attempt"))
        .toList().get(1);
    assertEquals(2, second.get("attempt").asInt());
    assertEquals(4, second.get("step").asLong());
    assertTrue(second.get("resumed_from").asText().endsWith("ckpt-0000000004.flm"), second
        .toString());
    JsonNode failure = records.stream().filter(n -> n.get("type").asText().equals("failure"))
        .findFirst().orElseThrow();
    assertEquals(1, failure.get("attempt").asInt());
    assertTrue(failure.get("error").asText().contains("rank 1"), failure.toString());
  }

  @Test
  void aWorldLargerThanTheShardsIsRefusedNamingBoth() {
    String t = table("two", 2, 6, 3);
    for (RankThreads.Outcome<Trainer.Result> o : ranks(3, config("r", t), false, -1)) {
      assertTrue(o.error() instanceof IllegalArgumentException && o.error().getMessage()
          .startsWith("distributed.world_size 3 is more than the 2 shards of sequences table"),
          "rank " + o.rank() + ": " + o.error());
    }
  }

  /** Rank 1 asked for version 0 of a table whose latest (rank 0's) is 1: it fails saying so. */
  @Test
  void ranksThatOpenDifferentTableVersionsFail() {
    Path t = dir.resolve("versions");
    SequencesFixture f = SequencesFixture.random(t, SEQ, VOCAB, 2, 6, 3, 5);
    f.commit(List.of(f.add(SequencesTable.TRAIN, 0, SequencesFixture.randomRows(3, SEQ, VOCAB,
        9), 0)));
    List<RankThreads.Outcome<Trainer.Result>> out = RankThreads.ring(2, TIMEOUT, col -> trainer(
        config("r", t.toString(), col.rank() == 1 ? "data.version=0" : "log.every=1"))
        .optCollective(col).build().run());
    assertTrue(out.get(1).error() instanceof IllegalStateException && out.get(1).error()
        .getMessage().equals("rank 1 opened sequences table " + t + " version 0 but rank 0"
        + " opened version 1: the ranks of a run must read one version; set data.version (the"
        + " barrier stage sets it to the version its driver resolved)"), out.toString());
  }

  /**
   * A collective that, on a rank given {@code at > 0}, adds 1e-3 to the first gradient after
   * the gradient allreduce of update {@code at}; given {@code at < -1}, throws at update
   * {@code -at} instead (an injected task failure).
   */
  private static final class Nudging implements Collective {
    private final Collective c;
    private final int at;
    private int calls;

    Nudging(Collective c, int at) {
      this.c = c;
      this.at = at;
    }

    @Override
    public void allreduceMean(FloatBuffer grads) {
      calls++;
      if (at < -1 && calls == -at) {
        throw new IllegalStateException("injected failure at update " + calls + " on rank "
            + c.rank());
      }
      c.allreduceMean(grads);
      if (calls == at) {
        grads.put(0, grads.get(0) + 1e-3f);
      }
    }

    // the rest delegates
    public int rank() { return c.rank(); }
    public int worldSize() { return c.worldSize(); }
    public double allreduceMean(double v) { return c.allreduceMean(v); }
    public double allreduceMax(double v) { return c.allreduceMax(v); }
    public long broadcast(long v) { return c.broadcast(v); }
    public double broadcast(double v) { return c.broadcast(v); }
    public void barrier() { c.barrier(); }
    public long[] allGather(long v) { return c.allGather(v); }
    public void close() { c.close(); }
  }
}
