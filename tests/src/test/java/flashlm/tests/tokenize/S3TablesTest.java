package flashlm.tests.tokenize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import flashlm.pipeline.manifest.DeltaWrites;
import flashlm.table.SequencesTable;
import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.ingest.DocumentsTable;
import flashlm.pipeline.ingest.Ingest;
import flashlm.pipeline.ingest.IngestConfig;
import flashlm.hash.Sha256;
import flashlm.pipeline.tokenize.Tokenize;
import flashlm.pipeline.tokenize.TokenizeConfig;
import flashlm.tests.S3ProxyServer;
import flashlm.tests.SparkTestSession;
import flashlm.tests.TableAssertions;
import flashlm.tests.fixtures.DownloadManifests;
import flashlm.tests.fixtures.Llama2Fixture;
import flashlm.tests.fixtures.TinyStoriesFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Ingest and tokenize with every file and table on s3a:// (S3Proxy on loopback). */
class S3TablesTest {
  @TempDir Path dir;

  @Test
  void ingestAndTokenizeReadAndWriteDeltaTablesThroughS3a() throws Exception {
    SparkSession spark = SparkTestSession.get();
    S3ProxyServer s3 = S3ProxyServer.shared();
    s3.configure(spark);
    Configuration conf = spark.sparkContext().hadoopConfiguration();
    DatasetPaths paths = new DatasetPaths(s3.uri("s3-tables-test/tinystories"));

    // Raw files and the download manifest, uploaded as the downloader would leave them.
    Path local = dir.resolve("raw");
    List<Path> files = TinyStoriesFixture.write(local, 24 << 10, 8 << 10);
    DownloadManifests.write(local, files, "roneneldan/TinyStories");
    String tokenizer = s3.uri("s3-tables-test/llama2/tokenizer.json");
    FileSystem fs = new org.apache.hadoop.fs.Path(paths.root()).getFileSystem(conf);
    try (var listing = Files.list(local)) {
      for (Path f : listing.toList()) {
        fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(f.toUri()),
            new org.apache.hadoop.fs.Path(paths.raw() + "/" + f.getFileName()));
      }
    }
    fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(Llama2Fixture.tokenizerJson().toUri()),
        new org.apache.hadoop.fs.Path(tokenizer));

    DeltaWrites.Result ingested = Ingest.run(spark, paths, IngestConfig.defaults());
    assertTrue(ingested.committed());
    assertEquals(Sha256.hex(Files.readAllBytes(files.get(0))),
        ingested.manifest().files().get(0).sha256());
    int seqLen = 32;
    TokenizeConfig config = TokenizeConfig.defaults().withTokenizer(tokenizer)
        .withPacking(seqLen, 2);
    DeltaWrites.Result result = Tokenize.run(spark, paths, config);
    assertTrue(result.committed());
    assertTrue(result.table().startsWith("s3a://"), result.table());
    assertTrue(fs.exists(new org.apache.hadoop.fs.Path(paths.sequences()
        + "/_delta_log/00000000000000000000.json")));

    List<ExpectedSequences.Doc> docs = new ArrayList<>();
    for (Row r : spark.read().format("delta").load(paths.documents()).selectExpr("doc_id",
        "coalesce(source_split, case when pmod(xxhash64('split', doc_id), 1000000) < 10000"
            + " then 'validation' else 'train' end)",
        "cast(pmod(xxhash64('shard', doc_id), 2) as int)", "text").collectAsList()) {
      docs.add(new ExpectedSequences.Doc(r.getString(0), r.getString(1), r.getInt(2),
          r.getString(3)));
    }
    ExpectedSequences expected;
    try (HuggingFaceTokenizer tok = Llama2Fixture.direct()) {
      expected = new ExpectedSequences(docs, tok, -1, Llama2Fixture.EOS);
    }
    TokenizeTest.assertTableMatches(spark, paths.sequences(), expected, seqLen);
    assertEquals("32", TableAssertions.properties(spark, paths.sequences())
        .get(SequencesTable.PROP_SEQ_LEN));
    assertEquals(DocumentsTable.docId("roneneldan/TinyStories", TinyStoriesFixture.TRAIN, 0),
        spark.read().format("delta").load(paths.documents())
            .where("source_file = '" + TinyStoriesFixture.TRAIN + "' and source_offset = 0")
            .select(DocumentsTable.DOC_ID).first().getString(0));

    assertFalse(Ingest.run(spark, paths, IngestConfig.defaults()).committed());
    assertFalse(Tokenize.run(spark, paths, config).committed());
    assertEquals(0, TableAssertions.version(spark, paths.sequences()));
  }
}
