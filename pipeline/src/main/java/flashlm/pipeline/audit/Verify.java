package flashlm.pipeline.audit;

import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.not;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import flashlm.concurrent.Concurrently;
import flashlm.pipeline.ingest.DocumentsTable;
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.pipeline.manifest.DatasetManifest.SplitCounts;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Supplier;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * {@code audit verify TABLE [--version V] [--retokenize K]}: recomputes on Spark what a version's
 * manifest claims and reports every mismatch with the file and row: its data files are all there;
 * the source files' sizes and sha256 where they are still present (and which are gone);
 * documents per split; for a sequences table rows and tokens per split with {@code tokens = rows
 * * (seq_len + 1) + dropped_tail_tokens}, every row exactly {@code seq_len + 1} ids inside the
 * vocabulary, dense {@code seq_index} per shard, and the tokenizer file's sha256 ({@link
 * SequenceRows}); with {@code --retokenize K}, K documents chosen by a seeded hash tokenized
 * again and compared with the stored ids ({@link Retokenize}). Any mismatch fails the command.
 */
public final class Verify {
  static final String OK = "ok";
  static final String MISMATCH = "mismatch";
  /** A source file or tokenizer no longer where the manifest says: reported, not a mismatch. */
  static final String GONE = "gone";
  static final String SKIPPED = "skipped";

  private Verify() {}

  /**
   * One check.
   *
   * @param check what was compared
   * @param status ok, mismatch, gone or skipped
   * @param expected what the manifest says
   * @param actual what the table or file holds
   * @param where the file, row or document that differs, and anything else to know
   */
  public record Check(String check, String status, String expected, String actual,
      String where) {
    static Check compare(String check, Object expected, Object actual, String where) {
      return new Check(check, Objects.equals(expected, actual) ? OK : MISMATCH,
          TextTable.cell(expected), TextTable.cell(actual), where);
    }
  }

  /**
   * The verification of one version.
   *
   * @param manifestVersion the commit whose manifest describes the version
   * @param checks every check made
   */
  public record Report(String table, long version, String kind, Long manifestVersion,
      List<Check> checks) implements AuditReport {
    @Override
    public void print(PrintStream out) {
      out.println("verify " + table + " version " + version + " (" + kind + ")"
          + (manifestVersion == null || manifestVersion == version ? ""
          : ", described by version " + manifestVersion + "'s manifest"));
      TextTable t = new TextTable("check", "status", "manifest", "found", "where");
      for (Check c : checks) {
        t.row(c.check(), c.status(), c.expected(), c.actual(), c.where() == null ? "" : c.where());
      }
      t.print(out);
      long bad = checks.stream().filter(c -> c.status().equals(MISMATCH)).count();
      out.println(bad == 0 ? "verified: the version is what its manifest says"
          : bad + " MISMATCH" + (bad == 1 ? "" : "ES"));
    }

    @Override
    public List<String> problems() {
      return checks.stream().filter(c -> c.status().equals(MISMATCH))
          .map(c -> c.check() + ": manifest " + c.expected() + ", found " + c.actual()
              + (c.where() == null || c.where().isEmpty() ? "" : " (" + c.where() + ")"))
          .toList();
    }
  }

  /**
   * Verifies {@code version} (latest when null) of the table at {@code location}.
   *
   * @param retokenize documents to tokenize again (0 for none)
   * @param seed chooses them
   * @param sample how many offending rows a check names
   */
  public static Report run(SparkSession spark, String location, Long version, int retokenize,
      long seed, int sample) {
    AuditedTable table = AuditedTable.open(spark, location);
    long v = table.resolve(version);
    AuditedTable.Described described = table.requireDescribed(v);
    DatasetManifest m = described.manifest();
    AuditedTable.Kind kind = table.kind(v);
    boolean sequences = kind == AuditedTable.Kind.SEQUENCES;
    // The groups of checks read different data (source files, the table, the documents table)
    // and are independent: they run as concurrent Spark jobs, so that one group's driver work
    // (log replay, listing, planning) overlaps another's reading. Only the table's own data
    // files must be all there before its rows are read; the source files and the documents
    // table do not wait for that listing. Reported in this order.
    List<Supplier<List<Check>>> groups = new ArrayList<>();
    groups.add(() -> table.missingFiles(v).isEmpty() ? List.of()
        : List.of(filesGone(table, v, sample)));
    groups.add(() -> SourceFiles.check(spark, m));
    if (sequences) {
      groups.add(() -> table.missingFiles(v).isEmpty() ? SequenceRows.check(table, v, m, sample)
          : List.of());
      groups.add(() -> sequenceDocuments(table, v, m));
      groups.add(() -> table.missingFiles(v).isEmpty()
          ? Retokenize.check(table, v, m, retokenize, seed, sample) : List.of());
    } else {
      groups.add(() -> table.missingFiles(v).isEmpty() ? documents(table.read(v), m, sample)
          : List.of());
    }
    List<List<Check>> found = Concurrently.run(groups);
    boolean whole = table.missingFiles(v).isEmpty();
    List<Check> checks = new ArrayList<>();
    checks.add(whole ? new Check("data files present", OK, "all", "all", null)
        : found.get(0).get(0));
    if (described.version() != v) {
      checks.add(new Check("manifest", OK, "version " + v, "version " + described.version(),
          "version " + v + " is a " + table.commit(v).operation() + " without a manifest; the"
          + " claims below are version " + described.version() + "'s"));
    }
    checks.addAll(found.get(1));
    if (whole) {
      // The documents per split of a table whose files are gone are left out as before.
      found.subList(2, found.size()).forEach(checks::addAll);
    }
    return new Report(table.path(), v, kind.name().toLowerCase(java.util.Locale.ROOT),
        described.version(), checks);
  }

