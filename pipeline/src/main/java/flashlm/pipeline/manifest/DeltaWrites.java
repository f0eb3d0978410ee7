package flashlm.pipeline.manifest;

import static org.apache.spark.sql.functions.col;

import com.fasterxml.jackson.databind.JsonNode;
import flashlm.config.Configs;
import io.delta.tables.DeltaTable;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.DataFrameWriterV2;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a whole table version in one Delta commit: data, table properties and {@code
 * userMetadata} together (REPLACE TABLE AS SELECT on a path), so readers see the old version or
 * the new one, never half of it, and the table history keeps one version per data version.
 *
 * <p>Idempotence has two layers. Before any work is written, {@link #committedFingerprint} reads
 * the manifest of the table's latest commit; a job whose inputs have the same fingerprint does not
 * write at all. The commit itself carries Delta's {@code txnAppId}/{@code txnVersion}: the app id
 * is {@code flashlm-<job>-<fingerprint prefix>} and the version the table version the job
 * started from plus one, so two copies of the same job racing from the same start commit once
 * (Delta rejects or skips the second) while the same inputs written again after a different data
 * version (A, B, A) still commit, with a higher version.
 */
public final class DeltaWrites {
  /** Property holding the full manifest JSON (same key as SequencesTable.PROP_MANIFEST). */
  public static final String PROP_MANIFEST = "flashlm.manifest";
  /** Property holding the manifest's input fingerprint. */
  public static final String PROP_FINGERPRINT = "flashlm.fingerprint";

  private static final Logger LOG = LoggerFactory.getLogger(DeltaWrites.class);

  private DeltaWrites() {}

  /**
   * What a job did to its table.
   *
   * @param table the table's location
   * @param version the table version that holds the inputs (new, or the one already there)
   * @param committed true when this run wrote a new version; false when the table already held
   *     the same inputs and nothing was written
   * @param manifest the manifest of that version
   */
  public record Result(String table, long version, boolean committed,
      DatasetManifest manifest) {}

  /**
   * A table version to write: its rows, its manifest (the commit's userMetadata), its flat table
   * properties and its partition columns in order.
   */
  public record NewVersion(Dataset<Row> data, DatasetManifest manifest,
      Map<String, String> properties, List<String> partitionColumns) {}

  /**
   * The result of a job whose inputs have {@code fingerprint} when the table's latest commit
   * already holds them: nothing to write. Empty when there is work to do.
   */
  public static Optional<Result> unchanged(String job, String table, Optional<Commit> latest,
      String fingerprint) {
    if (latest.flatMap(Commit::fingerprint).filter(fingerprint::equals).isEmpty()) {
      return Optional.empty();
    }
    LOG.info("{}: {} version {} already holds these inputs; nothing written", job, table,
        latest.get().version());
    return Optional.of(new Result(table, latest.get().version(), false,
        latest.get().manifest().map(DatasetManifest::fromJson).orElse(null)));
  }

  /**
   * The one protocol every job writes its table with: when the latest commit ({@code latest},
   * read before the job started) holds inputs of the same {@code fingerprint}, nothing is built
   * or written; otherwise {@code build} makes the version and it is committed whole ({@link
   * #replaceTable}) with the txn ids that make a retried job commit once.
   */
  public static Result commit(SparkSession spark, String job, String table,
      Optional<Commit> latest, String fingerprint, Supplier<NewVersion> build) {
    Optional<Result> same = unchanged(job, table, latest, fingerprint);
    if (same.isPresent()) {
      return same.get();
    }
    NewVersion v = build.get();
    replaceTable(v.data(), table, job, fingerprint, latest.map(Commit::version).orElse(-1L),
        v.manifest().toJson(), v.properties(), v.partitionColumns().toArray(new String[0]));
    long version = currentVersion(spark, table);
    LOG.info("{}: committed version {} of {}: {}", job, version, table, v.manifest().counts());
    return new Result(table, version, true, v.manifest());
  }

  /**
   * The latest commit of a table.
   *
   * @param version its Delta version
   * @param manifest its userMetadata parsed as JSON, when it is a flashlm manifest
   */
  public record Commit(long version, Optional<JsonNode> manifest) {
    /** The manifest's input fingerprint, if the commit has one. */
    public Optional<String> fingerprint() {
      return manifest.map(m -> m.path("fingerprint").asText(null));
    }
  }

  /** The latest commit at {@code path}, or empty when there is no table yet (one log read). */
  public static Optional<Commit> latest(SparkSession spark, String path) {
    if (!DeltaTable.isDeltaTable(spark, path)) {
      return Optional.empty();
    }
    Row last = DeltaTable.forPath(spark, path).history(1)
        .select(col("version"), col("userMetadata")).first();
    return Optional.of(new Commit(last.getLong(0), parse(last.isNullAt(1) ? null
        : last.getString(1))));
  }

  /**
   * The commit of version {@code version} at {@code path} (the latest when null), or empty when
   * there is no table or no such version.
   */
  public static Optional<Commit> at(SparkSession spark, String path, Long version) {
    if (version == null) {
      return latest(spark, path);
    }
    if (!DeltaTable.isDeltaTable(spark, path)) {
      return Optional.empty();
    }
    List<Row> rows = DeltaTable.forPath(spark, path).history()
        .where(col("version").equalTo(version)).select(col("version"), col("userMetadata"))
        .collectAsList(); // one row of the table's history
    if (rows.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new Commit(version, parse(rows.get(0).isNullAt(1) ? null
        : rows.get(0).getString(1))));
  }

  private static Optional<JsonNode> parse(String json) {
    if (json == null || json.isBlank()) {
      return Optional.empty();
    }
    try {
      return Optional.of(Configs.json().readTree(json));
    } catch (IOException e) {
      return Optional.empty(); // someone else's userMetadata: not ours
    }
  }

  /**
   * Appends {@code data} to the table at {@code path} (created by the first append) in one
   * commit whose userMetadata is {@code metadataJson}, once per {@code fingerprint}: the commit
   * carries txnAppId {@code flashlm-<job>-<fingerprint prefix>} and txnVersion 1, so an append
   * of the same inputs again (a retried job, a re-run) is skipped by Delta. For tables that
   * collect results (evaluations) rather than hold one version of a data set.
   *
   * @return true when Delta committed the rows, false when an append of this fingerprint was
   *     already there
   */
  public static boolean appendOnce(Dataset<Row> data, String path, String job,
      String fingerprint, String metadataJson) {
    SparkSession spark = spark(data);
    long before = currentVersion(spark, path);
    data.write().format("delta").mode("append")
        .option("userMetadata", metadataJson)
        .option("txnAppId", appId(job, fingerprint))
        .option("txnVersion", "1")
        .save(path);
    return currentVersion(spark, path) > before;
  }

  /** The Delta version of the table at {@code path}, or -1 when there is no table yet. */
  public static long currentVersion(SparkSession spark, String path) {
    return latest(spark, path).map(Commit::version).orElse(-1L);
  }

  /**
   * The fingerprint recorded by the latest commit at {@code path}, empty when there is no table or
   * the latest commit was not written by this pipeline.
   */
  public static Optional<String> committedFingerprint(SparkSession spark, String path) {
    return latest(spark, path).flatMap(Commit::fingerprint);
  }

  /** The manifest JSON of the latest commit at {@code path}, if it has one. */
  public static Optional<JsonNode> latestManifest(SparkSession spark, String path) {
    return latest(spark, path).flatMap(Commit::manifest);
  }

  /**
   * Replaces the table at {@code path} with {@code data} in one commit.
   *
   * @param job short job name for the txnAppId ("ingest", "tokenize")
   * @param fingerprint hex fingerprint of the inputs and config
   * @param startVersion the table version read before the job started ({@link #currentVersion})
   * @param manifestJson compact manifest JSON: the commit's userMetadata and {@link #PROP_MANIFEST}
   * @param properties flat table properties (string values)
   * @param partitionColumns partition columns, in order (may be empty)
   */
  public static void replaceTable(Dataset<Row> data, String path, String job, String fingerprint,
      long startVersion, String manifestJson, Map<String, String> properties,
      String... partitionColumns) {
    DataFrameWriterV2<Row> writer = data.writeTo("delta.`" + path + "`")
        .using("delta")
        .option("userMetadata", manifestJson)
        .option("txnAppId", appId(job, fingerprint))
        .option("txnVersion", Long.toString(startVersion + 1))
        .tableProperty(PROP_MANIFEST, manifestJson)
        .tableProperty(PROP_FINGERPRINT, fingerprint);
    for (Map.Entry<String, String> e : properties.entrySet()) {
      writer = writer.tableProperty(e.getKey(), e.getValue());
    }
    if (partitionColumns.length > 0) {
      Column[] rest = new Column[partitionColumns.length - 1];
      for (int i = 1; i < partitionColumns.length; i++) {
        rest[i - 1] = col(partitionColumns[i]);
      }
      writer = writer.partitionedBy(col(partitionColumns[0]), rest);
    }
    // The session-level commitInfo conf is the documented way for SQL-style writes; set it too in
    // case the v2 path does not forward the userMetadata option.
    String key = "spark.databricks.delta.commitInfo.userMetadata";
    spark(data).conf().set(key, manifestJson);
    try {
      writer.createOrReplace();
    } finally {
      spark(data).conf().unset(key);
    }
  }

  /** The txnAppId for a job writing inputs with {@code fingerprint}. */
  static String appId(String job, String fingerprint) {
    return "flashlm-" + job + "-" + fingerprint.substring(0, Math.min(32, fingerprint.length()));
  }

  private static SparkSession spark(Dataset<Row> data) {
    return data.sparkSession();
  }
}
