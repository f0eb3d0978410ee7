package flashlm.pipeline.audit;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.array;
import static org.apache.spark.sql.functions.array_max;
import static org.apache.spark.sql.functions.array_min;
import static org.apache.spark.sql.functions.arrays_overlap;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.size;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import flashlm.fs.HadoopFiles;
import flashlm.fs.SerializableConfiguration;
import flashlm.hash.Sha256;
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.pipeline.manifest.DatasetManifest.SplitCounts;
import flashlm.table.SequencesTable;
import java.io.IOException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The checks of a sequences table version's rows, in one pass over the table: per (split, shard)
 * the row count, the seq_index range and sum (dense from 0 means min 0, max n - 1, sum n(n-1)/2),
 * rows whose tokens are not exactly seq_len + 1 non-null ids, and rows with an id outside the
 * vocabulary, each bad row named by file, split, shard, seq_index (and its row in the file). Then
 * rows and tokens per split against the manifest, and the tokenizer file's sha256.
 *
 * <p>The pass is one Spark task per data file of the version's snapshot ({@link RowScan}), which
 * reads the file's {@code seq_index} and {@code tokens} columns with parquet's column readers and
 * returns a summary of a few numbers: no per-row objects, no shuffle, no second pass to name the
 * bad rows. A version with deletion vectors or column mapping, whose files hold rows or names the
 * table does not, is checked by Spark's reader instead ({@link #sparkPass}).
 */
final class SequenceRows {
  private SequenceRows() {}

  /** One (split, shard)'s rows, merged from its files. */
  private static final class Shard {
    long rows;
    long indexed;
    long seqMin = Long.MAX_VALUE;
    long seqMax = Long.MIN_VALUE;
    long seqSum;

    void add(long n, long withIndex, long min, long max, long sum) {
      rows += n;
      indexed += withIndex;
      seqMin = Math.min(seqMin, min);
      seqMax = Math.max(seqMax, max);
      seqSum += sum;
    }
  }

  /** What the pass found: per (split, shard), and the bad rows. */
  private record Found(Map<String, Map<Integer, Shard>> shards, long widthBad, long idBad,
      List<String> widthRows, List<String> idRows) {}

  static List<Verify.Check> check(AuditedTable table, long version, DatasetManifest m,
      int sample) {
    List<Verify.Check> out = new ArrayList<>();
    int width = m.seqLen() + 1;
    int vocab = m.tokenizer().vocabSize();
    AuditedTable.Listing files = table.dataFiles(version);
    boolean direct = !files.columnMapping()
        && files.files().stream().noneMatch(AuditedTable.DataFile::deletionVector);
    Found f = direct ? scan(table, files, width, vocab, sample)
        : sparkPass(table.read(version), width, vocab, sample);
    Map<String, Long> rowsBySplit = new TreeMap<>();
    List<String> gaps = new ArrayList<>();
    List<String> strayShards = new ArrayList<>();
    f.shards().forEach((split, shards) -> shards.forEach((shard, g) -> {
      long n = g.rows;
      rowsBySplit.merge(split, n, Long::sum);
      BigInteger dense = BigInteger.valueOf(n).multiply(BigInteger.valueOf(n - 1))
          .shiftRight(1);
      if (g.indexed != n || g.seqMin != 0 || g.seqMax != n - 1
          || !BigInteger.valueOf(g.seqSum).equals(dense)) {
        gaps.add(split + "/" + shard + ": " + n + " rows, seq_index " + (g.indexed == 0 ? "null"
            : g.seqMin + ".." + g.seqMax) + (g.indexed == n ? "" : ", " + (n - g.indexed)
            + " null"));
      }
      if (m.numShards() != null && (shard < 0 || shard >= m.numShards())) {
        strayShards.add(split + "/" + shard);
      }
    }));
    out.add(bad("rows of seq_len + 1 = " + width + " ids", f.widthBad(), f.widthRows()));
    out.add(bad("ids inside the vocabulary [0, " + vocab + ")", f.idBad(), f.idRows()));
    out.add(new Verify.Check("seq_index dense from 0 per shard", gaps.isEmpty() ? Verify.OK
        : Verify.MISMATCH, "0..rows-1", gaps.isEmpty() ? "every shard" : gaps.size()
        + " shards differ", gaps.isEmpty() ? null : String.join("; ", gaps)));
    out.add(new Verify.Check("shards below num_shards", strayShards.isEmpty() ? Verify.OK
        : Verify.MISMATCH, "< " + m.numShards(), strayShards.isEmpty() ? "all"
        : String.join(", ", strayShards), null));
    TreeSet<String> splits = new TreeSet<>(rowsBySplit.keySet());
    splits.addAll(m.counts().keySet());
    for (String s : splits) {
      SplitCounts c = m.counts().get(s);
      long found = rowsBySplit.getOrDefault(s, 0L);
      out.add(Verify.Check.compare("rows " + s, c == null ? null : c.rows(), found, null));
      if (c != null && c.tokens() != null && c.rows() != null && c.droppedTailTokens() != null) {
        // The manifest's own arithmetic: the rows it claims hold all its tokens but the tail.
        out.add(Verify.Check.compare("tokens " + s + " = rows * " + width + " + dropped tail",
            c.tokens(), c.rows() * width + c.droppedTailTokens(), "manifest rows " + c.rows()
            + ", dropped_tail_tokens " + c.droppedTailTokens()));
      }
    }
    out.add(tokenizer(table.spark().sparkContext().hadoopConfiguration(), m));
    return out;
  }

