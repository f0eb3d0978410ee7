package flashlm.tests.train;

import static flashlm.tests.train.SmokeSequences.assertSameBits;
import static flashlm.tests.train.SmokeSequences.bits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import flashlm.cluster.ClusterTraining;
import flashlm.config.ConfigException;
import flashlm.config.Configs;
import flashlm.tests.SparkTestSession;
import flashlm.train.CheckpointDir;
import flashlm.train.StopReason;
import flashlm.train.TrainConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code train} with two ranks as one barrier stage on the shared {@code local[2]} session:
 * conf/v7-smoke.json for a few dozen steps on the smoke table (two shards, one per rank), one
 * OpenMP thread per rank. The loss falls; a rank that throws in the middle is retried from the
 * newest checkpoint and the run ends with the weights of an uninterrupted run, bit for bit; more
 * ranks than shards are refused before any task starts. Every rank averages the same gradients
 * at every update (a digest of them, kept by a test hook, is the same on both ranks), so their
 * weights stay identical, which the ranks also check themselves every 10 updates.
 */
class BarrierTrainingTest {
  private static final int STEPS = 40;
  private static final String FAIL_AT = "spark.flashlm.test.failAt";
  private static final String DIGEST = "spark.flashlm.test.digest";

  @TempDir Path dir;

  private TrainConfig config(String run, String... extra) {
    List<String> o = new ArrayList<>(List.of("distributed.world_size=2",
        "distributed.threads_per_rank=1", "distributed.checksum_every=10", "max_steps=" + STEPS,
        "checkpoint.every=10"));
    o.addAll(List.of(extra));
    return SmokeSequences.config(dir.resolve(run).toString(), dir.resolve(run + ".jsonl"),
        o.toArray(String[]::new));
  }

  /** Runs {@code c} with the test hooks {@code failAt} (or null) and the gradient digest on. */
  private static ClusterTraining.Result train(TrainConfig c, String failAt) {
    SparkContext sc = SparkTestSession.get().sparkContext();
    sc.setLocalProperty(FAIL_AT, failAt);
    sc.setLocalProperty(DIGEST, "true");
    try {
      return ClusterTraining.run(SparkTestSession.get(), c, false, System.out);
    } finally {
      sc.setLocalProperty(FAIL_AT, null);
      sc.setLocalProperty(DIGEST, null);
    }
  }

  private List<JsonNode> records(String run) throws Exception {
    List<JsonNode> out = new ArrayList<>();
    for (String line : Files.readAllLines(dir.resolve(run + ".jsonl"))) {
      out.add(Configs.json().readTree(line));
    }
    return out;
  }

  private List<Double> losses(String run) throws Exception {
    return records(run).stream().filter(m -> m.path("type").asText().equals("train"))
        .map(m -> m.path("loss").asDouble()).toList();
  }

  @Test
  void twoRanksTrainAsOneBarrierStageInStepAndTheLossFalls() throws Exception {
    SmokeSequences.table();
    long t0 = System.nanoTime();
    ClusterTraining.Result r = train(config("two"), null);
    System.out.printf("barrier: 2 ranks x %d steps in %.1f s; %s%n", STEPS,
        (System.nanoTime() - t0) / 1e9, r.placements());
    assertEquals(2, r.worldSize());
    assertEquals(STEPS, r.result().steps());
    assertEquals(StopReason.MAX_STEPS, r.result().stopReason());
    assertEquals(1, r.attempts().size());
    assertNull(r.attempts().get(0).failure());
    assertTrue(r.placements().get(0).startsWith("rank 0 on ")
        && r.placements().get(1).startsWith("rank 1 on "), r.placements().toString());
    assertTrue(r.placements().get(1).contains("1 OpenMP thread"), r.placements().toString());
    assertEquals(new CheckpointDir(new Configuration(), dir.resolve("two").toString())
        .path(STEPS), r.result().checkpoint());
    List<Double> loss = losses("two");
    double first = loss.get(0);
    double last = loss.get(loss.size() - 1);
    assertTrue(last < first - 1.0, "the loss did not fall: " + loss);
    assertEquals(r.digests().get(0), r.digests().get(1),
        "the ranks averaged different gradients, so their weights differ");
  }

  @Test
  void aRankThatThrowsIsRetriedFromTheNewestCheckpointAndEndsBitExact() throws Exception {
    SmokeSequences.table();
    ClusterTraining.Result clean = train(config("clean"), null);
    long t0 = System.nanoTime();
    ClusterTraining.Result cut = train(config("cut"), "1:15");
    System.out.printf("barrier: a rank failed at update 15; %d attempts in %.1f s: %s%n",
        cut.attempts().size(), (System.nanoTime() - t0) / 1e9, cut.attempts());
    assertEquals(2, cut.attempts().size(), cut.attempts().toString());
    String failure = cut.attempts().get(0).failure();
    assertTrue(failure.startsWith("rank 1 on ") && failure.contains("fault injected at update 15"),
        failure);
    assertTrue(cut.attempts().get(1).resumed());
    assertEquals(STEPS, cut.result().steps());
    Configuration conf = new Configuration();
    assertSameBits(bits(conf, clean.result().checkpoint()), bits(conf, cut.result().checkpoint()),
        "clean 2-rank run vs one retried after a rank failed at update 15");
    // rank 0's metrics: each attempt's start, the first one's failure, each step once
    List<JsonNode> records = records("cut");
    List<String> kinds = records.stream().map(m -> m.path("type").asText())
        .filter(t -> !t.equals("train")).toList();
    assertEquals(List.of("attempt", "failure", "attempt", "stop"), kinds, records.toString());
    JsonNode second = records.stream().filter(m -> m.path("type").asText().equals("attempt"))
        .toList().get(1);
    assertEquals(2, second.path("attempt").asInt(), second.toString());
    assertEquals(STEPS, records.stream().filter(m -> m.path("type").asText().equals("train"))
        .map(m -> m.path("step").asLong()).distinct().count(), records.toString());
  }

  @Test
  void aBackendThisBuildDoesNotDriveFailsOnceNamingWhatWasLookedFor() {
    SmokeSequences.table();
    UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
        () -> train(config("nccl", "distributed.backend=nccl"), null));
    assertTrue(e.getMessage().contains("libnccl") && e.getMessage().contains("cpu-ring"),
        e.getMessage());
  }

  @Test
  void moreRanksThanShardsAreRefusedBeforeAnyTaskStarts() {
    SmokeSequences.table();
    int jobsBefore = SparkTestSession.get().sparkContext().statusTracker()
        .getJobIdsForGroup(null).length;
    ConfigException e = assertThrows(ConfigException.class,
        () -> train(config("wide", "distributed.world_size=3"), null));
    assertTrue(e.getMessage().contains("distributed.world_size 3 is more than the 2 shards"),
        e.getMessage());
    assertEquals(jobsBefore, SparkTestSession.get().sparkContext().statusTracker()
        .getJobIdsForGroup(null).length, "a job ran");
  }
}
