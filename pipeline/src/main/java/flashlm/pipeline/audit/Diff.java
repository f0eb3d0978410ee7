package flashlm.pipeline.audit;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sha2;
import static org.apache.spark.sql.functions.size;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import com.fasterxml.jackson.databind.JsonNode;
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.pipeline.manifest.DatasetManifest.FileEntry;
import flashlm.table.SequencesTable;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * {@code audit diff TABLE V1 V2}: what changed between two versions of a table. Every version is
 * a whole snapshot, so the diff compares snapshots: source files added, removed or changed (by
 * sha256, from the manifests); documents added, removed, changed (same doc_id, other text) and
 * moved to the other split, per source file and split (by doc_id and a hash of the text; for a
 * sequences table, of the documents it was made from, split as it split them); rows and tokens
 * per split of a sequences table; and a changed tokenizer, seq_len, split or shard rule, source
 * or config key, each on a line of its own.
 */
public final class Diff {
  private Diff() {}

  /**
   * A source file that differs.
   *
   * @param path its path within the source
   * @param change added, removed or changed
   */
  public record FileChange(String path, String change, Long sizeBefore, Long sizeAfter,
      String sha256Before, String sha256After) {}

  /**
   * Documents of one source file and split, V1 against V2. A document that changed split counts
   * as moved out of its old split and into its new one.
   */
  public record DocChanges(String sourceFile, String split, long added, long removed,
      long changed, long movedIn, long movedOut, long unchanged) {}

  /** Rows and tokens of one split of a sequences table, V1 and V2. */
  public record SplitRows(String split, long rowsBefore, long rowsAfter, long tokensBefore,
      long tokensAfter) {}

  /**
   * The diff.
   *
   * @param callouts changes to how the data was made, one line each
   * @param documentsFrom the documents version V1 holds (or was made from)
   * @param documentsTo the documents version V2 holds (or was made from)
   */
  public record Report(String table, long from, long to, String kind, List<String> callouts,
      List<FileChange> files, String documentsFrom, String documentsTo,
      List<DocChanges> documents, List<SplitRows> sequences) implements AuditReport {
    @Override
    public void print(PrintStream out) {
      out.println("diff of " + table + " version " + from + " -> " + to + " (" + kind + ")");
      for (String c : callouts) {
        int arrow = c.indexOf(" -> ");
        int colon = c.indexOf(": ");
        if (c.length() <= 100 || arrow < 0 || colon < 0 || colon > arrow) {
          out.println("  * " + c);
        } else { // a long rule in words: old and new one under the other
          out.println("  * " + c.substring(0, colon + 1));
          out.println("      was: " + c.substring(colon + 2, arrow));
          out.println("      now: " + c.substring(arrow + 4));
        }
      }
      if (callouts.isEmpty()) {
        out.println("  (same tokenizer, rules, source and config)");
      }
      out.println();
      out.println("source files: " + (files.isEmpty() ? "unchanged" : files.size() + " differ"));
      if (!files.isEmpty()) {
        TextTable t = new TextTable("file", "change", "size before", "size after",
            "sha256 before", "sha256 after");
        for (FileChange f : files) {
          t.row(f.path(), f.change(), f.sizeBefore(), f.sizeAfter(),
              History.shortHash(f.sha256Before()), History.shortHash(f.sha256After()));
        }
        t.print(out);
      }
      out.println();
      out.println("documents: " + documentsFrom + " -> " + documentsTo);
      TextTable d = new TextTable("source file", "split", "added", "removed", "changed",
          "moved in", "moved out", "unchanged");
      for (DocChanges c : documents) {
        d.row(c.sourceFile(), c.split(), c.added(), c.removed(), c.changed(), c.movedIn(),
            c.movedOut(), c.unchanged());
      }
      d.print(out);
      if (!sequences.isEmpty()) {
        out.println();
        out.println("sequences:");
        TextTable s = new TextTable("split", "rows before", "rows after", "tokens before",
            "tokens after");
        for (SplitRows r : sequences) {
          s.row(r.split(), r.rowsBefore(), r.rowsAfter(), r.tokensBefore(), r.tokensAfter());
        }
        s.print(out);
      }
    }
  }

