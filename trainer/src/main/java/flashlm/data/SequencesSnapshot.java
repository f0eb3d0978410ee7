package flashlm.data;

import flashlm.concurrent.Concurrently;
import flashlm.table.SequencesTable;
import io.delta.kernel.types.ArrayType;
import io.delta.kernel.types.DataType;
import io.delta.kernel.types.IntegerType;
import io.delta.kernel.types.StructType;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.hadoop.conf.Configuration;

/**
 * The sequences table (see {@link SequencesTable}) at one Delta version, checked against the
 * contract: format version, partition columns, the {@code tokens} column type and the {@code
 * flashlm.*} properties. Lists the parquet row groups of the shards a rank owns; the batches are
 * read by {@link SequenceBatches}.
 */
public final class SequencesSnapshot {
  private final Configuration conf;
  private final DeltaSnapshot delta;
  private final int seqLen;
  private final int vocabSize;
  private final int numShards;

  /** Row groups by "split/rank/worldSize": footers are read once per snapshot. */
  private final Map<String, List<TokenBlock>> blocks =
      new java.util.concurrent.ConcurrentHashMap<>();

  private SequencesSnapshot(Configuration conf, DeltaSnapshot delta) {
    this.conf = conf;
    this.delta = delta;
    String where = describe(delta.table(), delta.version());
    String format = delta.configuration().get(SequencesTable.PROP_FORMAT_VERSION);
    if (!SequencesTable.FORMAT_VERSION.equals(format)) {
      throw new IllegalArgumentException(where + ": table property "
          + SequencesTable.PROP_FORMAT_VERSION + " is " + format + ", this trainer reads "
          + SequencesTable.FORMAT_VERSION + (format == null ? " (is this a sequences table?)"
          : "; rebuild the table with this version of the pipeline"));
    }
    if (!delta.partitionColumns().equals(List.of(SequencesTable.SPLIT, SequencesTable.SHARD))) {
      throw new IllegalArgumentException(where + ": partitioned by " + delta.partitionColumns()
          + ", expected [" + SequencesTable.SPLIT + ", " + SequencesTable.SHARD + "]");
    }
    checkTokensColumn(delta.schema(), where);
    seqLen = intProperty(SequencesTable.PROP_SEQ_LEN, where);
    vocabSize = intProperty(SequencesTable.PROP_VOCAB_SIZE, where);
    numShards = intProperty(SequencesTable.PROP_NUM_SHARDS, where);
  }

  /**
   * Reads the snapshot of {@code table} at {@code version} (latest when null) with Delta Kernel
   * and checks it.
   *
   * @throws IllegalArgumentException naming the table and version when it is not a sequences
   *     table of this format
   */
  public static SequencesSnapshot open(Configuration conf, String table, Long version) {
    return new SequencesSnapshot(conf, DeltaSnapshot.load(conf, table, version));
  }

  public String table() {
    return delta.table();
  }

  public long version() {
    return delta.version();
  }

  /** Tokens per row minus one (inputs and targets overlap by all but one). */
  public int seqLen() {
    return seqLen;
  }

  public int vocabSize() {
    return vocabSize;
  }

  public int numShards() {
    return numShards;
  }

  /** The table properties at this version. */
  public Map<String, String> properties() {
    return delta.configuration();
  }

  /** Rows of {@code split} in the shards rank {@code rank} of {@code worldSize} owns. */
  public long rows(String split, int rank, int worldSize) {
    return blocks(split, rank, worldSize).stream().mapToLong(TokenBlock::rows).sum();
  }

  /** "table T version V": how errors name this snapshot. */
  public String describe() {
    return describe(delta.table(), delta.version());
  }

  /** The row groups of the rank's shards of {@code split}, ordered by shard, file, row group. */
  List<TokenBlock> blocks(String split, int rank, int worldSize) {
    if (worldSize <= 0 || rank < 0 || rank >= worldSize) {
      throw new IllegalArgumentException("rank " + rank + " of world size " + worldSize);
    }
    return blocks.computeIfAbsent(split + "/" + rank + "/" + worldSize,
        k -> listBlocks(split, rank, worldSize));
  }

  /** The footers of the rank's files, read a few at a time ({@link Concurrently}). */
  private List<TokenBlock> listBlocks(String split, int rank, int worldSize) {
    record Owned(DeltaSnapshot.DataFile file, int shard) {}
    List<Owned> owned = new ArrayList<>();
    for (DeltaSnapshot.DataFile f : delta.files()) {
      if (!Objects.equals(f.partitionValues().get(SequencesTable.SPLIT), split)) {
        continue;
      }
      int shard = DeltaSnapshot.intPartition(f, SequencesTable.SHARD, delta.table());
      if (SequencesTable.ownsShard(shard, rank, worldSize)) {
        owned.add(new Owned(f, shard));
      }
    }
    List<TokenBlock> out = new ArrayList<>();
    for (List<TokenBlock> blocks : Concurrently.map(owned, DeltaSnapshot.IN_FLIGHT, o ->
        TokenBlock.of(conf, o.file().path(), o.shard(), o.file().deletedRows(), describe()))) {
      out.addAll(blocks);
    }
    out.sort(Comparator.comparingInt(TokenBlock::shard)
        .thenComparing(b -> b.file().toString()).thenComparingInt(TokenBlock::rowGroup));
    return List.copyOf(out);
  }

  Configuration conf() {
    return conf;
  }

  private int intProperty(String key, String where) {
    String v = delta.configuration().get(key);
    try {
      int n = Integer.parseInt(Objects.requireNonNull(v));
      if (n <= 0) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException | NullPointerException e) {
      throw new IllegalArgumentException(where + ": table property " + key + " is " + v
          + ", expected a positive integer", e);
    }
  }

  /** The schema must hold {@code tokens ARRAY<INT>}; null elements are refused row by row. */
  private static void checkTokensColumn(StructType schema, String where) {
    if (schema.indexOf(SequencesTable.TOKENS) < 0) {
      throw new IllegalArgumentException(where + ": no column " + SequencesTable.TOKENS
          + " in the schema " + schema);
    }
    DataType type = schema.get(SequencesTable.TOKENS).getDataType();
    if (!(type instanceof ArrayType a && a.getElementType() instanceof IntegerType)) {
      throw new IllegalArgumentException(where + ": column " + SequencesTable.TOKENS + " has type "
          + type + ", expected array<integer>");
    }
  }

  static String describe(String table, long version) {
    return "sequences table " + table + " version " + version;
  }
}
