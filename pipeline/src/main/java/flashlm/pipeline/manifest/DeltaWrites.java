package flashlm.pipeline.manifest;

import static org.apache.spark.sql.functions.col;

import com.fasterxml.jackson.databind.JsonNode;
import flashlm.config.Configs;
import io.delta.tables.DeltaTable;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.DataFrameWriterV2;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

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

  private DeltaWrites() {}

  /** The Delta version of the table at {@code path}, or -1 when there is no table yet. */
  public static long currentVersion(SparkSession spark, String path) {
    if (!DeltaTable.isDeltaTable(spark, path)) {
      return -1;
    }
    Row last = DeltaTable.forPath(spark, path).history(1).select(col("version")).first();
    return last.getLong(0);
  }

  /**
   * The fingerprint recorded by the latest commit at {@code path}, empty when there is no table or
   * the latest commit was not written by this pipeline.
   */
  public static Optional<String> committedFingerprint(SparkSession spark, String path) {
    return latestManifest(spark, path).map(m -> m.path("fingerprint").asText(null));
  }

  /** The manifest JSON of the latest commit at {@code path}, if it has one. */
  public static Optional<JsonNode> latestManifest(SparkSession spark, String path) {
    if (!DeltaTable.isDeltaTable(spark, path)) {
      return Optional.empty();
    }
    Row last = DeltaTable.forPath(spark, path).history(1).select(col("userMetadata")).first();
    String json = last.isNullAt(0) ? null : last.getString(0);
    if (json == null || json.isBlank()) {
      return Optional.empty();
    }
    try {
      return Optional.of(Configs.json().readTree(json));
    } catch (IOException e) {
      return Optional.empty();
    }
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
