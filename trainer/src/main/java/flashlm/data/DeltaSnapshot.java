package flashlm.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.schema.MessageType;

/**
 * The live files of a Delta table at one version, read from its {@code _delta_log} without
 * Spark: the newest classic checkpoint (single or multi-part parquet) at or before the version,
 * then the JSON commits after it. Enough of the protocol for tables whose data files are plain
 * parquet (no deletion vectors, no column mapping); anything else is refused with a message.
 *
 * @param version the snapshot's version
 * @param partitionColumns from the table's metaData
 * @param configuration the table properties
 * @param files live data files in path order
 */
record DeltaSnapshot(long version, List<String> partitionColumns, Map<String, String> configuration,
    List<AddFile> files) {

  /** A live data file: absolute path, partition values, size in bytes. */
  record AddFile(Path path, Map<String, String> partitionValues, long size) {}

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern COMMIT = Pattern.compile("(\\d{20})\\.json");
  private static final Pattern CHECKPOINT =
      Pattern.compile("(\\d{20})\\.checkpoint(?:\\.(\\d{10})\\.(\\d{10}))?\\.parquet");

  /** Reads the snapshot of {@code table} at {@code version}, or the latest when null. */
  static DeltaSnapshot load(Configuration conf, String table, Long version) {
    try {
      Path root = new Path(table);
      FileSystem fs = root.getFileSystem(conf);
      Path log = new Path(root, "_delta_log");
      if (!fs.exists(log)) {
        throw new IllegalArgumentException("not a Delta table (no _delta_log): " + table);
      }
      TreeMap<Long, Path> commits = new TreeMap<>();
      TreeMap<Long, List<Path>> checkpoints = new TreeMap<>();
      Map<Long, Integer> checkpointParts = new HashMap<>();
      for (FileStatus st : fs.listStatus(log)) {
        String name = st.getPath().getName();
        Matcher c = COMMIT.matcher(name);
        Matcher k = CHECKPOINT.matcher(name);
        if (c.matches()) {
          commits.put(Long.parseLong(c.group(1)), st.getPath());
        } else if (k.matches()) {
          long v = Long.parseLong(k.group(1));
          checkpoints.computeIfAbsent(v, x -> new ArrayList<>()).add(st.getPath());
          checkpointParts.put(v, k.group(3) == null ? 1 : Integer.parseInt(k.group(3)));
        }
      }
      if (commits.isEmpty() && checkpoints.isEmpty()) {
        throw new IllegalArgumentException("Delta table " + table + " has no commits in _delta_log");
      }
      long latest = Math.max(commits.isEmpty() ? -1 : commits.lastKey(),
          checkpoints.isEmpty() ? -1 : checkpoints.lastKey());
      long target = version == null ? latest : version;
      if (target > latest) {
        throw new IllegalArgumentException("Delta table " + table + " has no version " + target
            + " (latest is " + latest + ")");
      }
      State state = new State();
      long from = 0;
      Map.Entry<Long, List<Path>> cp = checkpoints.floorEntry(target);
      while (cp != null && cp.getValue().size() != checkpointParts.get(cp.getKey())) {
        cp = checkpoints.lowerEntry(cp.getKey()); // an incomplete multi-part checkpoint
      }
      if (cp != null) {
        for (Path part : cp.getValue()) {
          readCheckpoint(conf, part, state, root);
        }
        from = cp.getKey() + 1;
      }
      for (long v = from; v <= target; v++) {
        Path commit = commits.get(v);
        if (commit == null) {
          throw new IllegalArgumentException("Delta table " + table + ": commit " + v
              + " is missing from _delta_log (cleaned up by log retention?); read a newer version");
        }
        try (BufferedReader in = new BufferedReader(
            new InputStreamReader(fs.open(commit), StandardCharsets.UTF_8))) {
          String line;
          while ((line = in.readLine()) != null) {
            if (!line.isBlank()) {
              state.apply(JSON.readTree(line), root);
            }
          }
        }
      }
      if (state.partitionColumns == null) {
        throw new IllegalArgumentException("Delta table " + table + " has no metaData action");
      }
      List<AddFile> files = new ArrayList<>(state.files.values());
      return new DeltaSnapshot(target, state.partitionColumns, state.configuration,
          Collections.unmodifiableList(files));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the Delta log of " + table + ": " + e.getMessage(), e);
    }
  }

  /** Replays actions; add/remove keyed by the file's absolute path. */
  private static final class State {
    List<String> partitionColumns;
    Map<String, String> configuration = Map.of();
    final TreeMap<String, AddFile> files = new TreeMap<>();

    void apply(JsonNode action, Path root) {
      if (action.has("protocol")) {
        JsonNode p = action.get("protocol");
        checkFeatures(p.path("readerFeatures"));
      } else if (action.has("metaData")) {
        JsonNode m = action.get("metaData");
        List<String> cols = new ArrayList<>();
        m.path("partitionColumns").forEach(n -> cols.add(n.asText()));
        Map<String, String> conf = new LinkedHashMap<>();
        m.path("configuration").fields().forEachRemaining(e -> conf.put(e.getKey(), e.getValue().asText()));
        metaData(cols, conf);
      } else if (action.has("add")) {
        JsonNode a = action.get("add");
        if (a.hasNonNull("deletionVector")) {
          throw deletionVectors();
        }
        Map<String, String> values = new LinkedHashMap<>();
        a.path("partitionValues").fields().forEachRemaining(e ->
            values.put(e.getKey(), e.getValue().isNull() ? null : e.getValue().asText()));
        add(resolve(root, a.get("path").asText()), values, a.path("size").asLong());
      } else if (action.has("remove")) {
        files.remove(resolve(root, action.get("remove").get("path").asText()).toString());
      }
    }

    void metaData(List<String> cols, Map<String, String> conf) {
      partitionColumns = Collections.unmodifiableList(cols);
      configuration = Collections.unmodifiableMap(conf);
    }

    void add(Path path, Map<String, String> values, long size) {
      files.put(path.toString(), new AddFile(path, Collections.unmodifiableMap(values), size));
    }
  }

  private static void checkFeatures(JsonNode readerFeatures) {
    for (JsonNode f : readerFeatures) {
      String name = f.asText();
      if (!name.equals("timestampNtz") && !name.equals("v2Checkpoint") && !name.equals("vacuumProtocolCheck")) {
        throw new IllegalArgumentException("the sequences table uses the Delta reader feature '" + name
            + "', which the trainer's reader does not support; rewrite the table without it");
      }
    }
  }

  private static IllegalArgumentException deletionVectors() {
    return new IllegalArgumentException("the sequences table has deletion vectors, which the trainer's"
        + " reader does not support; run OPTIMIZE/REORG ... APPLY (PURGE) or rewrite the table");
  }

  /** Delta stores data paths as (usually relative) URI strings, percent-encoded. */
  private static Path resolve(Path root, String uriPath) {
    try {
      URI uri = new URI(uriPath);
      return uri.isAbsolute() ? new Path(uri) : new Path(root, new Path(uri));
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("bad path in the Delta log: " + uriPath, e);
    }
  }

  private static void readCheckpoint(Configuration conf, Path part, State state, Path root)
      throws IOException {
    try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromPath(part, conf))) {
      MessageType schema = reader.getFooter().getFileMetaData().getSchema();
      PageReadStore pages;
      while ((pages = reader.readNextRowGroup()) != null) {
        RecordReader<Group> records = new ColumnIOFactory().getColumnIO(schema)
            .getRecordReader(pages, new GroupRecordConverter(schema));
        for (long i = 0; i < pages.getRowCount(); i++) {
          Group row = records.read();
          if (has(row, "protocol")) {
            Group p = row.getGroup("protocol", 0);
            if (has(p, "readerFeatures")) {
              checkFeatures(JSON.valueToTree(list(p.getGroup("readerFeatures", 0))));
            }
          }
          if (has(row, "metaData")) {
            Group m = row.getGroup("metaData", 0);
            state.metaData(has(m, "partitionColumns") ? list(m.getGroup("partitionColumns", 0)) : List.of(),
                has(m, "configuration") ? map(m.getGroup("configuration", 0)) : Map.of());
          }
          if (has(row, "add")) {
            Group a = row.getGroup("add", 0);
            if (has(a, "deletionVector")) {
              throw deletionVectors();
            }
            state.add(resolve(root, a.getString("path", 0)),
                has(a, "partitionValues") ? map(a.getGroup("partitionValues", 0)) : Map.of(),
                has(a, "size") ? a.getLong("size", 0) : 0);
          }
          // remove actions in a checkpoint are tombstones of files already absent: skip them
        }
      }
    }
  }

  private static boolean has(Group g, String field) {
    return g.getType().containsField(field) && g.getFieldRepetitionCount(field) > 0;
  }

  /** A parquet LIST of strings (3-level, or the legacy 2-level form). */
  private static List<String> list(Group listGroup) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < listGroup.getFieldRepetitionCount(0); i++) {
      if (listGroup.getType().getType(0).isPrimitive()) {
        out.add(listGroup.getString(0, i));
      } else {
        Group e = listGroup.getGroup(0, i);
        out.add(e.getFieldRepetitionCount(0) > 0 ? e.getString(0, 0) : null);
      }
    }
    return out;
  }

  /** A parquet MAP of strings: repeated key_value { key; value }. */
  private static Map<String, String> map(Group mapGroup) {
    Map<String, String> out = new LinkedHashMap<>();
    for (int i = 0; i < mapGroup.getFieldRepetitionCount(0); i++) {
      Group kv = mapGroup.getGroup(0, i);
      out.put(kv.getString(0, 0), kv.getFieldRepetitionCount(1) > 0 ? kv.getString(1, 0) : null);
    }
    return out;
  }
}
