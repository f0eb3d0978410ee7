package flashlm.tests.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.ingest.DocumentsTable;
import flashlm.pipeline.ingest.Ingest;
import flashlm.pipeline.ingest.IngestConfig;
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.hash.Sha256;
import flashlm.pipeline.manifest.DeltaWrites;
import flashlm.tests.SparkTestSession;
import flashlm.tests.TableAssertions;
import flashlm.tests.fixtures.DownloadManifests;
import flashlm.tests.fixtures.FineWebEduFixture;
import flashlm.tests.fixtures.TinyStoriesFixture;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Ingest of the TinyStories and FineWeb-Edu fixtures into the documents table. */
class IngestTest {
  @TempDir Path dir;

  @Test
  void tinyStoriesTextSplitsOnSeparatorWithOffsetsSplitsAndManifest() throws Exception {
    SparkSession spark = SparkTestSession.get();
    List<Path> files = TinyStoriesFixture.write(dir.resolve("in"), 64 << 10, 24 << 10);
    DatasetPaths paths = new DatasetPaths(dir.resolve("ds").toString());
    IngestConfig config = IngestConfig.defaults()
        .withFiles(List.of(dir.resolve("in").toString() + "/*.txt"))
        .withSource("roneneldan/TinyStories");

    DeltaWrites.Result first = Ingest.run(spark, paths, config);
    assertTrue(first.committed());
    assertEquals(0, first.version());

    List<Row> rows = spark.read().format("delta").load(paths.documents())
        .orderBy(DocumentsTable.SOURCE_FILE, DocumentsTable.SOURCE_OFFSET).collectAsList();
    List<String> train = TinyStoriesFixture.documents(Files.readString(files.get(0)));
    List<String> valid = TinyStoriesFixture.documents(Files.readString(files.get(1)));
    assertEquals(train.size() + valid.size(), rows.size());
    byte[] trainBytes = Files.readAllBytes(files.get(0));
    for (int i = 0; i < rows.size(); i++) {
      Row r = rows.get(i);
      boolean isTrain = i < train.size();
      String file = isTrain ? TinyStoriesFixture.TRAIN : TinyStoriesFixture.VALID;
      assertEquals(isTrain ? train.get(i) : valid.get(i - train.size()), r.getString(5));
      assertEquals(file, r.getString(2));
      assertEquals(isTrain ? null : "validation", r.isNullAt(4) ? null : r.getString(4));
      assertEquals(DocumentsTable.docId("roneneldan/TinyStories", file, r.getLong(3)),
          r.getString(0));
      if (isTrain) { // the offset points at the document's segment in the file
        String at = new String(trainBytes, (int) r.getLong(3),
            Math.min(200, trainBytes.length - (int) r.getLong(3)), StandardCharsets.UTF_8);
        assertTrue(at.strip().startsWith(r.getString(5).substring(0, 20)), at);
      }
    }

    DatasetManifest m = TableAssertions.latestManifest(spark, paths.documents());
    assertEquals("ingest", m.job());
    assertEquals(List.of(TinyStoriesFixture.TRAIN, TinyStoriesFixture.VALID),
        m.files().stream().map(DatasetManifest.FileEntry::path).toList());
    assertEquals(Sha256.hex(trainBytes), m.files().get(0).sha256());
    assertEquals((long) train.size(), m.counts().get("unassigned").documents());
    assertEquals((long) valid.size(), m.counts().get("validation").documents());
    Map<String, String> props = TableAssertions.properties(spark, paths.documents());
    assertEquals(m.toJson(), props.get("flashlm.manifest"));
    assertEquals(Long.toString(rows.size()), props.get(DocumentsTable.PROP_DOCUMENTS));

    DeltaWrites.Result again = Ingest.run(spark, paths, config);
    assertFalse(again.committed());
    assertEquals(0, again.version());
    assertEquals(rows.size(), spark.read().format("delta").load(paths.documents()).count());
  }

