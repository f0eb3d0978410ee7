package flashlm.tests.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import flashlm.config.Configs;
import flashlm.pipeline.audit.Diff;
import flashlm.pipeline.audit.History;
import flashlm.pipeline.audit.Leaks;
import flashlm.pipeline.audit.Verify;
import flashlm.tests.SparkTestSession;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

/**
 * The audit commands on a table built through several versions ({@link VersionedDataset}): each
 * report, as JSON, against what was done to the table.
 */
class AuditVersionsTest {
  private final SparkSession spark = SparkTestSession.get();
  private final VersionedDataset data = VersionedDataset.get();

  @Test
  void historyListsEveryVersionWithItsJobTokenizerAndCounts() throws Exception {
    JsonNode h = Configs.json().readTree(History.run(spark, data.paths.sequences()).toJson());
    JsonNode v = h.path("versions");
    assertEquals(5, v.size());
    for (int i = 0; i < 4; i++) {
      assertEquals("tokenize", v.get(i).path("job").asText(), "version " + i);
      assertTrue(v.get(i).path("readable").asBoolean());
    }
    assertEquals(0, v.get(0).path("documents_version").asLong());
    assertEquals(1, v.get(1).path("documents_version").asLong());
    assertEquals(v.get(0).path("tokenizer_sha256"), v.get(1).path("tokenizer_sha256"));
    assertNotEquals(v.get(1).path("tokenizer_sha256"), v.get(2).path("tokenizer_sha256"));
    assertEquals(data.documents(null) - data.validationDocuments(0.2, null),
        v.get(1).path("counts").path("train").path("documents").asLong());
    assertEquals(data.validationDocuments(0.4, null),
        v.get(3).path("counts").path("validation").path("documents").asLong());
    assertTrue(v.get(4).path("job").isNull() || v.get(4).path("job").isMissingNode());
    assertEquals("DELETE", v.get(4).path("operation").asText());
    assertTrue(v.get(4).path("note").asText().contains("no manifest"), v.get(4).toString());

    JsonNode docs = Configs.json().readTree(History.run(spark, data.paths.documents())
        .toJson()).path("versions");
    assertEquals(2, docs.size());
    assertEquals(data.documents(null), docs.get(1).path("counts").path("unassigned")
        .path("documents").asLong());
  }

  @Test
  void diffNamesTheAddedFileItsDocumentsAndEachChangedRule() {
    Diff.Report added = Diff.run(spark, data.paths.sequences(), 0, 1);
    assertEquals(List.of(VersionedDataset.FILE_B), added.files().stream()
        .filter(f -> f.change().equals("added")).map(Diff.FileChange::path).toList());
    Map<String, Diff.DocChanges> docs = bySplit(added.documents(), VersionedDataset.FILE_B);
    assertEquals(data.documents(VersionedDataset.FILE_B), docs.values().stream()
        .mapToLong(Diff.DocChanges::added).sum());
    assertEquals(data.validationDocuments(0.2, VersionedDataset.FILE_B),
        docs.get("validation").added());
    assertEquals(data.documents(VersionedDataset.FILE_A), bySplit(added.documents(),
        VersionedDataset.FILE_A).values().stream().mapToLong(Diff.DocChanges::unchanged).sum());
    assertTrue(added.callouts().contains("documents table version changed: 0 -> 1"),
        added.callouts().toString());

    Diff.Report retokenized = Diff.run(spark, data.paths.sequences(), 1, 2);
    assertTrue(retokenized.callouts().stream().anyMatch(c -> c.startsWith("tokenizer changed")
        && c.contains("vocab " + VersionedDataset.BPE_VOCAB)), retokenized.callouts().toString());
    assertTrue(retokenized.files().isEmpty());
    assertEquals(data.documents(null), retokenized.documents().stream()
        .mapToLong(Diff.DocChanges::unchanged).sum());
    assertTrue(retokenized.sequences().get(0).rowsAfter()
        > retokenized.sequences().get(0).rowsBefore(), "a 300-token BPE needs more rows");

    Diff.Report ratio = Diff.run(spark, data.paths.sequences(), 2, 3);
    assertTrue(ratio.callouts().contains("config validation_ratio changed: 0.2 -> 0.4"),
        ratio.callouts().toString());
    assertTrue(ratio.callouts().stream().anyMatch(c -> c.startsWith("split rule changed")));
    long moved = data.validationDocuments(0.4, null) - data.validationDocuments(0.2, null);
    assertEquals(moved, ratio.documents().stream().filter(c -> c.split().equals("validation"))
        .mapToLong(Diff.DocChanges::movedIn).sum());
    assertEquals(moved, ratio.documents().stream().filter(c -> c.split().equals("train"))
        .mapToLong(Diff.DocChanges::movedOut).sum());
  }

  @Test
  void verifyPassesEveryVersionAsMadeAndNamesWhatTheDeletionChanged() {
    Verify.Report v3 = Verify.run(spark, data.paths.sequences(), 3L, 5, 7, 10);
    assertEquals(List.of(), v3.problems());
    assertTrue(v3.checks().stream().anyMatch(c -> c.check().equals("retokenized documents")
        && c.status().equals("ok")), v3.checks().toString());

    Verify.Report v4 = Verify.run(spark, data.paths.sequences(), null, 0, 0, 10);
    assertEquals(4, v4.version());
    assertEquals(3L, v4.manifestVersion());
    List<String> failed = v4.checks().stream().filter(c -> c.status().equals("mismatch"))
        .map(Verify.Check::check).toList();
    assertTrue(failed.contains("rows validation"), failed.toString());
    assertFalse(failed.contains("rows train"), failed.toString());

    assertEquals(List.of(), Verify.run(spark, data.paths.documents(), 0L, 0, 0, 10).problems());
  }

  @Test
  void leaksFindDocumentsThatChangedSplitAndTheTokenizerThatLearnedFromValidation() {
    Leaks.Report r = Leaks.run(spark, data.paths.sequences(), 3L, null, null, 3);
    Map<String, Leaks.Finding> f = r.findings().stream()
        .collect(Collectors.toMap(Leaks.Finding::kind, Function.identity()));
    long moved = data.validationDocuments(0.4, null) - data.validationDocuments(0.2, null);
    assertEquals(moved, f.get("split_changed_between_versions").count());
    Leaks.Sample s = f.get("split_changed_between_versions").samples().get(0);
    assertTrue(s.detail().contains("validation in versions 3, 4"), s.detail());
    // train-tokenizer learned from every document, and tokenize put some in validation.
    assertEquals(data.validationDocuments(0.4, null),
        f.get("tokenizer_trained_on_validation").count());
    assertEquals(0, f.get("same_text_in_train_and_validation").count());
    assertEquals(3, f.get("tokenizer_trained_on_validation").samples().size());
    assertNull(r.against());
  }

  private static Map<String, Diff.DocChanges> bySplit(List<Diff.DocChanges> changes,
      String file) {
    return changes.stream().filter(c -> c.sourceFile().equals(file))
        .collect(Collectors.toMap(Diff.DocChanges::split, Function.identity()));
  }
}
