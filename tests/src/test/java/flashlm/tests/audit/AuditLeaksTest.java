package flashlm.tests.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.audit.Leaks;
import flashlm.pipeline.ingest.DocumentsTable;
import flashlm.pipeline.ingest.Ingest;
import flashlm.pipeline.ingest.IngestConfig;
import flashlm.tests.SparkTestSession;
import flashlm.tests.fixtures.TinyStoriesFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Planted leaks, each found: a validation story copied into the training file with its
 * whitespace and Unicode composition changed; a validation story of one data set inside the
 * training file of another. Clean data sets report none. (The tokenizer leak and the split that
 * changed between versions are planted in {@link VersionedDataset}.)
 */
class AuditLeaksTest {
  private static final String TRAIN = "train.txt";
  private static final String VALID = "valid.txt";

  @TempDir static Path dir;
  private static SparkSession spark;
  private static List<String> stories;
  private static List<String> valid;

  @BeforeAll
  static void stories() {
    spark = SparkTestSession.get();
    stories = TinyStoriesFixture.documents(TinyStoriesFixture.train(6 << 10));
    valid = TinyStoriesFixture.documents(TinyStoriesFixture.valid(4 << 10));
  }

  /** A documents table of two files, the second one's stories in the validation split. */
  private static String documents(String name, List<String> train, List<String> validation)
      throws Exception {
    Path raw = Files.createDirectories(dir.resolve(name).resolve("raw"));
    Files.writeString(raw.resolve(TRAIN), join(train));
    Files.writeString(raw.resolve(VALID), join(validation));
    DatasetPaths paths = new DatasetPaths(dir.resolve(name).toString());
    Ingest.run(spark, paths, new IngestConfig("text", name, List.of(TRAIN, VALID), null, null,
        null, List.of("*valid*"), null, null));
    return paths.documents();
  }

  private static String join(List<String> docs) {
    return docs.stream().map(d -> d + "\n" + TinyStoriesFixture.SEPARATOR + "\n")
        .collect(Collectors.joining());
  }

  @Test
  void sameTextInTrainAndValidationIsFoundAfterNormalisingWhitespaceAndComposition()
      throws Exception {
    String v1 = valid.get(0) + " The caf\u00e9 was warm.";
    // the same story in the training file: decomposed é, its spaces turned into runs of
    // whitespace; and another validation story in upper case, which is a different text
    String copied = v1.replace("caf\u00e9", "cafe\u0301").replace(" ", " \n\t\u00a0 ");
    String shouted = valid.get(1).toUpperCase(java.util.Locale.ROOT);
    List<String> train = List.of(stories.get(0), stories.get(1), copied, shouted);
    String table = documents("planted", train, List.of(v1, valid.get(1)));

    Leaks.Report r = Leaks.run(spark, table, null, null, null, 5);
    Leaks.Finding same = byKind(r).get("same_text_in_train_and_validation");
    assertEquals(1, same.count());
    Leaks.Sample s = same.samples().get(0);
    assertEquals("validation", s.split());
    assertEquals(VALID, s.sourceFile());
    assertEquals(0L, s.sourceOffset());
    assertEquals(TRAIN, s.matchSourceFile());
    assertEquals(DocumentsTable.docId("planted", TRAIN, s.matchSourceOffset()), s.matchDocId());
    assertEquals(List.of("same_text_in_train_and_validation: 1 documents"), r.problems());

    Launch found = Launch.audit("leaks", table);
    assertEquals(1, found.status(), found.err());
    assertTrue(found.out().contains("LEAKS FOUND") && found.out().contains(VALID), found.out());
    assertEquals(0, Launch.audit("leaks", table, "--allow").status());
  }

  @Test
  void validationTextOfOneDataSetInsideTheTrainingSplitOfAnother() throws Exception {
    String eval = documents("eval", List.of(stories.get(0), stories.get(1)),
        List.of(valid.get(2), valid.get(3)));
    String other = documents("other", List.of(stories.get(2), valid.get(3), stories.get(3)),
        List.of(valid.get(4)));
    String clean = documents("clean", List.of(stories.get(4), stories.get(5)),
        List.of(valid.get(5)));

    Map<String, Leaks.Finding> f = byKind(Leaks.run(spark, other, null, eval, null, 5));
    assertEquals(1, f.get("other_validation_in_train").count());
    Leaks.Sample s = f.get("other_validation_in_train").samples().get(0);
    assertEquals(DocumentsTable.docId("eval", VALID, s.sourceOffset()), s.docId());
    assertEquals(TRAIN, s.matchSourceFile());
    assertTrue(s.matchTable().contains("/other/documents"), s.matchTable());
    assertEquals(0, f.get("validation_in_other_train").count());
    assertEquals(0, f.get("same_text_in_train_and_validation").count());

    Leaks.Report none = Leaks.run(spark, clean, null, eval, null, 5);
    assertEquals(List.of(), none.problems(), none.findings().toString());
    assertEquals(4, none.findings().size());
  }

  private static Map<String, Leaks.Finding> byKind(Leaks.Report r) {
    return r.findings().stream().collect(Collectors.toMap(Leaks.Finding::kind,
        Function.identity()));
  }
}
