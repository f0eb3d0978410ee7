package flashlm.pipeline.audit;

import static org.apache.spark.sql.functions.array_contains;
import static org.apache.spark.sql.functions.array_join;
import static org.apache.spark.sql.functions.array_sort;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.collect_set;
import static org.apache.spark.sql.functions.filter;
import static org.apache.spark.sql.functions.first;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.struct;
import static org.apache.spark.sql.functions.transform;
import static org.apache.spark.sql.functions.when;

import flashlm.concurrent.Concurrently;
import flashlm.table.SequencesTable;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;

/**
 * {@code audit leaks TABLE [--against TABLE2]}: the train/validation leaks that happen. A doc_id
 * is never on both sides of one version, so a leak is the same text on both sides (after
 * {@link TextKey}'s normalisation: NFC, whitespace collapsed, case kept), within the table;
 * validation text of one data set in the training split of another ({@code --against});
 * validation documents among those a project-trained tokenizer learned from ({@link
 * TokenizerLeaks}); and documents that are train in one version and validation in another.
 * Each kind gives a count and a sample of offending documents with file and offset.
 */
public final class Leaks {
  static final String SAME_TEXT = "same_text_in_train_and_validation";
  static final String AGAINST_VALIDATION_IN_TRAIN = "other_validation_in_train";
  static final String VALIDATION_IN_AGAINST_TRAIN = "validation_in_other_train";
  static final String TOKENIZER = "tokenizer_trained_on_validation";
  static final String SPLIT_CHANGED = "split_changed_between_versions";

  private Leaks() {}

  /**
   * One offending document and what it leaks with.
   *
   * @param docId the document (a validation document, except for split changes)
   * @param split its split
   * @param matchDocId the document it shares its text with, or null
   * @param matchTable where that one is, when not in the audited version
   * @param detail what else to know (the versions of each split)
   */
  public record Sample(String docId, String split, String sourceFile, Long sourceOffset,
      String matchDocId, String matchSplit, String matchSourceFile, Long matchSourceOffset,
      String matchTable, String detail) {}

  /**
   * One kind of leak.
   *
   * @param kind its id
   * @param description what was compared, in words
   * @param count offending documents
   * @param samples up to {@code sample} of them
   */
  public record Finding(String kind, String description, long count, List<Sample> samples) {}

  /**
   * The leaks of one table version.
   *
   * @param notes what could not be checked, and why
   */
  public record Report(String table, long version, String against, Long againstVersion,
      List<Finding> findings, List<String> notes) implements AuditReport {
    @Override
    public void print(PrintStream out) {
      out.println("leaks of " + table + " version " + version + (against == null ? ""
          : " against " + against + " version " + againstVersion));
      TextTable t = new TextTable("check", "documents", "what");
      for (Finding f : findings) {
        t.row(f.kind(), f.count(), f.description());
      }
      t.print(out);
      for (Finding f : findings) {
        if (f.count() == 0) {
          continue;
        }
        out.println();
        out.println(f.kind() + ": " + f.count() + " documents, for example:");
        boolean matches = f.samples().stream().anyMatch(x -> x.matchDocId() != null);
        TextTable s = matches ? new TextTable("doc_id", "split", "file", "offset",
            "same text as doc_id", "its split", "its file", "its offset")
            : new TextTable("doc_id", "file", "offset", "splits");
        for (Sample x : f.samples()) {
          String id = History.shortHash(x.docId()) + "..";
          if (matches) {
            s.row(id, x.split(), x.sourceFile(), x.sourceOffset(),
                History.shortHash(x.matchDocId()) + "..", x.matchSplit(), x.matchSourceFile(),
                x.matchSourceOffset());
          } else {
            s.row(id, x.sourceFile(), x.sourceOffset(), x.detail());
          }
        }
        s.print(out);
      }
      for (String n : notes) {
        out.println("note: " + n);
      }
      out.println(problems().isEmpty() ? "no leaks found" : "LEAKS FOUND");
    }

    @Override
    public List<String> problems() {
      return findings.stream().filter(f -> f.count() > 0)
          .map(f -> f.kind() + ": " + f.count() + " documents").toList();
    }
  }