  /** The rows of {@code files}, one Spark task per file. */
  private static Found scan(AuditedTable table, AuditedTable.Listing files, int width, int vocab,
      int sample) {
    List<RowScan.Target> targets = new ArrayList<>();
    for (AuditedTable.DataFile d : files.files()) {
      String shard = d.partitionValues().get(SequencesTable.SHARD);
      targets.add(new RowScan.Target(d.path(), d.partitionValues().get(SequencesTable.SPLIT),
          shard == null ? -1 : Integer.parseInt(shard)));
    }
    if (targets.isEmpty()) {
      return new Found(Map.of(), 0, 0, List.of(), List.of());
    }
    SparkSession spark = table.spark();
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<SerializableConfiguration> conf = jsc.broadcast(
        new SerializableConfiguration(spark.sparkContext().hadoopConfiguration()));
    List<RowScan.FileRows> summaries;
    try {
      summaries = jsc.parallelize(targets, targets.size())
          .map(new RowScan(conf, width, vocab, sample)).collect(); // one summary per file
    } finally {
      conf.destroy();
    }
    Map<String, Map<Integer, Shard>> shards = new TreeMap<>();
    long widthBad = 0;
    long idBad = 0;
    List<RowScan.BadRow> widthRows = new ArrayList<>();
    List<RowScan.BadRow> idRows = new ArrayList<>();
    for (RowScan.FileRows s : summaries) {
      shards.computeIfAbsent(s.target().split(), k -> new TreeMap<>())
          .computeIfAbsent(s.target().shard(), k -> new Shard())
          .add(s.rows(), s.indexed(), s.seqMin(), s.seqMax(), s.seqSum());
      widthBad += s.badWidth();
      idBad += s.badId();
      widthRows.addAll(s.widthRows());
      idRows.addAll(s.idRows());
    }
    return new Found(shards, widthBad, idBad, first(widthRows, sample), first(idRows, sample));
  }

  private static List<String> first(List<RowScan.BadRow> rows, int sample) {
    return rows.stream().sorted(RowScan.BadRow.ORDER).limit(sample)
        .map(RowScan.BadRow::describe).toList();
  }

