package flashlm.data;

import flashlm.concurrent.Concurrently;
import io.delta.kernel.Scan;
import io.delta.kernel.Snapshot;
import io.delta.kernel.Table;
import io.delta.kernel.data.ColumnVector;
import io.delta.kernel.data.ColumnarBatch;
import io.delta.kernel.data.FilteredColumnarBatch;
import io.delta.kernel.data.Row;
import io.delta.kernel.engine.Engine;
import io.delta.kernel.engine.FileReadResult;
import io.delta.kernel.exceptions.KernelEngineException;
import io.delta.kernel.exceptions.KernelException;
import io.delta.kernel.exceptions.TableNotFoundException;
import io.delta.kernel.internal.InternalScanFileUtils;
import io.delta.kernel.internal.actions.DeletionVectorDescriptor;
import io.delta.kernel.internal.util.Utils;
import io.delta.kernel.types.StructField;
import io.delta.kernel.types.StructType;
import io.delta.kernel.utils.CloseableIterator;
import io.delta.kernel.utils.FileStatus;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * The live data files of a Delta table at one version, read with Delta Kernel (no Spark): Kernel
 * lists and replays {@code _delta_log} (JSON commits, classic, multi-part and v2 checkpoints),
 * checks that it can read the table's protocol, and gives the files with their partition values.
 * The trainer then reads the files' parquet row groups itself ({@link TokenBlock}): the row group
 * is its unit of shuffling. A file with a deletion vector is read with the deleted rows left out,
 * their indexes taken from Kernel. Column mapping is refused: the direct read finds the tokens
 * column by its name.
 *
 * @param table the table's root path as given
 * @param version the snapshot's version
 * @param schema the table schema
 * @param partitionColumns from the table's metadata
 * @param configuration the table properties
 * @param files live data files in path order
 */