  /**
   * The leaks of {@code version} (latest when null) of the table at {@code location}, and
   * against the table at {@code against} (may be null) at {@code againstVersion}.
   *
   * @param sample how many offending documents each finding lists
   */
  public static Report run(SparkSession spark, String location, Long version, String against,
      Long againstVersion, int sample) {
    AuditedTable table = AuditedTable.open(spark, location);
    long v = table.resolve(version);
    AuditedTable other = against == null ? null : table.other(against);
    Long otherVersion = other == null ? null : other.resolve(againstVersion);
    List<String> textNotes = new ArrayList<>();
    List<String> versionNotes = new ArrayList<>();
    // The text checks and the comparison of versions read different data: concurrent jobs.
    List<List<Finding>> parts = Concurrently.run(List.of(
        () -> textLeaks(table, v, other, otherVersion, sample, textNotes),
        () -> List.of(splitChanges(table, sample, versionNotes))));
    List<Finding> findings = new ArrayList<>();
    parts.forEach(findings::addAll);
    List<String> notes = new ArrayList<>(textNotes);
    notes.addAll(versionNotes);
    return new Report(table.path(), v, other == null ? null : other.path(), otherVersion,
        findings, notes);
  }

  /**
   * The leaks by text: within the version, against the other table's version (when given), and
   * into the tokenizer's training documents.
   */
  private static List<Finding> textLeaks(AuditedTable table, long v, AuditedTable other,
      Long otherVersion, int sample, List<String> notes) {
    List<Finding> findings = new ArrayList<>();
    Docs.DocSet docs = Docs.of(table, v);
    Dataset<Row> keyed = keyed(docs.rows()).persist(StorageLevel.MEMORY_AND_DISK());
    Dataset<Row> keyed2 = null;
    try {
      Dataset<Row> train = split(keyed, SequencesTable.TRAIN);
      Dataset<Row> validation = split(keyed, SequencesTable.VALIDATION);
      findings.add(finding(SAME_TEXT, "validation documents whose text is also a training"
          + " document's (or an unassigned one's), in " + docs.origin(), validation, train, null,
          sample));
      if (other != null) {
        Docs.DocSet docs2 = Docs.of(other, otherVersion);
        keyed2 = keyed(docs2.rows()).persist(StorageLevel.MEMORY_AND_DISK());
        findings.add(finding(AGAINST_VALIDATION_IN_TRAIN, "validation documents of "
            + docs2.origin() + " whose text is in the training split of " + docs.origin(),
            split(keyed2, SequencesTable.VALIDATION), train, docs.origin(), sample));
        findings.add(finding(VALIDATION_IN_AGAINST_TRAIN, "validation documents of "
            + docs.origin() + " whose text is in the training split of " + docs2.origin(),
            validation, split(keyed2, SequencesTable.TRAIN), docs2.origin(), sample));
      }
      TokenizerLeaks.check(table, v, validation, sample, notes).ifPresent(findings::add);
      return findings;
    } finally {
      keyed.unpersist();
      if (keyed2 != null) {
        keyed2.unpersist();
      }
    }
  }

  /** doc_id, source_file, source_offset, split and the text's key. */
  static Dataset<Row> keyed(Dataset<Row> docs) {
    return docs.select(col("doc_id"), col("source_file"), col("source_offset"),
        col(Docs.SPLIT), TextKey.column(col("text")).as("key"));
  }

  /**
   * The documents of one side: validation, or training, which includes a documents table's
   * unassigned documents (tokenize puts most of them in train, and train-tokenizer learns from
   * them).
   */
  static Dataset<Row> split(Dataset<Row> keyed, String split) {
    return keyed.where(split.equals(SequencesTable.VALIDATION)
        ? col(Docs.SPLIT).equalTo(split) : col(Docs.SPLIT).notEqual(SequencesTable.VALIDATION));
  }

