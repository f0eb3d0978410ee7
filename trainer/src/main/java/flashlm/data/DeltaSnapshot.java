package flashlm.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The live files of a Delta table at one version, read from its {@code _delta_log} without
 * Spark: the newest complete classic checkpoint (single or multi-part parquet) at or before the
 * version, then the JSON commits after it. Enough of the protocol for tables whose data files
 * are plain parquet (no deletion vectors, no column mapping, no v2 checkpoints); anything else is
 * refused with a message that names the table and says what to do.
 *
 * <p>The log listing is authoritative; {@code _last_checkpoint} is read as a cross-check: when it
 * names a checkpoint at or before the version whose files are missing, the log is damaged and
 * the read stops rather than silently replaying a partial history.
 *
 * @param table the table's root path as given
 * @param version the snapshot's version
 * @param schemaString the table schema (Spark's JSON struct type) from the metaData action
 * @param partitionColumns from the table's metaData
 * @param configuration the table properties
 * @param files live data files in path order
 */
public record DeltaSnapshot(String table, long version, String schemaString,
    List<String> partitionColumns, Map<String, String> configuration, List<AddFile> files) {

  /**
   * A live data file.
   *
   * @param path absolute path
   * @param partitionValues partition column to value (null for a null partition)
   * @param size bytes
   */
  public record AddFile(Path path, Map<String, String> partitionValues, long size) {}

  static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern COMMIT = Pattern.compile("(\\d{20})\\.json");
  private static final Pattern CHECKPOINT =
      Pattern.compile("(\\d{20})\\.checkpoint(?:\\.(\\d{10})\\.(\\d{10}))?\\.parquet");

  public DeltaSnapshot {
    partitionColumns = List.copyOf(partitionColumns);
    configuration = Collections.unmodifiableMap(new TreeMap<>(configuration));
    files = List.copyOf(files);
  }

  /**
   * Reads the snapshot of {@code table} at {@code version}, or the latest when null.
   *
   * @throws IllegalArgumentException naming the table, version and log file when the table is
   *     missing, the version does not exist, the log is incomplete or uses unsupported features
   * @throws UncheckedIOException when the filesystem fails
   */
  public static DeltaSnapshot load(Configuration conf, String table, Long version) {
    Path root = new Path(table);
    try {
      FileSystem fs = root.getFileSystem(conf);
      Path log = new Path(root, "_delta_log");
      FileStatus[] listing;
      try {
        listing = fs.listStatus(log);
      } catch (FileNotFoundException e) {
        throw new IllegalArgumentException("not a Delta table (no _delta_log directory): " + table, e);
      }
      TreeMap<Long, Path> commits = new TreeMap<>();
      TreeMap<Long, List<Path>> checkpoints = new TreeMap<>();
      Map<Long, Integer> checkpointParts = new HashMap<>();
      for (FileStatus st : listing) {
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
      if (target < 0 || target > latest) {
        throw new IllegalArgumentException("Delta table " + table + " has no version " + target
            + " (versions go up to " + latest + ")");
      }
      Map.Entry<Long, List<Path>> cp = checkpoints.floorEntry(target);
      while (cp != null && cp.getValue().size() != checkpointParts.get(cp.getKey())) {
        cp = checkpoints.lowerEntry(cp.getKey()); // an incomplete multi-part checkpoint
      }
      checkLastCheckpoint(fs, log, table, target, cp == null ? -1 : cp.getKey());

      LogReplay state = new LogReplay(table, root);
      long from = 0;
      if (cp != null) {
        List<Path> parts = new ArrayList<>(cp.getValue());
        Collections.sort(parts);
        for (Path part : parts) {
          DeltaCheckpoint.read(conf, part, state);
        }
        from = cp.getKey() + 1;
      }
      for (long v = from; v <= target; v++) {
        Path commit = commits.get(v);
        if (commit == null) {
          throw new IllegalArgumentException("Delta table " + table + ": commit " + v + " needed for"
              + " version " + target + " is missing from _delta_log (removed by log retention?);"
              + " read a version at or after the newest checkpoint");
        }
        replayCommit(fs, commit, state);
      }
      return state.snapshot(target);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the Delta log of " + table + " at version "
          + (version == null ? "latest" : version) + ": " + e.getMessage(), e);
    }
  }

  /** The partition value of {@code column} of each file, as an int; names the file if not one. */
  static int intPartition(AddFile file, String column, String table) {
    String v = file.partitionValues().get(column);
    try {
      return Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("Delta table " + table + ": file " + file.path()
          + " has partition " + column + "=" + v + ", expected an integer", e);
    }
  }

  private static void replayCommit(FileSystem fs, Path commit, LogReplay state) throws IOException {
    try (BufferedReader in = new BufferedReader(
        new InputStreamReader(fs.open(commit), StandardCharsets.UTF_8))) {
      String line;
      int lineNo = 0;
      while ((line = in.readLine()) != null) {
        lineNo++;
        if (line.isBlank()) {
          continue;
        }
        JsonNode action;
        try {
          action = JSON.readTree(line);
        } catch (IOException e) {
          throw new IllegalArgumentException("Delta table " + state.table + ": " + commit + " line "
              + lineNo + " is not JSON: " + e.getMessage(), e);
        }
        state.apply(action, commit + " line " + lineNo);
      }
    }
  }

  /** {@code _last_checkpoint} must not name a checkpoint we could have used but did not find. */
  private static void checkLastCheckpoint(FileSystem fs, Path log, String table, long target,
      long found) throws IOException {
    Path last = new Path(log, "_last_checkpoint");
    JsonNode hint;
    try (var in = fs.open(last)) {
      hint = JSON.readTree(in);
    } catch (FileNotFoundException e) {
      return;
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      return; // written non-atomically on some stores; the listing is authoritative
    }
    if (hint == null || !hint.has("version")) {
      return;
    }
    long v = hint.get("version").asLong();
    if (v <= target && v > found) {
      throw new IllegalArgumentException("Delta table " + table + ": " + last + " names a"
          + " checkpoint at version " + v + " but its parquet file(s) are missing or incomplete"
          + " in _delta_log; the log is damaged (restore the checkpoint or read a version before " + v
          + ")");
    }
  }

  /** Replays actions in order; add/remove keyed by the file's absolute path. */
  static final class LogReplay {
    final String table;
    final Path root;
    String schemaString;
    List<String> partitionColumns;
    Map<String, String> configuration = Map.of();
    final TreeMap<String, AddFile> files = new TreeMap<>();

    LogReplay(String table, Path root) {
      this.table = table;
      this.root = root;
    }

    void apply(JsonNode action, String where) {
      if (action.has("protocol")) {
        JsonNode p = action.get("protocol");
        protocol(p.path("minReaderVersion").asInt(1), stringList(p.path("readerFeatures")), where);
      } else if (action.has("metaData")) {
        JsonNode m = action.get("metaData");
        Map<String, String> conf = new TreeMap<>();
        m.path("configuration").fields().forEachRemaining(e ->
            conf.put(e.getKey(), e.getValue().isNull() ? null : e.getValue().asText()));
        metaData(m.path("schemaString").asText(null), stringList(m.path("partitionColumns")), conf,
            where);
      } else if (action.has("add")) {
        JsonNode a = action.get("add");
        if (a.hasNonNull("deletionVector")) {
          throw deletionVectors(where);
        }
        Map<String, String> values = new TreeMap<>();
        a.path("partitionValues").fields().forEachRemaining(e ->
            values.put(e.getKey(), e.getValue().isNull() ? null : e.getValue().asText()));
        add(requiredText(a, "path", where), values, a.path("size").asLong(), where);
      } else if (action.has("remove")) {
        remove(requiredText(action.get("remove"), "path", where), where);
      }
    }

    void protocol(int minReaderVersion, List<String> readerFeatures, String where) {
      if (minReaderVersion > 3) {
        throw new IllegalArgumentException("Delta table " + table + " (" + where + ") needs reader"
            + " version " + minReaderVersion + "; the trainer's reader supports up to 3");
      }
      for (String name : readerFeatures) {
        if (!name.equals("timestampNtz") && !name.equals("vacuumProtocolCheck")) {
          throw new IllegalArgumentException("Delta table " + table + " (" + where + ") uses the"
              + " reader feature '" + name + "', which the trainer's reader does not support;"
              + " rewrite the table without it");
        }
      }
    }

    void metaData(String schema, List<String> cols, Map<String, String> conf, String where) {
      String mapping = conf.get("delta.columnMapping.mode");
      if (mapping != null && !mapping.equals("none")) {
        throw new IllegalArgumentException("Delta table " + table + " (" + where + ") uses column"
            + " mapping mode '" + mapping + "', which the trainer's reader does not support");
      }
      schemaString = schema;
      partitionColumns = List.copyOf(cols);
      configuration = conf;
    }

    void add(String uriPath, Map<String, String> values, long size, String where) {
      Path path = resolve(uriPath, where);
      files.put(path.toString(), new AddFile(path, Collections.unmodifiableMap(values), size));
    }

    void remove(String uriPath, String where) {
      files.remove(resolve(uriPath, where).toString());
    }

    DeltaSnapshot snapshot(long version) {
      if (partitionColumns == null) {
        throw new IllegalArgumentException("Delta table " + table + " has no metaData action up to"
            + " version " + version);
      }
      return new DeltaSnapshot(table, version, schemaString, partitionColumns, configuration,
          new ArrayList<>(files.values()));
    }

    /** Delta stores data paths as (usually relative) URI strings, percent-encoded. */
    private Path resolve(String uriPath, String where) {
      try {
        java.net.URI uri = new java.net.URI(uriPath);
        return uri.isAbsolute() ? new Path(uri) : new Path(root, new Path(uri));
      } catch (java.net.URISyntaxException | IllegalArgumentException e) {
        throw new IllegalArgumentException("Delta table " + table + " (" + where
            + "): bad file path '" + uriPath + "'", e);
      }
    }

    private String requiredText(JsonNode node, String field, String where) {
      if (!node.hasNonNull(field)) {
        throw new IllegalArgumentException("Delta table " + table + " (" + where + "): action without '"
            + field + "'");
      }
      return node.get(field).asText();
    }

    IllegalArgumentException deletionVectors(String where) {
      return new IllegalArgumentException("Delta table " + table + " (" + where + ") has deletion"
          + " vectors, which the trainer's reader does not support; run REORG TABLE ... APPLY"
          + " (PURGE) or rewrite the table");
    }

    private static List<String> stringList(JsonNode array) {
      List<String> out = new ArrayList<>();
      array.forEach(n -> out.add(n.asText()));
      return out;
    }
  }
}
