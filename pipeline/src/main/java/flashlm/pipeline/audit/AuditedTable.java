package flashlm.pipeline.audit;

import static org.apache.spark.sql.functions.col;

import flashlm.config.Configs;
import flashlm.fs.HadoopFiles;
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.table.SequencesTable;
import io.delta.tables.DeltaTable;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.delta.NoMapping$;
import org.apache.spark.sql.delta.actions.AddFile;
import org.apache.spark.sql.delta.files.TahoeFileIndex;
import org.apache.spark.sql.execution.datasources.HadoopFsRelation;
import org.apache.spark.sql.execution.datasources.LogicalRelation;
import scala.jdk.javaapi.CollectionConverters;

/**
 * A Delta table as the audits see it: every commit in its history with the manifest it carries,
 * and which versions can still be read. A version whose data files were deleted (by VACUUM, which
 * keeps the log, or by hand) is refused with a message naming it and the oldest version still
 * readable.
 */
public final class AuditedTable {
  /** What a table version holds. */
  public enum Kind {
    DOCUMENTS,
    SEQUENCES,
    OTHER
  }

  /**
   * One commit.
   *
   * @param version its Delta version
   * @param timestamp when it was committed
   * @param operation Delta's name for it (CREATE OR REPLACE TABLE AS SELECT, DELETE, ...)
   * @param manifest its own manifest, or null when its userMetadata holds none (a commit made by
   *     hand, such as a DELETE)
   * @param operationMetrics Delta's figures for it (numOutputRows, numDeletedRows, ...)
   */
  public record Commit(long version, Instant timestamp, String operation,
      DatasetManifest manifest, Map<String, String> operationMetrics) {}

  /**
   * The manifest that describes a version, and the commit it came from: the version's own, else
   * the latest earlier commit's (a commit made by hand carries none, and changes no property).
   */
  public record Described(long version, DatasetManifest manifest) {}

  private final SparkSession spark;
  private final String path;
  /**
   * Read on first use: the history is a Spark job, and reading a version needs none. Guarded by
   * its own lock, so that the checks that need the history do not wait for a listing of files.
   */
  private volatile List<Commit> commits;
  private final Object historyLock = new Object();
  private final Map<Long, List<String>> missing = new HashMap<>();
  private final Map<Long, Integer> fileCounts = new HashMap<>();
  /** The data files of each version listed so far: listing one replays the log, once. */
  private final Map<Long, Listing> listed = new HashMap<>();
  /** One DataFrame per version: resolving a version replays the log, once. */
  private final Map<Long, Dataset<Row>> frames = new HashMap<>();
  /** The tables one audit opens, by path, shared by the tables it reaches from this one. */
  private final Map<String, AuditedTable> opened;

  private AuditedTable(SparkSession spark, String path, Map<String, AuditedTable> opened) {
    this.spark = spark;
    this.path = path;
    this.opened = opened;
    opened.put(path, this);
  }

  /** Opens the table at {@code location} (relative paths against the working directory). */
  public static AuditedTable open(SparkSession spark, String location) {
    return open(spark, location, new HashMap<>());
  }

  /**
   * Opens another table in the same audit (the documents table a sequences table was made
   * from): once per audit, whatever the number of versions that name it.
   */
  public AuditedTable other(String location) {
    String p = HadoopFiles.qualify(spark.sparkContext().hadoopConfiguration(), location);
    synchronized (opened) {
      AuditedTable t = opened.get(p);
      return t != null ? t : open(spark, p, opened);
    }
  }

  private static AuditedTable open(SparkSession spark, String location,
      Map<String, AuditedTable> opened) {
    String path = HadoopFiles.qualify(spark.sparkContext().hadoopConfiguration(), location);
    if (!DeltaTable.isDeltaTable(spark, path)) {
      throw new AuditException("not a Delta table (no _delta_log with commits): " + path);
    }
    return new AuditedTable(spark, path, opened);
  }

  /** The commits still in the log, oldest first, from the Delta history (read once). */
  public List<Commit> commits() {
    List<Commit> known = commits;
    if (known != null) {
      return known;
    }
    synchronized (historyLock) {
      if (commits == null) {
        commits = history();
      }
      return commits;
    }
  }

