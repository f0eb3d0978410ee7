package flashlm.tests;

import flashlm.config.Configs;
import flashlm.pipeline.manifest.DatasetManifest;
import io.delta.tables.DeltaTable;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/** Reads back what a flashlm table commit recorded: properties and the manifest. */
public final class TableAssertions {
  private TableAssertions() {}

  /** The table's properties, unredacted (DeltaTable.detail, not SHOW TBLPROPERTIES). */
  public static Map<String, String> properties(SparkSession spark, String path) {
    Row detail = DeltaTable.forPath(spark, path).detail().first();
    return scala.jdk.javaapi.CollectionConverters.asJava(
        detail.<String, String>getMap(detail.fieldIndex("properties")));
  }

  /** The manifest in the latest commit's userMetadata. */
  public static DatasetManifest latestManifest(SparkSession spark, String path) throws Exception {
    Row last = DeltaTable.forPath(spark, path).history(1).select("userMetadata").first();
    return DatasetManifest.fromJson(Configs.json().readTree(last.getString(0)));
  }

  /** The table's latest version. */
  public static long version(SparkSession spark, String path) {
    return DeltaTable.forPath(spark, path).history(1).select("version").first().getLong(0);
  }
}
