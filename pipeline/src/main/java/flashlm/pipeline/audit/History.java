package flashlm.pipeline.audit;

import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.pipeline.manifest.DatasetManifest.SplitCounts;
import java.io.PrintStream;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.spark.sql.SparkSession;

/**
 * {@code audit history TABLE}: every version of a documents or sequences table, from the Delta
 * history and each commit's manifest: time, operation, job, source repo and resolved commit,
 * tokenizer sha256, documents / tokens / rows per split, and whether its data files are still
 * there (vacuumed versions are marked).
 */
public final class History {
  private History() {}

  /**
   * One version.
   *
   * @param version the Delta version
   * @param time commit time, ISO-8601 UTC
   * @param operation Delta's operation
   * @param job the flashlm job that wrote it (ingest, tokenize), or null for a commit by hand
   * @param source the source's repo (or name)
   * @param resolvedCommit the hub commit the source revision resolved to, or null
   * @param tokenizerSha256 sequences tables: the tokenizer.json's sha256
   * @param documentsVersion sequences tables: the documents table version it was made from
   * @param counts the manifest's counts per split
   * @param readable whether every data file of the version is still there
   * @param missingFiles how many of them are gone
   * @param note what else to know (no manifest; the operation's figures)
   */
  public record Entry(long version, String time, String operation, String job, String source,
      String resolvedCommit, String tokenizerSha256, Long documentsVersion,
      Map<String, SplitCounts> counts, boolean readable, int missingFiles, String note) {}

  /**
   * The history of one table.
   *
   * @param table its qualified location
   * @param versions oldest first
   */
  public record Report(String table, List<Entry> versions) implements AuditReport {
    @Override
    public void print(PrintStream out) {
      out.println("history of " + table + ": " + versions.size() + " version"
          + (versions.size() == 1 ? "" : "s"));
      Set<String> splits = new LinkedHashSet<>(List.of("train", "validation"));
      boolean sequences = versions.stream().anyMatch(e -> e.tokenizerSha256() != null);
      versions.forEach(e -> splits.addAll(e.counts().keySet()));
      splits.removeIf(s -> versions.stream().noneMatch(e -> e.counts().containsKey(s)));
      List<String> headers = new ArrayList<>(List.of("version", "time", "operation", "job",
          "source", "commit"));
      if (sequences) {
        headers.addAll(List.of("tokenizer", "docs v"));
      }
      for (String s : splits) {
        headers.add(s + (sequences ? " docs/tokens/rows" : " docs"));
      }
      headers.addAll(List.of("data", "note"));
      TextTable t = new TextTable(headers.toArray(new String[0]));
      for (Entry e : versions) {
        List<Object> row = new ArrayList<>(List.of(e.version(), e.time(), e.operation(),
            orDash(e.job()), orDash(e.source()), orDash(shortHash(e.resolvedCommit()))));
        if (sequences) {
          row.add(orDash(shortHash(e.tokenizerSha256())));
          row.add(e.documentsVersion() == null ? "-" : e.documentsVersion().toString());
        }
        for (String s : splits) {
          row.add(counts(e.counts().get(s), sequences));
        }
        row.add(e.readable() ? "readable" : "vacuumed (" + e.missingFiles() + " files gone)");
        row.add(e.note() == null ? "" : e.note());
        t.row(row.toArray());
      }
      t.print(out);
    }
  }

  /** The history of the table at {@code location}. */
  public static Report run(SparkSession spark, String location) {
    AuditedTable table = AuditedTable.open(spark, location);
    List<Entry> entries = new ArrayList<>();
    for (AuditedTable.Commit c : table.commits()) {
      DatasetManifest m = c.manifest();
      int missing = table.missingFiles(c.version()).size();
      String note = m != null ? null : "no manifest (not written by flashlm)"
          + metrics(c.operationMetrics());
      entries.add(new Entry(c.version(), c.timestamp().truncatedTo(ChronoUnit.SECONDS)
          .toString(), c.operation(), m == null ? null : m.job(),
          m == null || m.source() == null ? null
              : m.source().repo() != null ? m.source().repo() : m.source().name(),
          m == null || m.source() == null ? null : m.source().resolvedCommit(),
          m == null || m.tokenizer() == null ? null : m.tokenizer().sha256(),
          m == null ? null : m.documentsVersion(),
          m == null || m.counts() == null ? Map.of() : new LinkedHashMap<>(m.counts()),
          missing == 0, missing, note));
    }
    return new Report(table.path(), entries);
  }

  /** The row counts Delta recorded for a commit made by hand. */
  private static String metrics(Map<String, String> metrics) {
    Map<String, String> shown = new TreeMap<>();
    for (String k : List.of("numDeletedRows", "numOutputRows", "numCopiedRows",
        "numUpdatedRows", "numRemovedFiles", "numAddedFiles")) {
      if (metrics.containsKey(k)) {
        shown.put(k, metrics.get(k));
      }
    }
    return shown.isEmpty() ? "" : "; " + shown.toString().replaceAll("[{}]", "");
  }

  private static String counts(SplitCounts c, boolean sequences) {
    if (c == null) {
      return "-";
    }
    if (!sequences) {
      return TextTable.cell(c.documents());
    }
    return TextTable.cell(c.documents()) + "/" + TextTable.cell(c.tokens()) + "/"
        + TextTable.cell(c.rows());
  }

  static String shortHash(String hash) {
    return hash == null ? null : hash.substring(0, Math.min(8, hash.length()));
  }

  static String orDash(String s) {
    return s == null ? "-" : s;
  }
}