  private List<Commit> history() {
    List<Commit> found = new ArrayList<>();
    // One row per version whose commit is still in the log: small.
    for (Row r : DeltaTable.forPath(spark, path).history()
        .select(col("version"), col("timestamp"), col("operation"), col("userMetadata"),
            col("operationMetrics")).collectAsList()) {
      Map<String, String> metrics = r.isNullAt(4) ? Map.of()
          : CollectionConverters.asJava(r.<String, String>getMap(4));
      found.add(new Commit(r.getLong(0), r.getTimestamp(1).toInstant(), r.getString(2),
          manifest(r.isNullAt(3) ? null : r.getString(3)), Map.copyOf(metrics)));
    }
    found.sort(Comparator.comparingLong(Commit::version));
    return List.copyOf(found);
  }

  /** A commit's userMetadata as a manifest, or null when it is not one. */
  static DatasetManifest manifest(String userMetadata) {
    if (userMetadata == null || userMetadata.isBlank()) {
      return null;
    }
    try {
      DatasetManifest m = DatasetManifest.fromJson(Configs.json().readTree(userMetadata));
      return m.job() == null ? null : m;
    } catch (IOException | IllegalArgumentException e) {
      return null; // someone else's userMetadata
    }
  }

  /** The table's qualified location. */
  public String path() {
    return path;
  }

  /** The session the table is read with. */
  SparkSession spark() {
    return spark;
  }

  /** The latest version. */
  public long latest() {
    List<Commit> all = commits();
    return all.get(all.size() - 1).version();
  }

  /** {@code version}, or the latest when null; refuses one the log does not have. */
  public long resolve(Long version) {
    if (version == null) {
      return latest();
    }
    commit(version);
    return version;
  }

  /** The commit of {@code version}. */
  public Commit commit(long version) {
    for (Commit c : commits()) {
      if (c.version() == version) {
        return c;
      }
    }
    throw new AuditException("Delta table " + path + " has no version " + version
        + " in its log (versions " + commits().get(0).version() + " to " + latest() + ")");
  }

  /** The manifest describing {@code version}, if any commit up to it has one. */
  public Optional<Described> described(long version) {
    Described found = null;
    for (Commit c : commits()) {
      if (c.version() > version) {
        break;
      }
      if (c.manifest() != null) {
        found = new Described(c.version(), c.manifest());
      }
    }
    return Optional.ofNullable(found);
  }

  /** The manifest describing {@code version}; an error naming the table when there is none. */
  public Described requireDescribed(long version) {
    return described(version).orElseThrow(() -> new AuditException("Delta table " + path
        + " version " + version + " has no flashlm manifest in its history up to that version:"
        + " not written by ingest or tokenize"));
  }

  /** What {@code version} holds: from its manifest's job, else from its columns. */
  public Kind kind(long version) {
    Optional<Described> d = described(version);
    if (d.isPresent()) {
      return "tokenize".equals(d.get().manifest().job()) ? Kind.SEQUENCES : Kind.DOCUMENTS;
    }
    List<String> columns = List.of(frame(version).columns());
    return columns.contains(SequencesTable.TOKENS) ? Kind.SEQUENCES
        : columns.contains("doc_id") && columns.contains("text") ? Kind.DOCUMENTS : Kind.OTHER;
  }

  /**
   * A live data file of a version.
   *
   * @param path its qualified location
   * @param partitionValues partition column to value, as the log records them
   * @param deletionVector whether a deletion vector hides some of its rows
   */
  public record DataFile(String path, Map<String, String> partitionValues,
      boolean deletionVector) {}

  /**
   * The live data files of a version.
   *
   * @param columnMapping whether the table maps column names to other names in its files
   */
  public record Listing(List<DataFile> files, boolean columnMapping) {}

