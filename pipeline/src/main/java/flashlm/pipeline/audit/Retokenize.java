package flashlm.pipeline.audit;

import static org.apache.spark.sql.functions.broadcast;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.filter;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.size;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.xxhash64;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import flashlm.config.ConfigException;
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.pipeline.tokenize.TokenizeConfig;
import flashlm.pipeline.tokenize.TokenizerFile;
import flashlm.table.SequencesTable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;

/**
 * {@code --retokenize K}: K documents of a sequences table version, chosen by the smallest {@code
 * xxhash64(seed, doc_id)}, tokenized again with the manifest's tokenizer and compared with the ids
 * stored for them.
 *
 * <p>Where a document's ids are: rows are packed per (split, shard) in doc_id order with EOS
 * after (or BOS before) every document, so the document of rank r in its shard is the r-th
 * separator-delimited stretch of the shard's rows in seq_index order. Its rank comes from the
 * documents table; the separators counted per row, summed over a window in seq_index order, say
 * which rows hold that stretch, and only those rows are read back. A text that encodes to the
 * separator id itself would shift the documents after it (none of the shipped tokenizers does
 * that for the shipped data sets); the mismatch then names the document where it starts.
 */
final class Retokenize {
  private Retokenize() {}

  static List<Verify.Check> check(AuditedTable table, long version, DatasetManifest m, int k,
      long seed, int sample) {
    String name = "retokenized documents";
    if (k <= 0) {
      return List.of(new Verify.Check(name, Verify.SKIPPED, "-", "-",
          "--retokenize K tokenizes K documents again"));
    }
    TokenizeConfig rules = Docs.rules(table, version, m);
    DatasetManifest.TokenizerInfo info = m.tokenizer();
    boolean eos = rules.addEos();
    if (!eos && !rules.addBos()) {
      return List.of(new Verify.Check(name, Verify.SKIPPED, "-", "-", "documents have no"
          + " separator (add_eos and add_bos are off): their ids cannot be found in the rows"));
    }
    int sep = eos ? info.eosId() : info.bosId();
    Docs.DocSet docs;
    TokenizerFile tokenizer;
    try {
      docs = Docs.of(table, version);
      tokenizer = TokenizerFile.read(table.spark().sparkContext().hadoopConfiguration(),
          info.location(), info.bosToken(), info.eosToken());
    } catch (AuditException | ConfigException e) {
      return List.of(new Verify.Check(name, Verify.GONE, k + " documents", "-", e.getMessage()));
    }
    if (!tokenizer.sha256().equals(info.sha256())) {
      return List.of(new Verify.Check(name, Verify.SKIPPED, "-", "-", "the tokenizer at "
          + info.location() + " is not the one the table was made with (see tokenizer file)"));
    }
    List<Row> chosen = docs.rows().orderBy(xxhash64(lit(seed), col("doc_id"))).limit(k)
        .select(col("doc_id"), col("text"), col(Docs.SPLIT), col(Docs.SHARD),
            col("source_file"), col("source_offset")).collectAsList(); // k documents
    SparkSession spark = table.spark();
    StructType keySchema = new StructType().add("c_id", DataTypes.StringType)
        .add("c_split", DataTypes.StringType).add("c_shard", DataTypes.IntegerType)
        .add("a", DataTypes.LongType);
    Map<String, Long> rank = ranks(docs.rows(), chosen, spark);
    List<Row> keys = new ArrayList<>();
    for (Row c : chosen) {
      long r = rank.getOrDefault(c.getString(0), 0L);
      keys.add(RowFactory.create(c.getString(0), c.getString(2), c.getInt(3), eos ? r : r + 1));
    }
    Dataset<Row> bounds = broadcast(spark.createDataFrame(keys, keySchema));
    // Three small queries read the marks: computed once (a sort per shard), kept until done.
    Dataset<Row> marks = marks(table.read(version), bounds, sep)
        .persist(StorageLevel.MEMORY_AND_DISK());
    Map<String, long[]> span;
    try {
      span = spans(marks, bounds);
    } finally {
      marks.unpersist();
    }
    Map<String, List<int[]>> stored = storedRows(table.read(version), span, chosen, spark);

    int same = 0;
    int tail = 0;
    List<String> bad = new ArrayList<>();
    try (HuggingFaceTokenizer tok = tokenizer.newTokenizer()) {
      String[] texts = chosen.stream().map(c -> c.isNullAt(1) ? "" : c.getString(1))
          .toArray(String[]::new);
      Encoding[] encodings = tok.batchEncode(texts);
      for (int i = 0; i < chosen.size(); i++) {
        Row c = chosen.get(i);
        int[] expected = withSeparators(encodings[i].getIds(), rules.addBos() ? info.bosId()
            : -1, eos ? info.eosId() : -1);
        long[] s = span.get(c.getString(0));
        int[] found = segment(stored.get(c.getString(0)), s[2], s[4], sep, eos);
        boolean toEnd = s[3] == 1;
        if (Arrays.equals(expected, found)) {
          same++;
        } else if (toEnd && found.length < expected.length
            && Arrays.equals(Arrays.copyOf(expected, found.length), found)) {
          tail++; // cut by the dropped tail of its shard: what is stored matches
        } else if (bad.size() < sample) {
          bad.add("doc_id " + History.shortHash(c.getString(0)) + ".. (file " + c.getString(4)
              + " offset " + c.get(5) + ", " + c.getString(2) + "/" + c.getInt(3)
              + " from seq_index " + s[0] + "): " + expected.length + " ids tokenized, "
              + found.length + " stored, first difference at id " + Arrays.mismatch(expected,
              found));
        } else {
          bad.add(null);
        }
      }
    }
    int mismatched = chosen.size() - same - tail;
    String where = mismatched == 0 ? "chosen by xxhash64(" + seed + ", doc_id)"
        + (tail == 0 ? "" : "; " + tail + " in a shard's dropped tail, stored part matches")
        : String.join("; ", bad.stream().filter(b -> b != null).toList());
    return List.of(new Verify.Check(name, mismatched == 0 ? Verify.OK : Verify.MISMATCH,
        chosen.size() + " match", (same + tail) + " match" + (mismatched == 0 ? ""
        : ", " + mismatched + " differ"), where));
  }

