package flashlm.tests.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import flashlm.config.Configs;
import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.ingest.Ingest;
import flashlm.pipeline.ingest.IngestConfig;
import flashlm.pipeline.tokenize.Tokenize;
import flashlm.pipeline.tokenize.TokenizeConfig;
import flashlm.tests.SparkTestSession;
import flashlm.tests.fixtures.Llama2Fixture;
import flashlm.tests.fixtures.TinyStoriesFixture;
import flashlm.train.TrainConfig;
import flashlm.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The product's training path on real text: the TinyStories fixture through ingest and tokenize
 * (LLaMA-2 tokenizer), then conf/v7-smoke.json on the native backend for a few hundred steps. A
 * model that learned nothing beyond token frequencies sits at the unigram entropy; this one must
 * go well below it, and its validation loss must fall.
 */
class SmokeTrainingTest {
  private static final int SEQ_LEN = 64;
  private static final int STEPS = 300;
  /** How far below the train split's unigram entropy (nats) the final train loss must be. */
  private static final double BELOW_UNIGRAM = 0.3;

  @TempDir Path dir;

  @Test
  void smokeConfigLearnsTinyStoriesBeyondUnigramStatistics() throws Exception {
    SparkSession spark = SparkTestSession.get();
    TinyStoriesFixture.write(dir.resolve("raw"), 2 << 20, 128 << 10);
    DatasetPaths paths = new DatasetPaths(dir.toString());
    Ingest.run(spark, paths, new IngestConfig(null, "roneneldan/TinyStories",
        List.of(TinyStoriesFixture.TRAIN, TinyStoriesFixture.VALID), null, null, null, null,
        List.of("*train*"), null));
    Tokenize.run(spark, paths, TokenizeConfig.defaults()
        .withTokenizer(Llama2Fixture.tokenizerJson().toString()).withPacking(SEQ_LEN, 2));
    double unigram = unigramEntropy(spark, paths.sequences());

    Path metrics = dir.resolve("metrics.jsonl");
    TrainConfig c = Configs.load(Path.of("../conf/v7-smoke.json"), TrainConfig.class, List.of(
        "backend=native", "data.table=" + paths.sequences(), "data.batch_size=8",
        "model.seq_len=" + SEQ_LEN, "max_steps=" + STEPS, "schedule.warmup=30",
        "eval_every=100", "eval_batches=8", "log.every=25", "checkpoint.every=0",
        "checkpoint.dir=" + dir.resolve("ckpt"), "log.metrics=" + metrics));
    Trainer.Result r = Trainer.builder(c).build().run();

    List<Double> val = new ArrayList<>();
    for (String line : Files.readAllLines(metrics)) {
      JsonNode m = Configs.json().readTree(line);
      if (m.path("type").asText().equals("eval")) {
        val.add(m.path("val_loss").asDouble());
      }
    }
    System.out.printf("smoke: unigram entropy %.3f nats, final train loss %.3f, validation %s%n",
        unigram, r.trainLoss(), val);
    assertTrue(r.trainLoss() < unigram - BELOW_UNIGRAM, "train loss " + r.trainLoss()
        + " is not " + BELOW_UNIGRAM + " nats below the unigram entropy " + unigram);
    assertTrue(val.size() >= 3, "evaluations: " + val);
    assertTrue(val.get(val.size() - 1) < val.get(0), "validation loss did not fall: " + val);
  }

  /** Entropy in nats of the train rows' target tokens (positions 1..seq_len). */
  private static double unigramEntropy(SparkSession spark, String table) {
    List<Row> counts = spark.read().format("delta").load(table).where("split = 'train'")
        .selectExpr("explode(slice(tokens, 2, " + SEQ_LEN + ")) as t").groupBy("t").count()
        .collectAsList(); // at most the 32,000 ids of the vocabulary
    double total = counts.stream().mapToLong(x -> x.getLong(1)).sum();
    double h = 0;
    for (Row x : counts) {
      double p = x.getLong(1) / total;
      h -= p * Math.log(p);
    }
    return h;
  }
}