  /** Diffs versions {@code v1} and {@code v2} of the table at {@code location}. */
  public static Report run(SparkSession spark, String location, long v1, long v2) {
    AuditedTable table = AuditedTable.open(spark, location);
    table.resolve(v1);
    table.resolve(v2);
    table.requireReadable(v1);
    table.requireReadable(v2);
    AuditedTable.Kind kind = table.kind(v2);
    DatasetManifest m1 = table.described(v1).map(AuditedTable.Described::manifest).orElse(null);
    DatasetManifest m2 = table.described(v2).map(AuditedTable.Described::manifest).orElse(null);
    List<String> callouts = new ArrayList<>();
    for (long v : new long[] {v1, v2}) {
      if (table.commit(v).manifest() == null) {
        callouts.add("version " + v + " has no manifest of its own (" + table.commit(v)
            .operation() + " by hand): " + table.described(v).map(d -> "its data was made as"
            + " version " + d.version() + "'s manifest says, then changed").orElse("no manifest"
            + " describes it"));
      }
    }
    callouts.addAll(callouts(m1, m2));
    Docs.DocSet d1 = Docs.of(table, v1);
    Docs.DocSet d2 = Docs.of(table, v2);
    List<SplitRows> rows = kind == AuditedTable.Kind.SEQUENCES
        ? splitRows(table.read(v1), table.read(v2)) : List.of();
    return new Report(table.path(), v1, v2, kind.name().toLowerCase(java.util.Locale.ROOT),
        callouts, files(m1, m2), d1.origin(), d2.origin(), documents(d1.rows(), d2.rows()),
        rows);
  }

  /** Changes to how the data was made, from the two manifests. */
  static List<String> callouts(DatasetManifest a, DatasetManifest b) {
    List<String> out = new ArrayList<>();
    if (a == null || b == null) {
      return out;
    }
    if (a.tokenizer() != null && b.tokenizer() != null
        && !Objects.equals(a.tokenizer().sha256(), b.tokenizer().sha256())) {
      out.add("tokenizer changed: " + a.tokenizer().location() + " (sha256 "
          + History.shortHash(a.tokenizer().sha256()) + ", vocab " + a.tokenizer().vocabSize()
          + ") -> " + b.tokenizer().location() + " (sha256 "
          + History.shortHash(b.tokenizer().sha256()) + ", vocab " + b.tokenizer().vocabSize()
          + ")");
    }
    change(out, "seq_len", a.seqLen(), b.seqLen());
    change(out, "num_shards", a.numShards(), b.numShards());
    change(out, "split rule", a.splitRule(), b.splitRule());
    change(out, "shard rule", a.shardRule(), b.shardRule());
    change(out, "source", source(a), source(b));
    change(out, "documents table version", a.documentsVersion(), b.documentsVersion());
    Map<String, String> ca = flatten(a.config());
    Map<String, String> cb = flatten(b.config());
    Set<String> keys = new TreeSet<>(ca.keySet());
    keys.addAll(cb.keySet());
    for (String k : keys) {
      boolean shown = k.equals("seq_len") || k.equals("num_shards") || k.equals("tokenizer");
      if (!shown) {
        change(out, "config " + k, ca.get(k), cb.get(k));
      }
    }
    return out;
  }

  private static void change(List<String> out, String what, Object a, Object b) {
    if (!Objects.equals(a, b)) {
      out.add(what + " changed: " + a + " -> " + b);
    }
  }

  private static String source(DatasetManifest m) {
    if (m.source() == null) {
      return null;
    }
    String name = m.source().repo() != null ? m.source().repo() : m.source().name();
    return m.source().resolvedCommit() == null ? name : name + "@" + m.source().resolvedCommit();
  }

  /** A config's leaves by dotted key. */
  private static Map<String, String> flatten(JsonNode node) {
    Map<String, String> out = new TreeMap<>();
    flatten(node, "", out);
    return out;
  }