  /** The rank of each chosen document in its (split, shard): documents before it by doc_id. */
  private static Map<String, Long> ranks(Dataset<Row> docs, List<Row> chosen,
      SparkSession spark) {
    StructType schema = new StructType().add("c_id", DataTypes.StringType)
        .add("c_split", DataTypes.StringType).add("c_shard", DataTypes.IntegerType);
    List<Row> rows = new ArrayList<>();
    for (Row c : chosen) {
      rows.add(RowFactory.create(c.getString(0), c.getString(2), c.getInt(3)));
    }
    Dataset<Row> keys = broadcast(spark.createDataFrame(rows, schema));
    Map<String, Long> out = new HashMap<>();
    for (Row r : docs.join(keys, col(Docs.SPLIT).equalTo(col("c_split"))
        .and(col(Docs.SHARD).equalTo(col("c_shard"))).and(col("doc_id").lt(col("c_id"))))
        .groupBy(col("c_id")).count().collectAsList()) {
      out.put(r.getString(0), r.getLong(1));
    }
    return out;
  }

  /**
   * Per row of the chosen documents' shards: the separators before it ({@code before}) and in it
   * ({@code n}), counted over the shard in seq_index order.
   */
  private static Dataset<Row> marks(Dataset<Row> rows, Dataset<Row> bounds, int sep) {
    Dataset<Row> shards = bounds.select(col("c_split"), col("c_shard")).distinct();
    Column n = size(filter(col(SequencesTable.TOKENS), x -> x.equalTo(sep)));
    Dataset<Row> counted = rows.join(broadcast(shards),
        col(SequencesTable.SPLIT).equalTo(col("c_split"))
            .and(col(SequencesTable.SHARD).equalTo(col("c_shard"))))
        .select(col(SequencesTable.SPLIT), col(SequencesTable.SHARD),
            col(SequencesTable.SEQ_INDEX), n.cast("long").as("n"));
    Column upTo = sum(col("n")).over(Window.partitionBy(col(SequencesTable.SPLIT),
        col(SequencesTable.SHARD)).orderBy(col(SequencesTable.SEQ_INDEX)));
    return counted.withColumn("before", upTo.minus(col("n")));
  }

