package flashlm.table;

/**
 * The contract between the data pipeline (writer) and the trainer (reader): the sequences table.
 *
 * <p>A Delta table partitioned by {@link #SPLIT} then {@link #SHARD}. Every row holds exactly
 * {@code seq_len + 1} token ids: inputs are {@code tokens[0..seq_len)}, targets {@code
 * tokens[1..seq_len]}. Documents are tokenized, joined with the configured BOS/EOS separators and
 * packed back to back within a shard; the tail of a shard that does not fill a row is dropped and
 * counted in the manifest. Rank {@code r} of {@code W} trainer ranks reads the shards with
 * {@code shard % W == r}, so a rank touches only its own partition directories.
 *
 * <pre>
 * split      STRING      partition: "train" or "validation"
 * shard      INT         partition: 0 .. num_shards-1
 * seq_index  LONG        0-based, dense position of the row within its (split, shard)
 * tokens     ARRAY&lt;INT&gt;  exactly seq_len + 1 ids, no nulls
 * </pre>
 *
 * <p>Table properties (strings) written on every commit; keys avoid the words Spark redacts
 * ({@code token}, {@code secret}, {@code password}).
 */
public final class SequencesTable {
  public static final String SPLIT = "split";
  public static final String SHARD = "shard";
  public static final String SEQ_INDEX = "seq_index";
  public static final String TOKENS = "tokens";

  public static final String TRAIN = "train";
  public static final String VALIDATION = "validation";

  /** Format of this table layout; bumped when a column or property changes meaning. */
  public static final String PROP_FORMAT_VERSION = "flashlm.format_version";
  public static final String FORMAT_VERSION = "1";
  public static final String PROP_SEQ_LEN = "flashlm.seq_len";
  public static final String PROP_VOCAB_SIZE = "flashlm.vocab_size";
  public static final String PROP_NUM_SHARDS = "flashlm.num_shards";
  public static final String PROP_BOS_ID = "flashlm.bos_id";
  public static final String PROP_EOS_ID = "flashlm.eos_id";
  /** sha256 of the tokenizer.json bytes. */
  public static final String PROP_VOCAB_FILE_SHA256 = "flashlm.vocab_file_sha256";
  /** The full dataset manifest as JSON (also each commit's userMetadata). */
  public static final String PROP_MANIFEST = "flashlm.manifest";

  private SequencesTable() {}

  /** The shards that rank {@code rank} of {@code worldSize} reads. */
  public static boolean ownsShard(int shard, int rank, int worldSize) {
    return shard % worldSize == rank;
  }
}