  /**
   * The live data files of {@code version}, from the Delta snapshot that reading the version
   * uses: one log replay, whose file list Delta caches, for the listing and the read.
   */
  public synchronized Listing dataFiles(long version) {
    Listing known = listed.get(version);
    if (known != null) {
      return known;
    }
    TahoeFileIndex index;
    try {
      index = fileIndex(frame(version));
    } catch (RuntimeException e) {
      commit(version); // names the versions there are, when this one is not among them
      throw e;
    }
    Path root = index.path();
    List<DataFile> files = new ArrayList<>();
    for (AddFile a : CollectionConverters.asJava(index.matchingFiles(
        CollectionConverters.asScala(List.<Expression>of()).toList(),
        CollectionConverters.asScala(List.<Expression>of()).toList()))) {
      Path p = a.toPath();
      files.add(new DataFile((p.isAbsolute() ? p : new Path(root, p)).toString(),
          CollectionConverters.asJava(a.partitionValues()), a.deletionVector() != null));
    }
    files.sort(Comparator.comparing(DataFile::path));
    Listing out = new Listing(List.copyOf(files),
        index.metadata().columnMappingMode() != NoMapping$.MODULE$);
    listed.put(version, out);
    return out;
  }

  /** The Delta file index a read of the table scans. */
  private TahoeFileIndex fileIndex(Dataset<Row> frame) {
    for (LogicalPlan leaf : CollectionConverters.asJava(
        frame.queryExecution().analyzed().collectLeaves())) {
      if (leaf instanceof LogicalRelation r && r.relation() instanceof HadoopFsRelation h
          && h.location() instanceof TahoeFileIndex index) {
        return index;
      }
    }
    throw new AuditException("Delta table " + path + ": a read of it scans no Delta file index"
        + " (" + frame.queryExecution().analyzed().nodeName() + ")");
  }

  /** The data files of {@code version} that are no longer in storage (empty when it is whole). */
  public synchronized List<String> missingFiles(long version) {
    List<String> known = missing.get(version);
    if (known != null) {
      return known;
    }
    String[] files = dataFiles(version).files().stream().map(DataFile::path)
        .toArray(String[]::new);
    List<String> gone = gone(spark.sparkContext().hadoopConfiguration(), files);
    missing.put(version, gone);
    fileCounts.put(version, files.length);
    return gone;
  }

  /** Whether every data file of {@code version} is still there. */
  public boolean readable(long version) {
    return missingFiles(version).isEmpty();
  }

  /** The oldest version whose files are all there, or -1. */
  public long oldestReadable() {
    for (Commit c : commits()) {
      if (readable(c.version())) {
        return c.version();
      }
    }
    return -1;
  }

  /** Refuses {@code version} when its files are gone, naming it and the oldest readable one. */
  public void requireReadable(long version) {
    List<String> gone = missingFiles(version);
    if (!gone.isEmpty()) {
      throw new AuditException(vacuumed(version, gone));
    }
  }

  /** The message for a version whose files are gone. */
  String vacuumed(long version, List<String> gone) {
    long oldest = oldestReadable();
    return "Delta table " + path + " version " + version + " cannot be read: " + gone.size()
        + " of its " + fileCounts.get(version) + " data files are gone (removed by VACUUM, or by"
        + " hand), such as " + gone.get(0)
        + "; " + (oldest < 0 ? "no version of the table has all its files"
        : "the oldest version still readable is " + oldest) + " (the latest is " + latest() + ")";
  }

  /** The table as of {@code version}, refused when its files are gone. */
  public Dataset<Row> read(long version) {
    requireReadable(version);
    return frame(version);
  }

  private synchronized Dataset<Row> frame(long version) {
    return frames.computeIfAbsent(version,
        v -> spark.read().format("delta").option("versionAsOf", v).load(path));
  }

  /** "table T version V", as reports name a version. */
  public String describe(long version) {
    return path + " version " + version;
  }

  /** The files of {@code files} not in storage; each directory they lie in is listed once. */
  static List<String> gone(Configuration conf, String[] files) {
    Map<Path, Set<String>> present = new HashMap<>();
    List<String> out = new ArrayList<>();
    for (String f : files) {
      Path p = new Path(f);
      Set<String> names = present.computeIfAbsent(p.getParent(), d -> list(conf, d));
      if (!names.contains(p.getName())) {
        out.add(f);
      }
    }
    out.sort(null);
    return out;
  }

  private static Set<String> list(Configuration conf, Path dir) {
    try {
      Set<String> names = new HashSet<>();
      for (FileStatus st : dir.getFileSystem(conf).listStatus(dir)) {
        names.add(st.getPath().getName());
      }
      return names;
    } catch (FileNotFoundException e) {
      return Set.of();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
    }
  }
}