  /** The check of a version some of whose data files are gone: the first of them named. */
  private static Check filesGone(AuditedTable table, long v, int sample) {
    List<String> gone = table.missingFiles(v);
    return new Check("data files present", MISMATCH, "all", gone.size() + " gone",
        String.join(", ", gone.subList(0, Math.min(sample, gone.size()))) + "; "
        + table.vacuumed(v, gone).replaceFirst(".*; ", ""));
  }

  /**
   * A documents table version: documents per split (null source_split counted as unassigned),
   * every doc_id the hash of its source, file and offset, every document from a listed file.
   */
  static List<Check> documents(Dataset<Row> docs, DatasetManifest m, int sample) {
    List<Check> out = new ArrayList<>();
    List<String> files = m.files() == null ? List.of()
        : m.files().stream().map(DatasetManifest.FileEntry::path).toList();
    Dataset<Row> marked = docs.select(
        coalesce(col(DocumentsTable.SOURCE_SPLIT), lit(Docs.UNASSIGNED)).as("split"),
        col(DocumentsTable.DOC_ID).notEqual(DocumentsTable.docIdColumn(col(DocumentsTable.SOURCE),
            col(DocumentsTable.SOURCE_FILE), col(DocumentsTable.SOURCE_OFFSET))).as("bad_id"),
        col(DocumentsTable.SOURCE_FILE).isin(files.toArray()).as("listed"));
    Map<String, long[]> found = new TreeMap<>();
    for (Row r : marked.groupBy(col("split")).agg(count(lit(1)),
        sum(when(col("bad_id"), 1).otherwise(0)), sum(when(col("listed"), 0).otherwise(1)))
        .collectAsList()) {
      found.put(r.getString(0), new long[] {r.getLong(1), r.getLong(2), r.getLong(3)});
    }
    TreeSet<String> splits = new TreeSet<>(found.keySet());
    if (m.counts() != null) {
      splits.addAll(m.counts().keySet());
    }
    long badIds = 0;
    long unlisted = 0;
    for (String s : splits) {
      SplitCounts c = m.counts() == null ? null : m.counts().get(s);
      long[] f = found.getOrDefault(s, new long[3]);
      out.add(Check.compare("documents " + s, c == null ? null : c.documents(), f[0], null));
      badIds += f[1];
      unlisted += f[2];
    }
    out.add(new Check("doc_id = sha256(source, file, offset)", badIds == 0 ? OK : MISMATCH,
        "every row", badIds == 0 ? "every row" : badIds + " rows differ",
        badIds == 0 ? null : rows(docs.where(col(DocumentsTable.DOC_ID).notEqual(
            DocumentsTable.docIdColumn(col(DocumentsTable.SOURCE), col(DocumentsTable.SOURCE_FILE),
                col(DocumentsTable.SOURCE_OFFSET)))), sample)));
    out.add(new Check("documents from listed files", unlisted == 0 ? OK : MISMATCH,
        files.size() + " files", unlisted == 0 ? "all" : unlisted + " from others",
        unlisted == 0 ? null : rows(docs.where(not(col(DocumentsTable.SOURCE_FILE)
            .isin(files.toArray()))), sample)));
    return out;
  }

  /** "file F offset O (doc_id D)" for the first rows of {@code bad}. */
  private static String rows(Dataset<Row> bad, int sample) {
    List<String> out = new ArrayList<>();
    for (Row r : bad.select(col(DocumentsTable.SOURCE_FILE), col(DocumentsTable.SOURCE_OFFSET),
        col(DocumentsTable.DOC_ID)).orderBy(col(DocumentsTable.SOURCE_FILE),
        col(DocumentsTable.SOURCE_OFFSET)).limit(sample).collectAsList()) {
      out.add("file " + r.getString(0) + " offset " + r.get(1) + " (doc_id "
          + History.shortHash(r.getString(2)) + "..)");
    }
    return String.join("; ", out);
  }

  /** The documents per split a sequences version was made from, split by its rules again. */
  static List<Check> sequenceDocuments(AuditedTable table, long version, DatasetManifest m) {
    Docs.DocSet docs;
    try {
      docs = Docs.of(table, version);
    } catch (AuditException e) {
      return List.of(new Check("documents per split", GONE, "-", "-", e.getMessage()));
    }
    Map<String, Long> found = new TreeMap<>();
    for (Row r : docs.rows().groupBy(col(Docs.SPLIT)).count().collectAsList()) {
      found.put(r.getString(0), r.getLong(1));
    }
    TreeSet<String> splits = new TreeSet<>(found.keySet());
    splits.addAll(m.counts().keySet());
    List<Check> out = new ArrayList<>();
    for (String s : splits) {
      SplitCounts c = m.counts().get(s);
      out.add(Check.compare("documents " + s, c == null ? null : c.documents(),
          found.getOrDefault(s, 0L), "split again from " + docs.origin()));
    }
    return out;
  }
}