  /**
   * The documents of {@code docs} whose key is among {@code others}' keys: their count, and a
   * sample each with one document of {@code others} it matches.
   */
  static Finding finding(String kind, String description, Dataset<Row> docs,
      Dataset<Row> others, String otherTable, int sample) {
    Dataset<Row> otherKeys = others.select(col("key")).distinct();
    long count = docs.join(otherKeys, "key").count();
    List<Sample> samples = new ArrayList<>();
    if (count > 0 && sample > 0) {
      Dataset<Row> match = others.groupBy(col("key")).agg(first(struct(col("doc_id"),
          col(Docs.SPLIT), col("source_file"), col("source_offset"))).as("m"));
      for (Row r : docs.join(match, "key").orderBy(col("doc_id")).limit(sample)
          .select(col("doc_id"), col(Docs.SPLIT), col("source_file"), col("source_offset"),
              col("m.doc_id"), col("m." + Docs.SPLIT), col("m.source_file"),
              col("m.source_offset")).collectAsList()) {
        samples.add(new Sample(r.getString(0), r.getString(1), r.getString(2), nullableLong(r, 3),
            r.getString(4), r.getString(5), r.getString(6), nullableLong(r, 7), otherTable,
            null));
      }
    }
    return new Finding(kind, description, count, samples);
  }

  /**
   * Documents that are train in one readable version of the table and validation in another:
   * one pass over every version's documents, grouped by doc_id.
   */
  static Finding splitChanges(AuditedTable table, int sample, List<String> notes) {
    Dataset<Row> all = null;
    int versions = 0;
    for (AuditedTable.Commit c : table.commits()) {
      Docs.DocSet d;
      try {
        d = Docs.of(table, c.version());
      } catch (AuditException e) {
        notes.add("version " + c.version() + " left out of the split comparison: "
            + e.getMessage());
        continue;
      }
      versions++;
      // Unassigned documents of a documents table count as training, as in the checks above.
      Dataset<Row> v = d.rows().select(col("doc_id"), col("source_file"), col("source_offset"),
          when(col(Docs.SPLIT).equalTo(SequencesTable.VALIDATION), lit(SequencesTable.VALIDATION))
              .otherwise(lit(SequencesTable.TRAIN)).as(Docs.SPLIT), lit(c.version()).as("v"));
      all = all == null ? v : all.unionByName(v);
    }
    String description = "documents that are train in one version and validation in another,"
        + " over the " + versions + " readable versions";
    if (all == null) {
      return new Finding(SPLIT_CHANGED, description, 0, List.of());
    }
    Dataset<Row> moved = all.groupBy(col("doc_id"))
        .agg(first(col("source_file")).as("source_file"),
            first(col("source_offset")).as("source_offset"),
            collect_set(struct(col(Docs.SPLIT), col("v"))).as("seen"))
        .where(array_contains(transform(col("seen"), s -> s.getField(Docs.SPLIT)),
            SequencesTable.TRAIN).and(array_contains(transform(col("seen"),
            s -> s.getField(Docs.SPLIT)), SequencesTable.VALIDATION)));
    long count = moved.count();
    List<Sample> samples = new ArrayList<>();
    if (count > 0 && sample > 0) {
      for (Row r : moved.orderBy(col("doc_id")).limit(sample).select(col("doc_id"),
          col("source_file"), col("source_offset"),
          versionsOf(SequencesTable.TRAIN), versionsOf(SequencesTable.VALIDATION))
          .collectAsList()) {
        samples.add(new Sample(r.getString(0), null, r.getString(1), nullableLong(r, 2), null,
            null, null, null, null, "train in versions " + r.getString(3)
            + "; validation in versions " + r.getString(4)));
      }
    }
    return new Finding(SPLIT_CHANGED, description, count, samples);
  }

  /** The versions in which a grouped document was in {@code split}, as "0, 2". */
  private static org.apache.spark.sql.Column versionsOf(String split) {
    return array_join(transform(array_sort(transform(filter(col("seen"),
        s -> s.getField(Docs.SPLIT).equalTo(split)), s -> s.getField("v"))),
        v -> v.cast("string")), ", ");
  }

  static Long nullableLong(Row r, int i) {
    return r.isNullAt(i) ? null : r.getLong(i);
  }
}
