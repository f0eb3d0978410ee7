package flashlm.tests.tokenize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.pipeline.manifest.DeltaWrites;
import flashlm.tests.SparkTestSession;
import io.delta.tables.DeltaTable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DeltaWritesTest {
  @TempDir Path dir;

  @Test
  void replaceWritesPropertiesMetadataAndTxnInOneCommit() throws Exception {
    SparkSession spark = SparkTestSession.get();
    String path = dir.resolve("t").toUri().toString();
    Dataset<Row> df = spark.range(10).selectExpr("id", "cast(id % 2 as int) as shard");
    DeltaWrites.replaceTable(df, path, "probe", "aaaa1111", -1, "{\"fingerprint\":\"aaaa1111\"}",
        Map.of("flashlm.seq_len", "128"), "shard");
    assertEquals(0, DeltaWrites.currentVersion(spark, path));
    assertEquals("aaaa1111", DeltaWrites.committedFingerprint(spark, path).orElseThrow());
    Row detail = DeltaTable.forPath(spark, path).detail().first();
    Map<String, String> props = scala.jdk.javaapi.CollectionConverters.asJava(
        detail.<String, String>getMap(detail.fieldIndex("properties")));
    assertEquals("128", props.get("flashlm.seq_len"));
    String log = Files.readString(dir.resolve("t/_delta_log/00000000000000000000.json"));
    System.out.println(log);
    assertTrue(log.contains("\"txn\""), log);
    // Same app id and version again: Delta must skip it.
    DeltaWrites.replaceTable(spark.range(3).selectExpr("id", "cast(id as int) as shard"), path,
        "probe", "aaaa1111", -1, "{\"fingerprint\":\"aaaa1111\"}", Map.of(), "shard");
    assertEquals(0, DeltaWrites.currentVersion(spark, path));
    assertEquals(10, spark.read().format("delta").load(path).count());
    DeltaWrites.replaceTable(spark.range(3).selectExpr("id", "cast(id as int) as shard"), path,
        "probe", "bbbb2222", 0, "{\"fingerprint\":\"bbbb2222\"}", Map.of(), "shard");
    assertEquals(1, DeltaWrites.currentVersion(spark, path));
    assertEquals(3, spark.read().format("delta").load(path).count());
    try (Stream<Path> s = Files.list(dir.resolve("t/_delta_log"))) {
      s.forEach(System.out::println);
    }
  }
}
