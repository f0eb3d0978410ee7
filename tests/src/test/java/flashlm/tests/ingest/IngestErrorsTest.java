package flashlm.tests.ingest;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.ingest.Ingest;
import flashlm.pipeline.ingest.IngestConfig;
import flashlm.pipeline.ingest.IngestException;
import flashlm.tests.SparkTestSession;
import flashlm.tests.fixtures.DownloadManifests;
import flashlm.tests.fixtures.FineWebEduFixture;
import io.delta.tables.DeltaTable;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Inputs that cannot be ingested fail with the file (and offset) named, and commit nothing. */
class IngestErrorsTest {
  private static final String FINEWEB = "HuggingFaceFW/fineweb-edu";
  @TempDir Path dir;

  @Test
  void nonUtf8TextNamesFileAndByteOffset() throws Exception {
    Path raw = Files.createDirectories(dir.resolve("raw"));
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    bytes.write("A good story.\n<|endoftext|>\nA bad st".getBytes(StandardCharsets.UTF_8));
    int bad = bytes.size();
    bytes.write(new byte[] {(byte) 0xC3, (byte) 0x28}); // a lead byte without its continuation
    bytes.write("ory.\n".getBytes(StandardCharsets.UTF_8));
    Files.write(raw.resolve("stories.txt"), bytes.toByteArray());
    String message = fails(IngestConfig.defaults().withFiles(List.of("*.txt")));
    assertTrue(message.contains("stories.txt"), message);
    assertTrue(message.contains("invalid UTF-8 at byte offset " + bad), message);
  }

  @Test
  void parquetWithMissingColumnNamesFileAndColumn() {
    FineWebEduFixture.write(dir.resolve("raw/a.parquet"), FineWebEduFixture.without("url"),
        FineWebEduFixture.documents().subList(0, 5));
    String message = fails(parquet());
    assertTrue(message.contains("a.parquet") && message.contains("'url' is missing"), message);
  }

  @Test
  void parquetWithRetypedColumnNamesFileAndTypes() {
    List<FineWebEduFixture.Doc> docs = FineWebEduFixture.documents().subList(0, 5);
    FineWebEduFixture.write(dir.resolve("raw/0.parquet"), FineWebEduFixture.SCHEMA, docs);
    FineWebEduFixture.write(dir.resolve("raw/1.parquet"),
        FineWebEduFixture.retyped("token_count", "int32"), docs);
    String message = fails(parquet());
    assertTrue(message.contains("1.parquet"), message);
    assertTrue(message.contains("'token_count' has type int, expected long"), message);
  }

  @Test
  void truncatedParquetNamesFile() throws Exception {
    Path file = dir.resolve("raw/cut.parquet");
    FineWebEduFixture.write(file, FineWebEduFixture.SCHEMA, FineWebEduFixture.documents());
    byte[] all = Files.readAllBytes(file);
    Files.write(file, Arrays.copyOf(all, all.length / 2));
    String message = fails(parquet());
    assertTrue(message.contains("cut.parquet") && message.contains("truncated"), message);
  }

  @Test
  void fileShorterThanTheDownloadManifestSaysIsTruncated() throws Exception {
    Path raw = Files.createDirectories(dir.resolve("raw"));
    Path file = Files.writeString(raw.resolve("TinyStoriesV2-GPT4-train.txt"),
        "Once upon a time.\n<|endoftext|>\nThe end.\n");
    DownloadManifests.write(raw, List.of(file), "roneneldan/TinyStories");
    Files.writeString(file, "Once upon a time.\n<|endo");
    String message = fails(IngestConfig.defaults());
    assertTrue(message.contains("TinyStoriesV2-GPT4-train.txt"), message);
    assertTrue(message.contains("truncated or changed"), message);
  }

  private IngestConfig parquet() {
    return IngestConfig.defaults().withFiles(List.of("*.parquet")).withSource(FINEWEB);
  }

  /** Runs ingest expecting an IngestException; checks nothing was committed; the message. */
  private String fails(IngestConfig config) {
    SparkSession spark = SparkTestSession.get();
    DatasetPaths paths = new DatasetPaths(dir.toString());
    IngestException e = assertThrows(IngestException.class,
        () -> Ingest.run(spark, paths, config));
    assertFalse(DeltaTable.isDeltaTable(spark, paths.documents()), "a table was committed");
    return e.getMessage();
  }
}