  @Test
  void blankDocumentsAreDroppedAndCounted() throws Exception {
    SparkSession spark = SparkTestSession.get();
    Path in = Files.createDirectories(dir.resolve("raw"));
    Files.writeString(in.resolve("a.txt"), "one<|endoftext|>  \n\t<|endoftext|><|endoftext|> two \n"
        + "<|endoftext|>\n");
    DatasetPaths paths = new DatasetPaths(dir.toString());
    DeltaWrites.Result r =
        Ingest.run(spark, paths, IngestConfig.defaults().withFiles(List.of("*.txt")));
    List<String> texts = spark.read().format("delta").load(paths.documents())
        .orderBy(DocumentsTable.SOURCE_OFFSET).select(DocumentsTable.TEXT).as(
            org.apache.spark.sql.Encoders.STRING()).collectAsList();
    assertEquals(List.of("one", "two"), texts);
    assertEquals(2L, r.manifest().counts().get("unassigned").documents());
    assertEquals(3L, r.manifest().counts().get("unassigned").blankDocuments());
    assertEquals("local", r.manifest().source().name());
  }

  @Test
  void fineWebEduParquetFromDownloadManifestKeepsSourceColumns() throws Exception {
    SparkSession spark = SparkTestSession.get();
    DatasetPaths paths = new DatasetPaths(dir.toString());
    Path raw = Path.of(paths.raw());
    List<Path> files = FineWebEduFixture.writeSample(raw, 3);
    DownloadManifests.write(raw, files, "HuggingFaceFW/fineweb-edu");

    DeltaWrites.Result r = Ingest.run(spark, paths, IngestConfig.defaults());
    assertTrue(r.committed());
    var table = spark.read().format("delta").load(paths.documents());
    StructType schema = table.schema();
    List<String> names = List.of(schema.fieldNames());
    assertEquals(DocumentsTable.COLUMNS, names.subList(0, 6));
    assertEquals(List.of("id", "dump", "url", "date", "file_path", "language", "language_score",
        "token_count", "score", "int_score"), names.subList(6, names.size()));
    assertEquals(DataTypes.LongType, schema.apply("token_count").dataType());
    assertEquals(DataTypes.DoubleType, schema.apply("language_score").dataType());

    List<FineWebEduFixture.Doc> docs = FineWebEduFixture.documents();
    List<Row> rows = table.orderBy(DocumentsTable.SOURCE_FILE, DocumentsTable.SOURCE_OFFSET)
        .collectAsList();
    assertEquals(docs.size(), rows.size());
    for (int i = 0; i < rows.size(); i++) {
      Row row = rows.get(i);
      FineWebEduFixture.Doc d = docs.get(i);
      assertEquals(d.text(), row.getAs("text"));
      assertEquals(d.id(), row.getAs("id"));
      assertEquals(d.tokenCount(), (long) row.getAs("token_count"));
      assertEquals(d.score(), (double) row.getAs("score"));
      assertEquals(DocumentsTable.docId("HuggingFaceFW/fineweb-edu", row.getString(2),
          row.getLong(3)), row.getString(0));
      assertNull(row.get(4));
    }
    assertEquals(0L, rows.get(0).getLong(3));
    assertEquals("sample/10BT/000_00000.parquet", rows.get(0).getString(2));
    Map<String, String> props = TableAssertions.properties(spark, paths.documents());
    assertEquals("HuggingFaceFW/fineweb-edu", props.get(DocumentsTable.PROP_SOURCE_REPO));
    assertEquals(DownloadManifests.COMMIT,
        props.get(DocumentsTable.PROP_RESOLVED_COMMIT));
    assertEquals(DownloadManifests.COMMIT,
        r.manifest().source().resolvedCommit());

    DeltaWrites.Result again = Ingest.run(spark, paths, IngestConfig.defaults());
    assertFalse(again.committed());
    assertEquals(r.version(), again.version());
  }
}
