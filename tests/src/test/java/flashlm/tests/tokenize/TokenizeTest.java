package flashlm.tests.tokenize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.pipeline.tokenize.Tokenize;
import flashlm.pipeline.tokenize.TokenizeConfig;
import flashlm.pipeline.tokenize.TokenizerFile;
import flashlm.tests.SparkTestSession;
import flashlm.tests.TableAssertions;
import flashlm.tests.fixtures.DownloadManifests;
import flashlm.tests.fixtures.FineWebEduFixture;
import flashlm.tests.fixtures.Llama2Fixture;
import flashlm.tests.fixtures.TinyStoriesFixture;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tokenize and pack, checked against the LLaMA-2 tokenizer applied to each document directly. */
class TokenizeTest {
  @TempDir Path dir;

  @Test
  void llama2TokenizerFileIsReadWithItsSpecialTokens() {
    TokenizerFile t = TokenizerFile.read(SparkTestSession.get().sparkContext()
        .hadoopConfiguration(), Llama2Fixture.dir().toString(), null, null);
    assertEquals(Llama2Fixture.VOCAB_SIZE, t.vocabSize());
    assertEquals(Llama2Fixture.BOS, t.bosId());
    assertEquals(Llama2Fixture.EOS, t.eosId());
    try (HuggingFaceTokenizer tok = t.newTokenizer()) {
      // Known LLaMA-2 ids: the sentencepiece prefix space, no BOS added by DJL.
      assertArrayEquals(new long[] {15043, 3186}, tok.encode("Hello world").getIds());
    }
  }

  @Test
  void tinyStoriesWithEosMatchesDirectEncodingAndRerunsCommitNothing() throws Exception {
    SparkSession spark = SparkTestSession.get();
    TinyStoriesFixture.write(dir.resolve("raw"), 48 << 10, 16 << 10);
    DatasetPaths paths = new DatasetPaths(dir.toString());
    IngestConfig ingest = new IngestConfig(null, "roneneldan/TinyStories",
        List.of(TinyStoriesFixture.TRAIN, TinyStoriesFixture.VALID), null, null, null, null,
        List.of("*train*"), null);
    Ingest.run(spark, paths, ingest);
    int seqLen = 64;
    TokenizeConfig config = TokenizeConfig.defaults()
        .withTokenizer(Llama2Fixture.tokenizerJson().toString())
        .withPacking(seqLen, 1)
        .withBatchSize(7); // batches that do not divide the documents evenly

    DeltaWrites.Result result = Tokenize.run(spark, paths, config);
    assertTrue(result.committed());
    List<ExpectedSequences.Doc> docs = new ArrayList<>();
    for (Row r : spark.read().format("delta").load(paths.documents()).collectAsList()) {
      docs.add(new ExpectedSequences.Doc(r.getAs(DocumentsTable.DOC_ID),
          r.getAs(DocumentsTable.SOURCE_SPLIT), 0, r.getAs(DocumentsTable.TEXT)));
    }
    ExpectedSequences expected;
    try (HuggingFaceTokenizer tok = Llama2Fixture.direct()) {
      expected = new ExpectedSequences(docs, tok, -1, Llama2Fixture.EOS);
    }
    assertEquals(List.of("train/0", "validation/0"), List.copyOf(expected.streams.keySet()));
    long dropped = assertTableMatches(spark, paths.sequences(), expected, seqLen);

    DatasetManifest m = TableAssertions.latestManifest(spark, paths.sequences());
    long rows = m.counts().values().stream().mapToLong(DatasetManifest.SplitCounts::rows).sum();
    assertEquals(expected.tokens, m.counts().values().stream()
        .mapToLong(DatasetManifest.SplitCounts::tokens).sum());
    assertEquals(expected.tokens - dropped, rows * (seqLen + 1));
    assertEquals(dropped, m.counts().values().stream()
        .mapToLong(DatasetManifest.SplitCounts::droppedTailTokens).sum());
    assertEquals(expected.documents, m.counts().values().stream()
        .mapToLong(DatasetManifest.SplitCounts::documents).sum());
    assertEquals("roneneldan/TinyStories", m.source().name());
    assertEquals(2, m.files().size());
    assertEquals(Llama2Fixture.VOCAB_SIZE, m.tokenizer().vocabSize());
    assertEquals(64, m.seqLen());
    assertEquals(64, m.config().path("seq_len").asInt());

    Map<String, String> props = TableAssertions.properties(spark, paths.sequences());
    assertEquals("64", props.get(SequencesTable.PROP_SEQ_LEN));
    assertEquals("32000", props.get(SequencesTable.PROP_VOCAB_SIZE));
    assertEquals("1", props.get(SequencesTable.PROP_NUM_SHARDS));
    assertEquals("1", props.get(SequencesTable.PROP_BOS_ID));
    assertEquals("2", props.get(SequencesTable.PROP_EOS_ID));
    assertEquals(m.tokenizer().sha256(), props.get(SequencesTable.PROP_VOCAB_FILE_SHA256));
    assertEquals(m.toJson(), props.get(SequencesTable.PROP_MANIFEST));
    assertEquals(SequencesTable.FORMAT_VERSION, props.get(SequencesTable.PROP_FORMAT_VERSION));

    // Re-running both steps on the same inputs commits nothing and adds no rows.
    long docsVersion = TableAssertions.version(spark, paths.documents());
    long seqVersion = TableAssertions.version(spark, paths.sequences());
    assertFalse(Ingest.run(spark, paths, ingest).committed());
    DeltaWrites.Result again = Tokenize.run(spark, paths, config.withBatchSize(64));
    assertFalse(again.committed());
    assertEquals(docsVersion, TableAssertions.version(spark, paths.documents()));
    assertEquals(seqVersion, TableAssertions.version(spark, paths.sequences()));
    assertEquals(rows, spark.read().format("delta").load(paths.sequences()).count());
  }