  private static void flatten(JsonNode node, String prefix, Map<String, String> out) {
    if (node == null || node.isNull()) {
      return;
    }
    if (node.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        flatten(e.getValue(), prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey(), out);
      }
    } else {
      out.put(prefix, node.isTextual() ? node.asText() : node.toString());
    }
  }

  /** Source files added, removed or changed, by path and sha256. */
  static List<FileChange> files(DatasetManifest a, DatasetManifest b) {
    Map<String, FileEntry> fa = byPath(a);
    Map<String, FileEntry> fb = byPath(b);
    Set<String> paths = new TreeSet<>(fa.keySet());
    paths.addAll(fb.keySet());
    List<FileChange> out = new ArrayList<>();
    for (String p : paths) {
      FileEntry x = fa.get(p);
      FileEntry y = fb.get(p);
      String change = x == null ? "added" : y == null ? "removed"
          : Objects.equals(x.sha256(), y.sha256()) && Objects.equals(x.size(), y.size())
          ? null : "changed";
      if (change != null) {
        out.add(new FileChange(p, change, x == null ? null : x.size(),
            y == null ? null : y.size(), x == null ? null : x.sha256(),
            y == null ? null : y.sha256()));
      }
    }
    return out;
  }

  private static Map<String, FileEntry> byPath(DatasetManifest m) {
    Map<String, FileEntry> out = new TreeMap<>();
    if (m != null && m.files() != null) {
      m.files().forEach(f -> out.put(f.path(), f));
    }
    return out;
  }

  /** Documents of the two versions joined by doc_id, counted per source file and split. */
  static List<DocChanges> documents(Dataset<Row> before, Dataset<Row> after) {
    Dataset<Row> a = side(before, "a");
    Dataset<Row> b = side(after, "b");
    Column status = when(col("id_a").isNull(), lit("added"))
        .when(col("id_b").isNull(), lit("removed"))
        .when(col("split_a").notEqual(col("split_b")), lit("moved"))
        .when(col("h_a").notEqual(col("h_b")), lit("changed"))
        .otherwise(lit("unchanged"));
    List<Row> groups = a.join(b, col("id_a").equalTo(col("id_b")), "full_outer")
        .groupBy(col("file_a"), col("split_a"), col("file_b"), col("split_b"),
            status.as("status"))
        .agg(count(lit(1)))
        .collectAsList(); // files x splits x splits x statuses: small
    Map<String, long[]> counts = new TreeMap<>();
    for (Row g : groups) {
      String st = g.getString(4);
      long n = g.getLong(5);
      String keyA = g.isNullAt(0) ? null : g.getString(0) + "\u0000" + g.getString(1);
      String keyB = g.isNullAt(2) ? null : g.getString(2) + "\u0000" + g.getString(3);
      switch (st) {
        case "added" -> counts.computeIfAbsent(keyB, k -> new long[6])[0] += n;
        case "removed" -> counts.computeIfAbsent(keyA, k -> new long[6])[1] += n;
        case "changed" -> counts.computeIfAbsent(keyB, k -> new long[6])[2] += n;
        case "moved" -> {
          counts.computeIfAbsent(keyB, k -> new long[6])[3] += n;
          counts.computeIfAbsent(keyA, k -> new long[6])[4] += n;
        }
        default -> counts.computeIfAbsent(keyB, k -> new long[6])[5] += n;
      }
    }
    List<DocChanges> out = new ArrayList<>();
    counts.forEach((k, c) -> {
      String[] fs = k.split("\u0000", 2);
      out.add(new DocChanges(fs[0], fs[1], c[0], c[1], c[2], c[3], c[4], c[5]));
    });
    return out;
  }

  private static Dataset<Row> side(Dataset<Row> docs, String s) {
    return docs.select(col("doc_id").as("id_" + s), col("source_file").as("file_" + s),
        col(Docs.SPLIT).as("split_" + s), sha2(col("text"), 256).as("h_" + s));
  }

  /** Rows and tokens per split of two sequences table versions. */
  static List<SplitRows> splitRows(Dataset<Row> before, Dataset<Row> after) {
    Map<String, long[]> m = new TreeMap<>();
    int side = 0;
    for (Dataset<Row> t : List.of(before, after)) {
      for (Row r : t.groupBy(col(SequencesTable.SPLIT))
          .agg(count(lit(1)), sum(size(col(SequencesTable.TOKENS)))).collectAsList()) {
        long[] c = m.computeIfAbsent(r.getString(0), k -> new long[4]);
        c[side] = r.getLong(1);
        c[side + 2] = r.isNullAt(2) ? 0 : r.getLong(2);
      }
      side++;
    }
    List<SplitRows> out = new ArrayList<>();
    m.forEach((split, c) -> out.add(new SplitRows(split, c[0], c[1], c[2], c[3])));
    return out;
  }
}
