package flashlm.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import flashlm.table.SequencesTable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.IntBinaryOperator;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

/**
 * Writes a sequences table by hand, as Spark and Delta lay it out: parquet data files under
 * {@code split=S/shard=N/}, snappy-compressed, holding {@code seq_index} and {@code tokens} (the
 * partition columns live in the path and the log only), and {@code _delta_log/} JSON commits and
 * classic checkpoints. For tests of the Spark-free reader and of the trainer.
 */
public final class SequencesFixture {
  static final MessageType DATA =
      MessageTypeParser.parseMessageType(
          """
          message spark_schema {
            optional int64 seq_index;
            optional group tokens (LIST) {
              repeated group list {
                optional int32 element;
              }
            }
          }\
          """);
  static final String SCHEMA_STRING = "{\"type\":\"struct\",\"fields\":["
      + "{\"name\":\"split\",\"type\":\"string\",\"nullable\":true,\"metadata\":{}},"
      + "{\"name\":\"shard\",\"type\":\"integer\",\"nullable\":true,\"metadata\":{}},"
      + "{\"name\":\"seq_index\",\"type\":\"long\",\"nullable\":true,\"metadata\":{}},"
      + "{\"name\":\"tokens\",\"type\":{\"type\":\"array\",\"elementType\":\"integer\","
      + "\"containsNull\":true},\"nullable\":true,\"metadata\":{}}]}";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path root;
  private final int seqLen;
  private final Configuration conf = new Configuration();
  private int files;
  private long version = -1;
  /** Live files (relative path to its add action), as a checkpoint needs them. */
  private final Map<String, ObjectNode> live = new LinkedHashMap<>();
  private ObjectNode metaData;

  public SequencesFixture(Path root, int seqLen) {
    this.root = root;
    this.seqLen = seqLen;
  }

  public String table() {
    return root.toString();
  }

  public Configuration conf() {
    return conf;
  }

  /**
   * A table of {@code numShards} train and validation shards whose token at (shard, row, col) is
   * {@code token.applyAsInt(shard * 1000 + row, col)}; rows per shard {@code trainRows} and
   * {@code validationRows}; one commit (version 0).
   */
  public static SequencesFixture create(Path root, int seqLen, int vocab, int numShards,
      int trainRows, int validationRows, IntBinaryOperator token) {
    SequencesFixture f = new SequencesFixture(root, seqLen);
    List<String> actions = new ArrayList<>();
    actions.add(protocol());
    actions.add(f.metaData(vocab, numShards));
    for (int s = 0; s < numShards; s++) {
      actions.add(f.add(SequencesTable.TRAIN, s, rows(s, trainRows, seqLen, token), 0));
      actions.add(f.add(SequencesTable.VALIDATION, s, rows(s, validationRows, seqLen, token), 0));
    }
    f.commit(actions);
    return f;
  }

  /** A table of random tokens below {@code vocab}, seeded. */
  public static SequencesFixture random(Path root, int seqLen, int vocab, int numShards,
      int trainRows, int validationRows, long seed) {
    return create(root, seqLen, vocab, numShards, trainRows, validationRows,
        (row, col) -> (int) Math.floorMod(SequenceBatches.mix(seed, row, col), vocab));
  }

  /** Rows with ids {@code token(shard * 1000 + row, col)}. */
  public static int[][] rows(int shard, int n, int seqLen, IntBinaryOperator token) {
    int[][] rows = new int[n][seqLen + 1];
    for (int r = 0; r < n; r++) {
      for (int c = 0; c <= seqLen; c++) {
        rows[r][c] = token.applyAsInt(shard * 1000 + r, c);
      }
    }
    return rows;
  }

  public static String protocol() {
    return "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}";
  }

  /** The metaData action with the sequences-table properties. */
  public String metaData(int vocab, int numShards) {
    return metaData(Map.of(
        SequencesTable.PROP_FORMAT_VERSION, SequencesTable.FORMAT_VERSION,
        SequencesTable.PROP_SEQ_LEN, Integer.toString(seqLen),
        SequencesTable.PROP_VOCAB_SIZE, Integer.toString(vocab),
        SequencesTable.PROP_NUM_SHARDS, Integer.toString(numShards)));
  }

  public String metaData(Map<String, String> properties) {
    ObjectNode m = JSON.createObjectNode();
    m.put("id", "00000000-0000-0000-0000-000000000001");
    m.putObject("format").put("provider", "parquet").putObject("options");
    m.put("schemaString", SCHEMA_STRING);
    m.putArray("partitionColumns").add(SequencesTable.SPLIT).add(SequencesTable.SHARD);
    ObjectNode c = m.putObject("configuration");
    properties.forEach(c::put);
    m.put("createdTime", 0L);
    metaData = m;
    return JSON.createObjectNode().set("metaData", m).toString();
  }

  /**
   * Writes a data file of {@code rows} (row groups of {@code rowsPerGroup}, 0 = one) and returns
   * its add action.
   */
  public String add(String split, int shard, int[][] rows, int rowsPerGroup) {
    String rel = SequencesTable.SPLIT + "=" + split + "/" + SequencesTable.SHARD + "=" + shard
        + "/part-" + String.format("%05d", files++) + "-c000.snappy.parquet";
    Path file = root.resolve(rel);
    try {
      Files.createDirectories(file.getParent());
      var builder = ExampleParquetWriter.builder(new org.apache.hadoop.fs.Path(file.toUri()))
          .withConf(conf).withType(DATA).withCompressionCodec(CompressionCodecName.SNAPPY);
      if (rowsPerGroup > 0) {
        builder.withRowGroupRowCountLimit(rowsPerGroup);
      }
      SimpleGroupFactory groups = new SimpleGroupFactory(DATA);
      try (ParquetWriter<Group> w = builder.build()) {
        for (int r = 0; r < rows.length; r++) {
          Group g = groups.newGroup().append("seq_index", (long) r);
          Group list = g.addGroup("tokens");
          for (int id : rows[r]) {
            list.addGroup("list").append("element", id);
          }
          w.write(g);
        }
      }
      ObjectNode add = JSON.createObjectNode();
      add.put("path", rel);
      add.putObject("partitionValues").put(SequencesTable.SPLIT, split)
          .put(SequencesTable.SHARD, Integer.toString(shard));
      add.put("size", Files.size(file));
      add.put("modificationTime", 0L);
      add.put("dataChange", true);
      live.put(rel, add);
      return JSON.createObjectNode().set("add", add).toString();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A remove action for the file of an earlier add action. */
  public String remove(String addAction) {
    try {
      String rel = JSON.readTree(addAction).get("add").get("path").asText();
      live.remove(rel);
      return "{\"remove\":{\"path\":\"" + rel + "\",\"deletionTimestamp\":0,\"dataChange\":true}}";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes the next commit; returns its version. */
  public long commit(List<String> actions) {
    version++;
    Path log = root.resolve("_delta_log").resolve(String.format("%020d.json", version));
    try {
      Files.createDirectories(log.getParent());
      Files.writeString(log, String.join("\n", actions) + "\n", StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return version;
  }

  /**
   * Writes a classic single-part checkpoint of the current version and {@code _last_checkpoint}.
   */
  public void checkpoint() {
    DeltaCheckpointWriter.write(conf, root.resolve("_delta_log"), version, metaData, live.values());
  }

  /** Random rows for ad-hoc tables. */
  public static int[][] randomRows(int n, int seqLen, int vocab, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[][] rows = new int[n][seqLen + 1];
    for (int[] row : rows) {
      for (int c = 0; c < row.length; c++) {
        row[c] = r.nextInt(vocab);
      }
    }
    return rows;
  }
}
