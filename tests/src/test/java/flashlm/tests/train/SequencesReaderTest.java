package flashlm.tests.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.data.SequenceBatches;
import flashlm.data.SequencesSnapshot;
import flashlm.table.SequencesTable;
import flashlm.tests.SparkTestSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trainer's Spark-free reader on a sequences table that Spark and Delta wrote: commits, a
 * classic checkpoint (every two commits), a partition delete (remove actions), time travel, rows
 * deleted with deletion vectors. Rows must match what was inserted, id for id.
 */
class SequencesReaderTest {
  private static final int SEQ = 5;

  @TempDir
  Path dir;

  /** An INSERT of (split, shard) rows whose tokens are id*10 + col, ids from {@code first}. */
  private static String rows(String split, int shard, int first, int count,
      TreeMap<String, List<Integer>> expected) {
    StringBuilder values = new StringBuilder();
    for (int id = first; id < first + count; id++) {
      StringBuilder tokens = new StringBuilder();
      for (int c = 0; c <= SEQ; c++) {
        tokens.append(c == 0 ? "" : ", ").append(id * 10 + c);
      }
      values
          .append(values.length() == 0 ? "" : ", ")
          .append("('")
          .append(split)
          .append("', ")
          .append(shard)
          .append(", ")
          .append(id - first)
          .append("L, array(")
          .append(tokens)
          .append("))");
      expected.computeIfAbsent(split + "/" + shard, k -> new ArrayList<>()).add(id * 10);
    }
    return values.toString();
  }

  private static TreeMap<String, List<Integer>> copy(TreeMap<String, List<Integer>> m) {
    TreeMap<String, List<Integer>> out = new TreeMap<>();
    m.forEach((k, v) -> out.put(k, new ArrayList<>(v)));
    return out;
  }

  /** The same through SequencesSnapshot and SequenceBatches (table order, batch of 1). */
  private static TreeMap<String, List<Integer>> ourRows(String table, long version, int shards) {
    SequencesSnapshot s = SequencesSnapshot.open(new Configuration(), table, version);
    TreeMap<String, List<Integer>> out = new TreeMap<>();
    for (String split : List.of(SequencesTable.TRAIN, SequencesTable.VALIDATION)) {
      for (int shard = 0; shard < shards; shard++) {
        long n = s.rows(split, shard, shards); // rank == shard with world == shards
        if (n == 0) {
          continue;
        }
        SequenceBatches b = SequenceBatches.builder(s).setSplit(split).setBatchSize(1)
            .optRank(shard, shards).optShuffle(false).build();
        List<Integer> ids = new ArrayList<>();
        for (long i = 0; i < n; i++) {
          int[] row = b.next();
          assertEquals(SEQ + 1, row.length);
          for (int c = 0; c <= SEQ; c++) {
            assertEquals(row[0] + c, row[c], "row " + i + " of " + split + "/" + shard);
          }
          ids.add(row[0]);
        }
        ids.sort(null);
        out.put(split + "/" + shard, ids);
      }
    }
    return out;
  }

  /** A sequences table of 2 shards with a checkpoint every two commits, and more properties. */
  private static void create(SparkSession spark, String table, String properties) {
    spark.sql("CREATE TABLE delta.`" + table + "` (split STRING, shard INT, seq_index BIGINT,"
        + " tokens ARRAY<INT>) USING delta PARTITIONED BY (split, shard) TBLPROPERTIES ("
        + "'" + SequencesTable.PROP_FORMAT_VERSION + "' = '1', '" + SequencesTable.PROP_SEQ_LEN
        + "' = '" + SEQ + "', '" + SequencesTable.PROP_VOCAB_SIZE + "' = '100000', '"
        + SequencesTable.PROP_NUM_SHARDS + "' = '2', 'delta.checkpointInterval' = '2'"
        + properties + ")");
  }