public record DeltaSnapshot(String table, long version, StructType schema,
    List<String> partitionColumns, Map<String, String> configuration, List<DataFile> files) {

  /**
   * A live data file.
   *
   * @param path absolute path
   * @param partitionValues partition column to value (null for a null partition)
   * @param size bytes
   * @param deletedRows indexes of the rows of the file its deletion vector deletes, ascending
   *     (empty when it has none)
   */
  public record DataFile(Path path, Map<String, String> partitionValues, long size,
      long[] deletedRows) {}

  /** Storage requests (footers, listings) in flight at most while a snapshot is opened. */
  static final int IN_FLIGHT = 8;

  private static final long[] NONE = new long[0];
  private static final String COLUMN_MAPPING = "delta.columnMapping.mode";

  public DeltaSnapshot {
    partitionColumns = List.copyOf(partitionColumns);
    configuration = Collections.unmodifiableMap(new TreeMap<>(configuration));
    files = List.copyOf(files);
  }

  /**
   * Reads the snapshot of {@code table} at {@code version}, or the latest when null.
   *
   * @throws IllegalArgumentException naming the table and version when the table is missing, the
   *     version does not exist, the log is incomplete or the table uses features this reader
   *     cannot read
   * @throws UncheckedIOException when the filesystem fails
   */
  public static DeltaSnapshot load(Configuration conf, String table, Long version) {
    String at = version == null ? "the latest version" : "version " + version;
    if (version != null && version < 0) {
      throw new IllegalArgumentException("Delta table " + table + " has no version " + version);
    }
    Engine engine = KernelEngine.create(conf);
    Snapshot snapshot = snapshot(engine, table, version, at);
    String where = "Delta table " + table + " version " + snapshot.getVersion();
    Map<String, String> properties = snapshot.getTableProperties();
    String mapping = properties.getOrDefault(COLUMN_MAPPING, "none");
    if (!mapping.equals("none")) {
      throw new IllegalArgumentException(where + " uses column mapping mode '" + mapping
          + "': the trainer reads the data files' columns by name; rewrite the table without"
          + " column mapping");
    }
    List<DataFile> files;
    try {
      files = files(engine, snapshot, where);
    } catch (KernelException | IllegalStateException | UnsupportedOperationException e) {
      throw new IllegalArgumentException(where + ": cannot list the data files: "
          + e.getMessage(), e);
    }
    List<Path> gone = missing(conf, files, where);
    if (!gone.isEmpty()) {
      throw new IllegalArgumentException(where + " cannot be read: " + gone.size() + " of its "
          + files.size() + " data files are gone (removed by VACUUM, or by hand), such as "
          + gone.get(0) + "; " + oldestReadable(conf, engine, table, snapshot.getVersion()));
    }
    return new DeltaSnapshot(table, snapshot.getVersion(), snapshot.getSchema(),
        snapshot.getPartitionColumnNames(), properties, files);
  }

  /**
   * The files of {@code files} that are no longer in storage. VACUUM deletes the data files of
   * old versions and leaves their log, so a version can list files that are gone; each directory
   * the files lie in is listed once (a few listings per table, not one request per file), a few
   * at a time ({@link Concurrently}).
   */
  static List<Path> missing(Configuration conf, List<DataFile> files, String where) {
    List<Path> parents = files.stream().map(f -> f.path().getParent()).toList();
    List<Path> dirs = new ArrayList<>(new LinkedHashSet<>(parents));
    Map<Path, Set<String>> present = new HashMap<>();
    List<Set<String>> listed = Concurrently.map(dirs, IN_FLIGHT, d -> list(conf, d, where));
    for (int i = 0; i < dirs.size(); i++) {
      present.put(dirs.get(i), listed.get(i));
    }
    List<Path> gone = new ArrayList<>();
    for (int i = 0; i < files.size(); i++) {
      Path file = files.get(i).path();
      if (!present.get(parents.get(i)).contains(file.getName())) {
        gone.add(file);
      }
    }
    return gone;
  }

  private static Set<String> list(Configuration conf, Path dir, String where) {
    try {
      Set<String> names = new HashSet<>();
      for (org.apache.hadoop.fs.FileStatus st : dir.getFileSystem(conf).listStatus(dir)) {
        names.add(st.getPath().getName());
      }
      return names;
    } catch (FileNotFoundException e) {
      return Set.of();
    } catch (IOException e) {
      throw new UncheckedIOException(where + ": cannot list " + dir + ": " + e.getMessage(), e);
    }
  }

  /**
   * Names the oldest version of {@code table} whose files are all present, trying the versions
   * whose commits are still in the log from the oldest up (on a table written by whole-table
   * replaces, as the pipeline's are, the readable versions are the newest ones).
   */
  private static String oldestReadable(Configuration conf, Engine engine, String table,
      long refused) {
    Table t = Table.forPath(engine, table);
    long latest = latestVersion(engine, table);
    for (long v : logVersions(conf, table)) {
      if (v == refused || v > latest) {
        continue;
      }
      try {
        Snapshot s = t.getSnapshotAsOfVersion(engine, v);
        String at = "Delta table " + table + " version " + v;
        if (missing(conf, files(engine, s, at), at).isEmpty()) {
          return "the oldest version still readable is " + v + " (the latest is " + latest + ")";
        }
      } catch (RuntimeException e) {
        // not reconstructable from the log that is left: try the next one
      }
    }
    return "no version of the table has all its files (the latest is " + latest + ")";
  }

  /** The versions that have a commit file in the log, ascending. */
  private static List<Long> logVersions(Configuration conf, String table) {
    Path log = new Path(table, "_delta_log");
    List<Long> versions = new ArrayList<>();
    try {
      for (org.apache.hadoop.fs.FileStatus st : log.getFileSystem(conf).listStatus(log)) {
        String name = st.getPath().getName();
        if (name.matches("\\d{20}\\.json")) {
          versions.add(Long.parseLong(name.substring(0, 20)));
        }
      }
    } catch (IOException e) {
      return List.of();
    }
    Collections.sort(versions);
    return versions;
  }

  /** The partition value of {@code column} of each file, as an int; names the file if not one. */
  static int intPartition(DataFile file, String column, String table) {
    String v = file.partitionValues().get(column);
    try {
      return Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("Delta table " + table + ": file " + file.path()
          + " has partition " + column + "=" + v + ", expected an integer", e);
    }
  }

  private static Snapshot snapshot(Engine engine, String table, Long version, String at) {
    try {
      Table t = Table.forPath(engine, table);
      return version == null ? t.getLatestSnapshot(engine)
          : t.getSnapshotAsOfVersion(engine, version);
    } catch (TableNotFoundException e) {
      throw new IllegalArgumentException("not a Delta table (no _delta_log directory, or no"
          + " commits in it): " + table, e);
    } catch (KernelException | IllegalStateException | IllegalArgumentException e) {
      if (version != null) {
        long latest = latestVersion(engine, table);
        if (latest >= 0 && version > latest) {
          throw new IllegalArgumentException("Delta table " + table + " has no version " + version
              + " (versions go up to " + latest + ")", e);
        }
      }
      throw new IllegalArgumentException("Delta table " + table + ": cannot read " + at + ": "
          + e.getMessage(), e);
    } catch (UncheckedIOException | KernelEngineException e) {
      throw ioError("cannot read the Delta log of " + table + " at " + at, e);
    }
  }

  /** A filesystem failure that Kernel or its engine wrapped, unwrapped to the IOException. */
  private static UncheckedIOException ioError(String what, RuntimeException e) {
    IOException cause = e.getCause() instanceof IOException io ? io : new IOException(e);
    return new UncheckedIOException(what + ": " + e.getMessage(), cause);
  }

  /** The latest version, or -1 when even that cannot be read (the caller reports its error). */
  private static long latestVersion(Engine engine, String table) {
    try {
      return Table.forPath(engine, table).getLatestSnapshot(engine).getVersion();
    } catch (RuntimeException e) {
      return -1;
    }
  }

  /**
   * The scan files of the snapshot. The scan's columns are the partition columns and the row
   * index: Kernel reads no data here, and {@link #deletedRows} hands it row indexes alone.
   */
  private static List<DataFile> files(Engine engine, Snapshot snapshot, String where) {
    StructType columns = new StructType();
    for (String c : snapshot.getPartitionColumnNames()) {
      columns = columns.add(snapshot.getSchema().get(c));
    }
    columns = columns.add(StructField.DEFAULT_ROW_INDEX_COLUMN);
    Scan scan = snapshot.getScanBuilder().withReadSchema(columns).build();
    Row scanState = null;
    // by path, keyed by the log's path string: sorting does not build a Path's string per
    // comparison
    TreeMap<String, DataFile> out = new TreeMap<>();
    try (CloseableIterator<FilteredColumnarBatch> batches = scan.getScanFiles(engine)) {
      while (batches.hasNext()) {
        try (CloseableIterator<Row> rows = batches.next().getRows()) {
          while (rows.hasNext()) {
            Row scanFile = rows.next();
            FileStatus status = InternalScanFileUtils.getAddFileStatus(scanFile);
            long[] deleted = NONE;
            DeletionVectorDescriptor dv =
                InternalScanFileUtils.getDeletionVectorDescriptorFromRow(scanFile);
            if (dv != null) {
              scanState = scanState == null ? scan.getScanState(engine) : scanState;
              deleted = deletedRows(engine, scanState, scanFile, status);
              if (deleted.length != dv.getCardinality()) {
                throw new IllegalArgumentException(where + ": the deletion vector of "
                    + status.getPath() + " deletes " + dv.getCardinality() + " rows, Kernel"
                    + " marked " + deleted.length);
              }
            }
            out.put(status.getPath(), new DataFile(new Path(status.getPath()),
                Collections.unmodifiableMap(new TreeMap<>(
                    InternalScanFileUtils.getPartitionValues(scanFile))),
                status.getSize(), deleted));
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(where + ": cannot list the data files: " + e.getMessage(), e);
    } catch (UncheckedIOException | KernelEngineException e) {
      throw ioError(where + ": cannot list the data files", e);
    }
    return new ArrayList<>(out.values());
  }

  /**
   * The rows that {@code scanFile}'s deletion vector deletes: Kernel reads the file's row indexes
   * and applies the vector ({@link Scan#transformPhysicalData}); its selection vector marks the
   * rows that stay.
   */
  private static long[] deletedRows(Engine engine, Row scanState, Row scanFile,
      FileStatus status) throws IOException {
    StructType rowIndex = new StructType().add(StructField.DEFAULT_ROW_INDEX_COLUMN);
    CloseableIterator<ColumnarBatch> physical = engine.getParquetHandler()
        .readParquetFiles(Utils.singletonCloseableIterator(status), rowIndex, Optional.empty())
        .map(FileReadResult::getData);
    long[] deleted = new long[16];
    int n = 0;
    try (CloseableIterator<FilteredColumnarBatch> logical =
        Scan.transformPhysicalData(engine, scanState, scanFile, physical)) {
      while (logical.hasNext()) {
        FilteredColumnarBatch b = logical.next();
        ColumnVector index = b.getData().getColumnVector(
            b.getData().getSchema().indexOf(StructField.DEFAULT_ROW_INDEX_COLUMN.getName()));
        Optional<ColumnVector> keep = b.getSelectionVector();
        for (int i = 0; keep.isPresent() && i < index.getSize(); i++) {
          if (keep.get().isNullAt(i) || !keep.get().getBoolean(i)) {
            if (n == deleted.length) {
              deleted = Arrays.copyOf(deleted, 2 * n);
            }
            deleted[n++] = index.getLong(i);
          }
        }
      }
    }
    deleted = Arrays.copyOf(deleted, n);
    Arrays.sort(deleted);
    return deleted;
  }
}
