package flashlm.tests.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import flashlm.config.Configs;
import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.audit.History;
import flashlm.pipeline.audit.Lineage;
import flashlm.pipeline.audit.Verify;
import flashlm.pipeline.ingest.Ingest;
import flashlm.pipeline.ingest.IngestConfig;
import flashlm.pipeline.tokenize.Tokenize;
import flashlm.pipeline.tokenize.TokenizeConfig;
import flashlm.tests.SparkTestSession;
import flashlm.tests.fixtures.Llama2Fixture;
import flashlm.tests.fixtures.TinyStoriesFixture;
import flashlm.train.TrainConfig;
import flashlm.train.Trainer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Lineage of real {@code train} runs on conf/v7-smoke.json: a run on version 0 of a sequences
 * table, resumed on version 1, is two segments, each with its data's manifest; the runs table
 * answers which runs used a version. Once version 0's files are gone (as VACUUM leaves it),
 * {@code train} and {@code audit} refuse it, naming the oldest version still readable.
 */
class AuditLineageTest {
  private static final int SEQ_LEN = 64;

  @TempDir Path dir;

  private final SparkSession spark = SparkTestSession.get();

  private TrainConfig config(String table, long version, int steps, String checkpoints) {
    return Configs.load(Path.of("../conf/v7-smoke.json"), TrainConfig.class, List.of(
        "backend=native", "data.table=" + table, "data.version=" + version,
        "model.seq_len=" + SEQ_LEN, "max_steps=" + steps, "schedule.warmup=1", "eval_every=0",
        "eval_batches=1", "log.every=1", "checkpoint.every=1", "checkpoint.keep=10",
        "checkpoint.dir=" + checkpoints, "log.metrics=" + dir.resolve("metrics.jsonl")));
  }

  private static Trainer.Result train(TrainConfig c, boolean resume) {
    return Trainer.builder(c).optResume(resume)
        .optOut(new PrintStream(new ByteArrayOutputStream(), true)).build().run();
  }

  @Test
  void lineageFollowsAResumeOntoAnotherVersionAndTheRunsTableAnswersTheReverse()
      throws Exception {
    TinyStoriesFixture.write(dir.resolve("raw"), 64 << 10, 12 << 10);
    DatasetPaths paths = new DatasetPaths(dir.resolve("data").toString());
    Ingest.run(spark, paths, new IngestConfig(null, "roneneldan/TinyStories", List.of(
        dir.resolve("raw").resolve("*.txt").toString()), null, null, null, null, null, null));
    TokenizeConfig llama = TokenizeConfig.defaults()
        .withTokenizer(Llama2Fixture.tokenizerJson().toString()).withPacking(SEQ_LEN, 2);
    Tokenize.run(spark, paths, llama);
    Tokenize.run(spark, paths, llama.withPacking(SEQ_LEN, 3));
    String table = paths.sequences();
    String ckpt = dir.resolve("ckpt").toString();

    Trainer.Result first = train(config(table, 0, 2, ckpt), false);
    Trainer.Result second = train(config(table, 1, 4, ckpt), true);

    Launch l = Launch.audit("lineage", ckpt, "--json");
    assertEquals(0, l.status(), l.err());
    JsonNode lineage = Configs.json().readTree(l.out());
    JsonNode segments = lineage.path("segments");
    assertEquals(2, segments.size(), segments.toString());
    assertEquals(0, segments.get(0).path("table_version").asLong());
    assertEquals(0, segments.get(0).path("start_step").asLong());
    assertEquals(2, segments.get(0).path("end_step").asLong());
    assertEquals(first.checkpoint(), segments.get(0).path("checkpoint").asText());
    assertEquals(1, segments.get(1).path("table_version").asLong());
    assertEquals(4, segments.get(1).path("end_step").asLong());
    assertEquals("validation", segments.get(1).path("validation_split").asText());
    JsonNode data = lineage.path("data");
    assertEquals(2, data.size());
    assertEquals("roneneldan/TinyStories", data.get(1).path("source").asText());
    assertEquals(2, data.get(1).path("files").size());
    assertTrue(data.get(1).path("tokenizer").asText().endsWith("llama2/tokenizer.json"));
    assertEquals(data.get(0).path("tokenizer_sha256"), data.get(1).path("tokenizer_sha256"));

    // One checkpoint: only the runs that led to it.
    Lineage.Report upTo2 = Lineage.ofCheckpoints(spark, first.checkpoint(), "file:" + ckpt,
        List.of(new Lineage.CheckpointFacts(first.checkpoint(), 2, table, 0, "train",
            "validation", dir.resolve("data/runs").toString())));
    assertEquals(1, upTo2.segments().size());

    Lineage.Report users = Lineage.ofTable(spark, table, 1L, null);
    assertEquals(1, users.segments().size());
    assertEquals(second.checkpoint(), users.segments().get(0).checkpoint());
    assertEquals(2, Lineage.ofTable(spark, table, null, null).segments().size());

    // What VACUUM RETAIN 0 HOURS does here, without its minute of Spark jobs on a busy
    // machine: the files version 0 reads and version 1 does not are deleted, the log stays.
    Set<String> kept = Set.of(spark.read().format("delta").load(table).inputFiles());
    for (String f : spark.read().format("delta").option("versionAsOf", 0).load(table)
        .inputFiles()) {
      if (!kept.contains(f)) {
        Files.delete(Path.of(URI.create(f)));
      }
    }
    IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
        () -> train(config(table, 0, 1, dir.resolve("again").toString()), false));
    assertTrue(refused.getMessage().contains("version 0 cannot be read")
        && refused.getMessage().contains("the oldest version still readable is 1"),
        refused.getMessage());
    Verify.Check files = Verify.run(spark, table, 0L, 0, 0, 3).checks().get(0);
    assertEquals("mismatch", files.status());
    assertTrue(files.where().contains("the oldest version still readable is 1"), files.where());
    History.Report h = History.run(spark, table);
    assertFalse(h.versions().get(0).readable());
    assertTrue(h.versions().get(1).readable());
    Launch diff = Launch.audit("diff", table, "0", "1");
    assertEquals(1, diff.status());
    assertTrue(diff.err().contains("version 0 cannot be read")
        && diff.err().contains("the oldest version still readable is 1"), diff.err());
    List<Boolean> readable = new ArrayList<>();
    Lineage.ofCheckpoints(spark, ckpt, "file:" + ckpt, List.of(new Lineage.CheckpointFacts(
        second.checkpoint(), 4, table, 1, "train", "validation",
        dir.resolve("data/runs").toString()))).data().forEach(d -> readable.add(d.readable()));
    assertEquals(List.of(false, true), readable);
  }
}