  @Test
  void fineWebEduShardsAndHashSplitWithBosMatchDirectEncoding() throws Exception {
    SparkSession spark = SparkTestSession.get();
    DatasetPaths paths = new DatasetPaths(dir.toString());
    Path raw = Path.of(paths.raw());
    DownloadManifests.write(raw, FineWebEduFixture.writeSample(raw, 2),
        "HuggingFaceFW/fineweb-edu");
    Ingest.run(spark, paths, IngestConfig.defaults());
    int seqLen = 128;
    int shards = 3;
    TokenizeConfig config = TokenizeConfig.defaults()
        .withTokenizer(Llama2Fixture.dir().toString()) // a directory holding tokenizer.json
        .withPacking(seqLen, shards)
        .withValidationRatio(0.2)
        .withSeparators(true, false)
        .withOutput("sequences-bos");
    DeltaWrites.Result result = Tokenize.run(spark, paths, config);
    assertEquals(dir.resolve("sequences-bos").toString(), result.table());

    // The documented rules, written out independently of the pipeline's Column code.
    List<ExpectedSequences.Doc> docs = new ArrayList<>();
    for (Row r : spark.read().format("delta").load(paths.documents()).selectExpr("doc_id",
        "case when pmod(xxhash64('split', doc_id), 1000000) < 200000 then 'validation'"
            + " else 'train' end",
        "cast(pmod(xxhash64('shard', doc_id), 3) as int)", "text").collectAsList()) {
      docs.add(new ExpectedSequences.Doc(r.getString(0), r.getString(1), r.getInt(2),
          r.getString(3)));
    }
    ExpectedSequences expected;
    try (HuggingFaceTokenizer tok = Llama2Fixture.direct()) {
      expected = new ExpectedSequences(docs, tok, Llama2Fixture.BOS, -1);
    }
    assertEquals(2 * shards, expected.streams.size(), "every (split, shard) has documents");
    long dropped = assertTableMatches(spark, result.table(), expected, seqLen);
    Map<String, DatasetManifest.SplitCounts> counts = result.manifest().counts();
    long validationDocs = docs.stream().filter(d -> d.split().equals("validation")).count();
    assertEquals(validationDocs, counts.get("validation").documents());
    assertEquals(docs.size() - validationDocs, counts.get("train").documents());
    assertEquals(dropped, counts.get("train").droppedTailTokens()
        + counts.get("validation").droppedTailTokens());
    assertEquals("HuggingFaceFW/fineweb-edu", result.manifest().source().repo());
    assertTrue(result.manifest().splitRule().contains("200000"), result.manifest().splitRule());
  }

  /**
   * Checks every (split, shard) of the table: dense seq_index from 0, rows of exactly seq_len + 1
   * ids, and the rows end to end equal to the expected stream up to the dropped tail.
   *
   * @return the tokens dropped as incomplete last rows, over all groups
   */
  static long assertTableMatches(SparkSession spark, String table, ExpectedSequences expected,
      int seqLen) {
    List<Row> rows = spark.read().format("delta").load(table)
        .orderBy(SequencesTable.SPLIT, SequencesTable.SHARD, SequencesTable.SEQ_INDEX)
        .collectAsList();
    long dropped = 0;
    int at = 0;
    for (Map.Entry<String, int[]> group : expected.streams.entrySet()) {
      int[] stream = group.getValue();
      int n = stream.length / (seqLen + 1);
      dropped += stream.length % (seqLen + 1);
      for (int i = 0; i < n; i++, at++) {
        Row r = rows.get(at);
        assertEquals(group.getKey(), r.getAs(SequencesTable.SPLIT) + "/"
            + r.getAs(SequencesTable.SHARD), "row " + at);
        assertEquals((long) i, (long) r.getAs(SequencesTable.SEQ_INDEX), group.getKey());
        List<Integer> tokens = r.getList(r.fieldIndex(SequencesTable.TOKENS));
        assertEquals(seqLen + 1, tokens.size(), group.getKey() + " row " + i);
        int[] want = Arrays.copyOfRange(stream, i * (seqLen + 1), (i + 1) * (seqLen + 1));
        int[] got = tokens.stream().mapToInt(Integer::intValue).toArray();
        String where = group.getKey() + " row " + i;
        assertArrayEquals(want, got, () -> where + ": first mismatch at index "
            + Arrays.mismatch(want, got));
      }
    }
    assertEquals(at, rows.size(), "rows beyond the expected ones");
    return dropped;
  }
}
