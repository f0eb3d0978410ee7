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
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * The checks of a sequences table version's rows, in one pass over the table: per (split, shard)
 * the row count, the seq_index range and sum (dense from 0 means min 0, max n - 1, sum n(n-1)/2),
 * rows whose tokens are not exactly seq_len + 1 non-null ids, and rows with an id outside the
 * vocabulary: one read of the table plus a small shuffle of one row per (split, shard). Only
 * when some row is bad does a second pass name the first ones (file, split, shard, seq_index).
 * Then rows and tokens per split against the manifest, and the tokenizer file's sha256.
 */
final class SequenceRows {
  private SequenceRows() {}

  static List<Verify.Check> check(AuditedTable table, long version, DatasetManifest m,
      int sample) {
    List<Verify.Check> out = new ArrayList<>();
    int width = m.seqLen() + 1;
    int vocab = m.tokenizer().vocabSize();
    Dataset<Row> rows = table.read(version);
    Column tokens = col(SequencesTable.TOKENS);
    // Built-in array functions only (Spark compiles them; a lambda such as exists() is
    // interpreted per element, which doubled the pass). arrays_overlap(tokens, [-1]) is null
    // exactly when tokens holds a null and no -1 (a -1 is out of the vocabulary anyway).
    Column badWidth = tokens.isNull().or(size(tokens).notEqual(width))
        .or(arrays_overlap(tokens, array(lit(-1))).isNull());
    Column badId = array_min(tokens).lt(0).or(array_max(tokens).geq(vocab));
    List<Row> groups = rows.groupBy(col(SequencesTable.SPLIT), col(SequencesTable.SHARD))
        .agg(count(lit(1)), min(col(SequencesTable.SEQ_INDEX)),
            max(col(SequencesTable.SEQ_INDEX)), sum(col(SequencesTable.SEQ_INDEX)),
            sum(when(badWidth, 1).otherwise(0)), sum(when(badId, 1).otherwise(0)))
        .collectAsList(); // one row per (split, shard)
    Map<String, Long> rowsBySplit = new TreeMap<>();
    long widthBad = 0;
    long idBad = 0;
    List<String> gaps = new ArrayList<>();
    List<String> strayShards = new ArrayList<>();
    for (Row g : groups) {
      String split = g.getString(0);
      int shard = g.getInt(1);
      long n = g.getLong(2);
      rowsBySplit.merge(split, n, Long::sum);
      widthBad += g.getLong(6);
      idBad += g.getLong(7);
      BigInteger dense = BigInteger.valueOf(n).multiply(BigInteger.valueOf(n - 1))
          .shiftRight(1);
      if (g.getLong(3) != 0 || g.getLong(4) != n - 1 || !BigInteger.valueOf(g.getLong(5))
          .equals(dense)) {
        gaps.add(split + "/" + shard + ": " + n + " rows, seq_index " + g.getLong(3) + ".."
            + g.getLong(4));
      }
      if (m.numShards() != null && (shard < 0 || shard >= m.numShards())) {
        strayShards.add(split + "/" + shard);
      }
    }
    out.add(bad("rows of seq_len + 1 = " + width + " ids", widthBad, rows, badWidth, sample));
    out.add(bad("ids inside the vocabulary [0, " + vocab + ")", idBad, rows, badId, sample));
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

  /** The check, naming the first rows of {@code rows} where {@code bad} holds, if any does. */
  private static Verify.Check bad(String check, long count, Dataset<Row> rows, Column bad,
      int sample) {
    if (count == 0) {
      return new Verify.Check(check, Verify.OK, "every row", "every row", null);
    }
    List<String> where = new ArrayList<>();
    for (Row r : rows.where(bad).select(col("_metadata.file_path"), col(SequencesTable.SPLIT),
        col(SequencesTable.SHARD), col(SequencesTable.SEQ_INDEX))
        .orderBy(col(SequencesTable.SPLIT), col(SequencesTable.SHARD),
            col(SequencesTable.SEQ_INDEX)).limit(sample).collectAsList()) {
      where.add(r.getString(0) + " (" + r.getString(1) + "/" + r.getInt(2) + " seq_index "
          + r.get(3) + ")");
    }
    return new Verify.Check(check, Verify.MISMATCH, "every row", count + " rows differ",
        String.join("; ", where));
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