  /**
   * For each chosen document: the first and last row holding its stretch, the separators before
   * the first, 1 when its stretch runs to the end of the shard (no closing separator), and the
   * separator that opens it.
   */
  private static Map<String, long[]> spans(Dataset<Row> marks, Dataset<Row> bounds) {
    Map<String, long[]> out = new HashMap<>();
    Dataset<Row> joined = marks.join(bounds, col(SequencesTable.SPLIT).equalTo(col("c_split"))
        .and(col(SequencesTable.SHARD).equalTo(col("c_shard"))));
    for (Row b : bounds.collectAsList()) {
      out.put(b.getString(0), new long[] {0, -1, 0, 1, b.getLong(3)});
    }
    // the row where the stretch opens: separator a (for a = 0, the shard's first row)
    for (Row r : joined.where(col("a").equalTo(0).and(col(SequencesTable.SEQ_INDEX).equalTo(0))
        .or(col("before").lt(col("a")).and(col("before").plus(col("n")).geq(col("a")))))
        .select(col("c_id"), col(SequencesTable.SEQ_INDEX), col("before")).collectAsList()) {
      long[] s = out.get(r.getString(0));
      s[0] = r.getLong(1);
      s[2] = r.getLong(2);
    }
    // the row where it closes: separator a + 1; absent when the shard ends first
    for (Row r : joined.where(col("before").lt(col("a").plus(1))
        .and(col("before").plus(col("n")).geq(col("a").plus(1))))
        .select(col("c_id"), col(SequencesTable.SEQ_INDEX)).collectAsList()) {
      long[] s = out.get(r.getString(0));
      s[1] = r.getLong(1);
      s[3] = 0;
    }
    for (Row r : marks.groupBy(col(SequencesTable.SPLIT), col(SequencesTable.SHARD))
        .agg(max(col(SequencesTable.SEQ_INDEX))).join(bounds,
            col(SequencesTable.SPLIT).equalTo(col("c_split"))
                .and(col(SequencesTable.SHARD).equalTo(col("c_shard"))))
        .select(col("c_id"), col("max(" + SequencesTable.SEQ_INDEX + ")")).collectAsList()) {
      long[] s = out.get(r.getString(0));
      if (s[3] == 1) {
        s[1] = r.getLong(1);
      }
    }
    return out;
  }

  /** The rows each chosen document's stretch lies in, in seq_index order. */
  private static Map<String, List<int[]>> storedRows(Dataset<Row> rows, Map<String, long[]> span,
      List<Row> chosen, SparkSession spark) {
    StructType schema = new StructType().add("c_id", DataTypes.StringType)
        .add("c_split", DataTypes.StringType).add("c_shard", DataTypes.IntegerType)
        .add("lo", DataTypes.LongType).add("hi", DataTypes.LongType);
    List<Row> ranges = new ArrayList<>();
    for (Row c : chosen) {
      long[] s = span.get(c.getString(0));
      ranges.add(RowFactory.create(c.getString(0), c.getString(2), c.getInt(3), s[0], s[1]));
    }
    Map<String, List<int[]>> out = new HashMap<>();
    for (Row c : chosen) {
      out.put(c.getString(0), new ArrayList<>());
    }
    for (Row r : rows.join(broadcast(spark.createDataFrame(ranges, schema)),
        col(SequencesTable.SPLIT).equalTo(col("c_split"))
            .and(col(SequencesTable.SHARD).equalTo(col("c_shard")))
            .and(col(SequencesTable.SEQ_INDEX).between(col("lo"), col("hi"))))
        .orderBy(col("c_id"), col(SequencesTable.SEQ_INDEX))
        .select(col("c_id"), col(SequencesTable.TOKENS)).collectAsList()) {
      List<Integer> t = r.getList(1);
      out.get(r.getString(0)).add(t.stream().mapToInt(Integer::intValue).toArray());
    }
    return out;
  }

  /**
   * The stored ids of one document in the rows of its stretch ({@code before} separators precede
   * the first of them): in EOS mode from after separator {@code a} (from the start for a = 0)
   * through separator a + 1; in BOS mode from separator a up to before separator a + 1; to the
   * end of the rows when the closing separator is not there.
   */
  static int[] segment(List<int[]> rows, long before, long a, int sep, boolean eos) {
    int[] all = new int[rows.stream().mapToInt(r -> r.length).sum()];
    int at = 0;
    for (int[] r : rows) {
      System.arraycopy(r, 0, all, at, r.length);
      at += r.length;
    }
    long seen = before;
    int start = eos && a == 0 ? 0 : -1;
    int end = all.length;
    for (int i = 0; i < all.length; i++) {
      if (all[i] != sep) {
        continue;
      }
      seen++;
      if (start < 0) {
        if (seen == a) {
          start = eos ? i + 1 : i;
        }
      } else if (seen == a + 1) {
        end = eos ? i + 1 : i;
        break;
      }
    }
    return start < 0 ? new int[0] : Arrays.copyOfRange(all, start, end);
  }

  static int[] withSeparators(long[] ids, int bos, int eos) {
    int head = bos >= 0 ? 1 : 0;
    int[] out = new int[head + ids.length + (eos >= 0 ? 1 : 0)];
    if (bos >= 0) {
      out[0] = bos;
    }
    for (int i = 0; i < ids.length; i++) {
      out[head + i] = (int) ids[i];
    }
    if (eos >= 0) {
      out[out.length - 1] = eos;
    }
    return out;
  }
}
