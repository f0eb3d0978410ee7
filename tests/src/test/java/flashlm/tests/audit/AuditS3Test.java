package flashlm.tests.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.config.Configs;
import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.audit.Diff;
import flashlm.pipeline.audit.History;
import flashlm.pipeline.audit.Leaks;
import flashlm.pipeline.audit.Lineage;
import flashlm.pipeline.audit.Verify;
import flashlm.pipeline.ingest.Ingest;
import flashlm.pipeline.ingest.IngestConfig;
import flashlm.pipeline.tokenize.Tokenize;
import flashlm.pipeline.tokenize.TokenizeConfig;
import flashlm.tests.S3ProxyServer;
import flashlm.tests.SparkTestSession;
import flashlm.tests.fixtures.DownloadManifests;
import flashlm.tests.fixtures.Llama2Fixture;
import flashlm.tests.fixtures.TinyStoriesFixture;
import flashlm.train.TrainConfig;
import flashlm.train.Trainer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The audit commands on s3a:// tables (S3Proxy on loopback), and a train run whose row goes to a
 * runs table in the bucket, written by Delta Kernel.
 */
class AuditS3Test {
  @TempDir Path dir;

  @Test
  void historyDiffVerifyLeaksAndLineageOnS3a() throws Exception {
    SparkSession spark = SparkTestSession.get();
    S3ProxyServer s3 = S3ProxyServer.shared();
    s3.configure(spark);
    Configuration conf = spark.sparkContext().hadoopConfiguration();
    DatasetPaths paths = new DatasetPaths(s3.uri("audit-s3/tinystories"));
    Path local = dir.resolve("raw");
    List<Path> files = TinyStoriesFixture.write(local, 32 << 10, 8 << 10);
    DownloadManifests.write(local, files, "roneneldan/TinyStories");
    FileSystem fs = new org.apache.hadoop.fs.Path(paths.root()).getFileSystem(conf);
    try (var listing = Files.list(local)) {
      for (Path f : listing.toList()) {
        fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(f.toUri()),
            new org.apache.hadoop.fs.Path(paths.raw() + "/" + f.getFileName()));
      }
    }
    Ingest.run(spark, paths, IngestConfig.defaults());
    TokenizeConfig llama = TokenizeConfig.defaults()
        .withTokenizer(Llama2Fixture.tokenizerJson().toString()).withPacking(32, 2);
    Tokenize.run(spark, paths, llama);
    Tokenize.run(spark, paths, llama.withPacking(48, 2));
    String table = paths.sequences();

    History.Report h = History.run(spark, table);
    assertEquals(2, h.versions().size());
    assertEquals(DownloadManifests.COMMIT, h.versions().get(1).resolvedCommit());
    assertTrue(h.table().startsWith("s3a://"), h.table());
    Diff.Report d = Diff.run(spark, table, 0, 1);
    assertTrue(d.callouts().contains("seq_len changed: 32 -> 48"), d.callouts().toString());
    Verify.Report v = Verify.run(spark, table, null, 3, 1, 5);
    assertEquals(List.of(), v.problems());
    assertTrue(v.checks().stream().anyMatch(c -> c.check().startsWith("source file")
        && c.status().equals("ok") && c.where().startsWith("s3a://")), v.checks().toString());
    assertEquals(List.of(), Leaks.run(spark, table, null, null, null, 3).problems());

    Configuration trainConf = new Configuration();
    s3.configure(trainConf, S3ProxyServer.BUCKET);
    TrainConfig c = Configs.load(Path.of("../conf/v7-smoke.json"), TrainConfig.class, List.of(
        "backend=native", "data.table=" + table, "model.seq_len=48", "max_steps=2",
        "schedule.warmup=1", "eval_every=0", "eval_batches=0", "log.every=1",
        "checkpoint.dir=" + dir.resolve("ckpt"), "log.metrics=" + dir.resolve("m.jsonl")));
    Trainer.Result r = Trainer.builder(c).optHadoopConf(trainConf)
        .optOut(new PrintStream(new ByteArrayOutputStream(), true)).build().run();
    Lineage.Report users = Lineage.ofTable(spark, table, 1L, null);
    assertEquals(paths.root() + "/runs", users.runsTable());
    assertEquals(1, users.segments().size());
    assertEquals(r.checkpoint(), users.segments().get(0).checkpoint());
    assertEquals(DownloadManifests.COMMIT, users.data().get(0).resolvedCommit());
  }
}
