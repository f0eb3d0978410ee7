package flashlm.pipeline.audit;

import static org.apache.spark.sql.functions.col;

import flashlm.fs.HadoopFiles;
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.table.RunsTable;
import io.delta.tables.DeltaTable;
import java.io.PrintStream;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * {@code audit lineage}: which data trained a model, and which runs used a table version.
 *
 * <p>For a checkpoint (or a run's checkpoint directory): the runs that led to it, one segment
 * per {@code flashlm train} invocation from the runs table (a resume that changed the table or
 * version is a segment of its own), followed back from the checkpoint's step through each
 * segment's {@code resumed_from}; without rows in the runs table, the segments come from the
 * checkpoints' headers. Then, for every table version a segment trained (and evaluated) on, its
 * manifest: source repo, resolved commit, files and tokenizer.
 *
 * <p>For {@code --table T [--version V]}: the runs table's rows of the runs that read T (at V).
 */
public final class Lineage {
  private Lineage() {}

  /**
   * What a checkpoint's header says (read by the caller, which knows the trainer's format).
   *
   * @param table the sequences table as the run named it
   * @param runsTable the runs table its config names
   */
  public record CheckpointFacts(String path, long step, String table, long tableVersion,
      String trainSplit, String validationSplit, String runsTable) {}

  /** One {@code flashlm train} invocation, or a stretch of checkpoints on one table version. */
  public record Segment(String runId, String status, String startedAt, String endedAt,
      long startStep, long endStep, String table, long tableVersion, String trainSplit,
      String validationSplit, Double trainLoss, Double valLoss, String checkpointDir,
      String checkpoint) {}

  /** Where a table version came from, per its manifest. */
  public record DataOrigin(String table, long version, boolean readable, String job,
      String source, String revision, String resolvedCommit,
      List<DatasetManifest.FileEntry> files, String tokenizer, String tokenizerSha256,
      String documentsTable, Long documentsVersion, String note) {}

  /**
   * A lineage.
   *
   * @param target what was asked about
   * @param runsTable the runs table read
   * @param segments oldest first
   * @param data the table versions the segments read
   */
  public record Report(String target, List<CheckpointFacts> checkpoints, String runsTable,
      List<Segment> segments, List<DataOrigin> data, List<String> notes)
      implements AuditReport {
    @Override
    public void print(PrintStream out) {
      out.println("lineage of " + target);
      if (!checkpoints.isEmpty()) {
        TextTable c = new TextTable("checkpoint", "step", "table", "version");
        checkpoints.forEach(x -> c.row(x.path(), x.step(), x.table(), x.tableVersion()));
        c.print(out);
        out.println();
      }
      out.println("runs (" + (runsTable == null ? "no runs table" : runsTable) + "):");
      TextTable s = new TextTable("run", "status", "started", "steps", "table", "version",
          "train/eval split", "train loss", "val loss", "last checkpoint");
      for (Segment x : segments) {
        s.row(x.runId() == null ? "-" : x.runId().substring(0, Math.min(8, x.runId().length())),
            x.status(), x.startedAt(), x.startStep() + ".." + x.endStep(), x.table(),
            x.tableVersion(), x.trainSplit() + "/" + x.validationSplit(), x.trainLoss(),
            x.valLoss(), x.checkpoint());
      }
      s.print(out);
      for (DataOrigin d : data) {
        out.println();
        out.println("data " + d.table() + " version " + d.version() + (d.readable() ? ""
            : " (its files are gone: vacuumed)") + ":");
        out.println("  made by " + d.job() + " from " + d.source()
            + (d.revision() == null ? "" : " revision " + d.revision())
            + (d.resolvedCommit() == null ? "" : " commit " + d.resolvedCommit()));
        if (d.documentsTable() != null) {
          out.println("  documents " + d.documentsTable() + " version " + d.documentsVersion());
        }
        if (d.tokenizer() != null) {
          out.println("  tokenizer " + d.tokenizer() + " sha256 " + d.tokenizerSha256());
        }
        for (DatasetManifest.FileEntry f : d.files()) {
          out.println("  file " + f.path() + " " + TextTable.cell(f.size()) + " bytes sha256 "
              + f.sha256());
        }
        if (d.note() != null) {
          out.println("  note: " + d.note());
        }
      }
      notes.forEach(n -> out.println("note: " + n));
    }
  }

  /**
   * The lineage of {@code checkpoints} (one file, or the files of a directory), whose runs the
   * runs table of their config recorded under {@code checkpointDir} (qualified).
   */
  public static Report ofCheckpoints(SparkSession spark, String target, String checkpointDir,
      List<CheckpointFacts> checkpoints) {
    if (checkpoints.isEmpty()) {
      throw new AuditException("no checkpoint in " + target);
    }
    List<String> notes = new ArrayList<>();
    CheckpointFacts last = checkpoints.get(checkpoints.size() - 1);
    String runs = qualify(spark, last.runsTable());
    List<Segment> recorded = new ArrayList<>();
    Dataset<Row> rows = runs(spark, runs, notes);
    if (rows != null) {
      for (Row r : rows.where(col(RunsTable.CHECKPOINT_DIR).equalTo(checkpointDir))
          .orderBy(col(RunsTable.STARTED_AT)).collectAsList()) {
        recorded.add(segment(r));
      }
    }
    List<Segment> chain = chain(recorded, last.step());
    if (chain.isEmpty()) {
      notes.add("the runs table has no run that wrote step " + last.step() + " in "
          + checkpointDir + ": the segments below come from the checkpoints' headers");
      chain = fromHeaders(spark, checkpoints);
    }
    return new Report(target, checkpoints, runs, chain, origins(spark, chain), notes);
  }

  /** The runs that read {@code table} (at {@code version}, or any when null). */
  public static Report ofTable(SparkSession spark, String table, Long version,
      String runsTable) {
    String t = qualify(spark, table);
    String runs = qualify(spark, runsTable != null ? runsTable : RunsTable.beside(t));
    List<String> notes = new ArrayList<>();
    List<Segment> found = new ArrayList<>();
    Dataset<Row> rows = runs(spark, runs, notes);
    if (rows != null) {
      Dataset<Row> hits = rows.where(col(RunsTable.TABLE).equalTo(t));
      if (version != null) {
        hits = hits.where(col(RunsTable.TABLE_VERSION).equalTo(version));
      }
      for (Row r : hits.orderBy(col(RunsTable.STARTED_AT)).collectAsList()) {
        found.add(segment(r));
      }
    }
    if (found.isEmpty()) {
      notes.add("no run in " + runs + " read " + t + (version == null ? ""
          : " version " + version));
    }
    return new Report(t + (version == null ? "" : " version " + version), List.of(), runs,
        found, origins(spark, found), notes);
  }

  /** The runs table, or null (with a note) when there is none yet. */
  private static Dataset<Row> runs(SparkSession spark, String runs, List<String> notes) {
    if (!DeltaTable.isDeltaTable(spark, runs)) {
      notes.add("no runs table at " + runs + ": no run has been recorded there");
      return null;
    }
    return spark.read().format("delta").load(runs);
  }

  private static Segment segment(Row r) {
    return new Segment(r.getAs(RunsTable.RUN_ID), r.getAs(RunsTable.STATUS),
        instant(r, RunsTable.STARTED_AT), instant(r, RunsTable.ENDED_AT),
        r.<Long>getAs(RunsTable.START_STEP), r.<Long>getAs(RunsTable.END_STEP),
        r.getAs(RunsTable.TABLE), r.<Long>getAs(RunsTable.TABLE_VERSION),
        r.getAs(RunsTable.TRAIN_SPLIT), r.getAs(RunsTable.VALIDATION_SPLIT),
        r.getAs(RunsTable.TRAIN_LOSS), r.getAs(RunsTable.VAL_LOSS),
        r.getAs(RunsTable.CHECKPOINT_DIR), r.getAs(RunsTable.CHECKPOINT));
  }

  private static String instant(Row r, String column) {
    java.sql.Timestamp t = r.getAs(column);
    return t == null ? null : t.toInstant().truncatedTo(ChronoUnit.SECONDS).toString();
  }

  /**
   * The segments that led to step {@code step}: the latest run that reached it from below, then
   * the one that wrote the step that run resumed from, and so on (a run restarted from an older
   * checkpoint leaves the abandoned one out). Oldest first.
   */
  static List<Segment> chain(List<Segment> runs, long step) {
    List<Segment> out = new ArrayList<>();
    long at = step;
    while (true) {
      Segment found = null;
      for (Segment s : runs) {
        if (s.startStep() < at && at <= s.endStep() && !RunsTable.FAILED.equals(s.status())) {
          found = s; // the latest started wins
        }
      }
      if (found == null) {
        break;
      }
      out.add(0, found);
      if (found.startStep() == 0) {
        break;
      }
      at = found.startStep();
    }
    return out;
  }

  /** Segments from the checkpoints alone: consecutive ones on the same table version. */
  private static List<Segment> fromHeaders(SparkSession spark, List<CheckpointFacts> cks) {
    List<Segment> out = new ArrayList<>();
    long from = 0;
    for (int i = 0; i < cks.size(); i++) {
      CheckpointFacts c = cks.get(i);
      boolean closes = i == cks.size() - 1 || !cks.get(i + 1).table().equals(c.table())
          || cks.get(i + 1).tableVersion() != c.tableVersion();
      if (closes) {
        out.add(new Segment(null, "checkpoints", null, null, from, c.step(),
            qualify(spark, c.table()), c.tableVersion(), c.trainSplit(), c.validationSplit(),
            null, null, null, c.path()));
        from = c.step();
      }
    }
    return out;
  }

  /** The manifest of every distinct table version the segments read. */
  private static List<DataOrigin> origins(SparkSession spark, List<Segment> segments) {
    Map<String, DataOrigin> out = new LinkedHashMap<>();
    for (Segment s : segments) {
      String key = s.table() + "@" + s.tableVersion();
      if (!out.containsKey(key)) {
        out.put(key, origin(spark, s.table(), s.tableVersion()));
      }
    }
    return List.copyOf(out.values());
  }

  static DataOrigin origin(SparkSession spark, String table, long version) {
    AuditedTable t;
    try {
      t = AuditedTable.open(spark, table);
      t.resolve(version);
    } catch (AuditException e) {
      return new DataOrigin(table, version, false, null, null, null, null, List.of(), null,
          null, null, null, e.getMessage());
    }
    AuditedTable.Described d = t.described(version).orElse(null);
    if (d == null) {
      return new DataOrigin(table, version, t.readable(version), null, null, null, null,
          List.of(), null, null, null, null, "no flashlm manifest describes this version");
    }
    DatasetManifest m = d.manifest();
    DatasetManifest.Source src = m.source();
    return new DataOrigin(t.path(), version, t.readable(version), m.job(),
        src == null ? null : src.repo() != null ? src.repo() : src.name(),
        src == null ? null : src.revision(), src == null ? null : src.resolvedCommit(),
        m.files() == null ? List.of() : m.files(),
        m.tokenizer() == null ? null : m.tokenizer().location(),
        m.tokenizer() == null ? null : m.tokenizer().sha256(), m.documentsTable(),
        m.documentsVersion(), d.version() == version ? null
        : "version " + version + " carries no manifest; this is version " + d.version() + "'s");
  }

  private static String qualify(SparkSession spark, String location) {
    return HadoopFiles.qualify(spark.sparkContext().hadoopConfiguration(), location);
  }
}
