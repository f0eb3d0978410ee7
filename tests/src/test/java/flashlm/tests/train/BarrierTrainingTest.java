package flashlm.tests.train;

import static flashlm.tests.train.SmokeSequences.assertSameBits;
import static flashlm.tests.train.SmokeSequences.bits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

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
 * ranks than shards are refused before any task starts. The ranks' weights are compared only when
 * their collective averages gradients ({@link ClusterTraining#ranksReduce}).
 */
class BarrierTrainingTest {
  private static final int STEPS = 40;
  private static final String FAIL_AT = "spark.flashlm.test.failAt";
  private static final String DIGEST = "spark.flashlm.test.digest";

  @TempDir Path dir;

  private TrainConfig config(String run, String... extra) {
    List<String> o = new ArrayList<>(List.of("distributed.world_size=2",
        "distributed.threads_per_rank=1", "max_steps=" + STEPS, "checkpoint.every=10"));
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

  private List<Double> losses(String run) throws Exception {
    List<Double> out = new ArrayList<>();
    for (String line : Files.readAllLines(dir.resolve(run + ".jsonl"))) {
      JsonNode m = Configs.json().readTree(line);
      if (m.path("type").asText().equals("train")) {
        out.add(m.path("loss").asDouble());
      }
    }
    return out;
  }

  @Test
  void twoRanksTrainAsOneBarrierStageAndTheLossFalls() throws Exception {
    SmokeSequences.table();
    long t0 = System.nanoTime();
    ClusterTraining.Result r = train(config("two"), null);
    System.out.printf("barrier: 2 ranks x %d steps in %.1f s; %s; in collective calls %s%n",
        STEPS, (System.nanoTime() - t0) / 1e9, r.placements(), r.collectiveShares());
    assertEquals(2, r.worldSize());
    assertEquals(STEPS, r.result().steps());
    assertEquals(StopReason.MAX_STEPS, r.result().stopReason());
    assertEquals(1, r.attempts().size());
    assertNull(r.attempts().get(0).failure());
    assertTrue(r.placements().get(0).startsWith("rank 0 on ")
        && r.placements().get(1).startsWith("rank 1 on "), r.placements().toString());
    assertTrue(r.placements().get(1).contains("1 OpenMP thread"), r.placements().toString());
    assertTrue(r.collectiveShares().stream().allMatch(x -> x >= 0 && x < 1),
        r.collectiveShares().toString());
    assertEquals(new CheckpointDir(new Configuration(), dir.resolve("two").toString())
        .path(STEPS), r.result().checkpoint());
    List<Double> loss = losses("two");
    double first = loss.get(0);
    double last = loss.get(loss.size() - 1);
    assertTrue(last < first - 1.0, "the loss did not fall: " + loss);
  }

  /** Needs the ring allreduce: with stand-in collectives every rank trains on its own. */
  @Test
  void ranksAverageTheSameGradientsSoTheirWeightsStayIdentical() {
    assumeTrue(ClusterTraining.ranksReduce(), "the ranks' collective does not reduce yet");
    ClusterTraining.Result r = train(config("same"), null);
    assertEquals(r.digests().get(0), r.digests().get(1),
        "the ranks' averaged gradients differ, so their weights do");
  }

  @Test
  void aRankThatThrowsIsRetriedFromTheNewestCheckpointAndEndsBitExact() {
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