  @Test
  void readsWhatSparkWrote() {
    SparkSession spark = SparkTestSession.get();
    String table = dir.resolve("sequences").toString();
    create(spark, table, "");                                                              // v0
    TreeMap<String, List<Integer>> rows = new TreeMap<>();
    spark.sql("INSERT INTO delta.`" + table + "` VALUES " + rows("train", 0, 100, 4, rows) + ", "
        + rows("train", 1, 200, 3, rows));                                                 // v1
    TreeMap<String, List<Integer>> v1 = copy(rows);
    spark.sql("INSERT INTO delta.`" + table + "` VALUES " + rows("validation", 0, 300, 2, rows)
        + ", " + rows("train", 0, 400, 2, rows));                                         // v2
    spark.sql("DELETE FROM delta.`" + table + "` WHERE split = 'train' AND shard = 1");    // v3
    rows.remove("train/1");
    rows.values().forEach(l -> l.sort(null));

    assertTrue(
        Files.exists(dir.resolve("sequences/_delta_log/00000000000000000002.checkpoint.parquet")),
        "Delta wrote no checkpoint at version 2");
    assertEquals(v1, ourRows(table, 1, 2), "version 1 (JSON commits only)");
    assertEquals(rows, ourRows(table, 3, 2), "version 3 (checkpoint, then a remove)");
    assertEquals(rows.values().stream().mapToLong(List::size).sum(),
        spark.read().format("delta").load(table).count(), "Spark's own count");
    SequencesSnapshot latest = SequencesSnapshot.open(new Configuration(), table, null);
    assertEquals(3, latest.version());
    assertEquals(SEQ, latest.seqLen());
    assertEquals(2, latest.numShards());
    assertEquals(6, latest.rows("train", 0, 1));
  }

  @Test
  void leavesOutRowsThatDeletionVectorsDelete() throws Exception {
    SparkSession spark = SparkTestSession.get();
    String table = dir.resolve("dv").toString();
    create(spark, table, ", 'delta.enableDeletionVectors' = 'true'");                     // v0
    TreeMap<String, List<Integer>> rows = new TreeMap<>();
    spark.sql("INSERT INTO delta.`" + table + "` VALUES " + rows("train", 0, 100, 6, rows) + ", "
        + rows("train", 1, 200, 3, rows) + ", " + rows("validation", 0, 300, 2, rows));   // v1
    TreeMap<String, List<Integer>> v1 = copy(rows);
    spark.sql("DELETE FROM delta.`" + table + "` WHERE split = 'train' AND shard = 0"
        + " AND seq_index IN (1, 4)");                                                    // v2
    rows.get("train/0").removeAll(List.of(1010, 1040));
    TreeMap<String, List<Integer>> v2 = copy(rows);
    spark.sql("DELETE FROM delta.`" + table + "` WHERE split = 'train' AND seq_index = 0"); // v3
    rows.get("train/0").remove(Integer.valueOf(1000));
    rows.get("train/1").remove(Integer.valueOf(2000));

    String log = Files.readString(dir.resolve("dv/_delta_log/00000000000000000002.json"));
    assertTrue(log.contains("\"deletionVector\":{"), "Delta deleted by rewriting: " + log);
    assertTrue(Files.exists(dir.resolve("dv/_delta_log/00000000000000000002.checkpoint.parquet")),
        "Delta wrote no checkpoint at version 2");
    assertEquals(v1, ourRows(table, 1, 2), "version 1 (no deletes)");
    assertEquals(v2, ourRows(table, 2, 2), "version 2 (a deletion vector, from the checkpoint)");
    assertEquals(rows, ourRows(table, 3, 2), "version 3 (a second vector on each train file)");
    assertEquals(rows.values().stream().mapToLong(List::size).sum(),
        spark.read().format("delta").load(table).count(), "Spark's own count");
    assertEquals(3, SequencesSnapshot.open(new Configuration(), table, null).rows("train", 0, 2));
  }
}