  /**
   * The same pass by Spark's reader, which applies deletion vectors and column mapping: one read
   * plus a small shuffle of one row per (split, shard); only when some row is bad does a second
   * pass name the first ones.
   */
  private static Found sparkPass(Dataset<Row> rows, int width, int vocab, int sample) {
    Column tokens = col(SequencesTable.TOKENS);
    // Built-in array functions only (Spark compiles them; a lambda such as exists() is
    // interpreted per element, which doubled the pass). arrays_overlap(tokens, [-1]) is null
    // exactly when tokens holds a null and no -1 (a -1 is out of the vocabulary anyway).
    Column badWidth = tokens.isNull().or(size(tokens).notEqual(width))
        .or(arrays_overlap(tokens, array(lit(-1))).isNull());
    Column badId = array_min(tokens).lt(0).or(array_max(tokens).geq(vocab));
    List<Row> groups = rows.groupBy(col(SequencesTable.SPLIT), col(SequencesTable.SHARD))
        .agg(count(lit(1)), count(col(SequencesTable.SEQ_INDEX)),
            min(col(SequencesTable.SEQ_INDEX)), max(col(SequencesTable.SEQ_INDEX)),
            sum(col(SequencesTable.SEQ_INDEX)), sum(when(badWidth, 1).otherwise(0)),
            sum(when(badId, 1).otherwise(0)))
        .collectAsList(); // one row per (split, shard)
    Map<String, Map<Integer, Shard>> shards = new TreeMap<>();
    long widthBad = 0;
    long idBad = 0;
    for (Row g : groups) {
      boolean indexed = g.getLong(3) > 0;
      shards.computeIfAbsent(g.getString(0), k -> new TreeMap<>())
          .computeIfAbsent(g.getInt(1), k -> new Shard())
          .add(g.getLong(2), g.getLong(3), indexed ? g.getLong(4) : Long.MAX_VALUE,
              indexed ? g.getLong(5) : Long.MIN_VALUE, indexed ? g.getLong(6) : 0);
      widthBad += g.getLong(7);
      idBad += g.getLong(8);
    }
    return new Found(shards, widthBad, idBad,
        widthBad == 0 ? List.of() : where(rows, badWidth, sample),
        idBad == 0 ? List.of() : where(rows, badId, sample));
  }

  /** The check: every row, or how many differ and the first of them. */
  private static Verify.Check bad(String check, long count, List<String> where) {
    if (count == 0) {
      return new Verify.Check(check, Verify.OK, "every row", "every row", null);
    }
    return new Verify.Check(check, Verify.MISMATCH, "every row", count + " rows differ",
        String.join("; ", where));
  }

  /** The first rows of {@code rows} where {@code bad} holds. */
  private static List<String> where(Dataset<Row> rows, Column bad, int sample) {
    List<String> where = new ArrayList<>();
    for (Row r : rows.where(bad).select(col("_metadata.file_path"), col(SequencesTable.SPLIT),
        col(SequencesTable.SHARD), col(SequencesTable.SEQ_INDEX),
        col("_metadata.row_index"))
        .orderBy(col(SequencesTable.SPLIT), col(SequencesTable.SHARD),
            col(SequencesTable.SEQ_INDEX)).limit(sample).collectAsList()) {
      where.add(new RowScan.BadRow(r.getString(0), r.getString(1), r.getInt(2),
          r.isNullAt(3) ? null : r.getLong(3), r.getLong(4)).describe());
    }
    return where;
  }

  /** The tokenizer.json the manifest names: its sha256, if it is still there. */
  static Verify.Check tokenizer(Configuration conf, DatasetManifest m) {
    String location = m.tokenizer().location();
    String expected = "sha256 " + History.shortHash(m.tokenizer().sha256());
    try {
      if (location == null || !HadoopFiles.exists(conf, location)) {
        return new Verify.Check("tokenizer file", Verify.GONE, expected, "gone", location);
      }
      String sha = Sha256.hex(HadoopFiles.readAll(conf, location));
      return new Verify.Check("tokenizer file", sha.equals(m.tokenizer().sha256()) ? Verify.OK
          : Verify.MISMATCH, expected, "sha256 " + History.shortHash(sha), location);
    } catch (IOException e) {
      return new Verify.Check("tokenizer file", Verify.MISMATCH, expected,
          "unreadable: " + e.getMessage(), location);
    }
  }
}
