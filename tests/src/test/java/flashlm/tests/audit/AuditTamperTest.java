package flashlm.tests.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import flashlm.config.Configs;
import flashlm.pipeline.audit.Verify;
import flashlm.tests.SparkTestSession;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code audit verify} on copies of a sequences table that were tampered with: a data file whose
 * ids were changed, a count changed in the commit's manifest, a data file deleted. Each is named,
 * and the command exits non-zero; the untouched table passes.
 */
class AuditTamperTest {
  private static final long VERSION = 3; // the latest version with a manifest of its own

  @TempDir Path dir;

  private final SparkSession spark = SparkTestSession.get();
  private final VersionedDataset data = VersionedDataset.get();

  @Test
  void verifyNamesATamperedFileATamperedCountAndADeletedFileAndFails() throws Exception {
    Path copy = copy("tampered");
    String train = Arrays.stream(versionFiles(copy)).filter(f -> f.contains("split=train"))
        .findFirst().orElseThrow();
    rewriteFirstRow(train);
    addToManifestCount(copy, "train", "rows", 1);

    Verify.Report r = Verify.run(spark, copy.toString(), VERSION, 0, 0, 10);
    Map<String, Verify.Check> failed = r.checks().stream()
        .filter(c -> c.status().equals("mismatch"))
        .collect(Collectors.toMap(Verify.Check::check, c -> c));
    assertEquals(List.of("ids inside the vocabulary [0, 300)", "rows of seq_len + 1 = 33 ids",
        "rows train", "tokens train = rows * 33 + dropped tail"),
        failed.keySet().stream().sorted().toList(), r.checks().toString());
    String name = train.substring(train.lastIndexOf('/') + 1);
    assertTrue(failed.get("ids inside the vocabulary [0, 300)").where().contains(name)
        && failed.get("ids inside the vocabulary [0, 300)").where().contains("seq_index 0"),
        failed.toString());
    assertTrue(failed.get("rows of seq_len + 1 = 33 ids").where().contains("seq_index 1"),
        failed.toString());
    Verify.Check rows = failed.get("rows train");
    assertEquals(Long.parseLong(rows.actual().replace(",", "")) + 1,
        Long.parseLong(rows.expected().replace(",", "")));

    Launch l = Launch.audit("verify", copy.toString(), "--version", "3", "--json");
    assertEquals(1, l.status(), l.err());
    JsonNode json = Configs.json().readTree(l.out());
    assertEquals(4, count(json, "mismatch"));
    assertTrue(l.err().contains("audit verify found 4 problems"), l.err());

    Path deleted = copy("deleted");
    String gone = versionFiles(deleted)[0];
    Files.delete(Path.of(URI.create(gone)));
    Verify.Check files = Verify.run(spark, deleted.toString(), VERSION, 0, 0, 10).checks().get(0);
    assertEquals("data files present", files.check());
    assertEquals("mismatch", files.status());
    assertTrue(files.where().contains(gone.substring(gone.lastIndexOf('/') + 1)), files.where());

    Launch clean = Launch.audit("verify", data.paths.sequences(), "--version", "3");
    assertEquals(0, clean.status(), clean.err());
    assertTrue(clean.out().contains("verified: the version is what its manifest says"),
        clean.out());
  }

  @Test
  void verifyNamesTheFileAndRowOfRowsWithTooFewIdsNoIdsOrNoList() throws Exception {
    Path copy = copy("widths");
    String train = Arrays.stream(versionFiles(copy)).filter(f -> f.contains("split=train"))
        .findFirst().orElseThrow();
    rewrite(train, "CASE seq_index WHEN 2 THEN slice(tokens, 1, size(tokens) - 1)"
        + " WHEN 3 THEN CAST(NULL AS ARRAY<INT>) WHEN 4 THEN CAST(array() AS ARRAY<INT>)"
        + " ELSE tokens END AS tokens");
    Map<Long, Long> rowOf = new HashMap<>();
    for (Row r : spark.read().parquet(train)
        .selectExpr("seq_index", "_metadata.row_index").collectAsList()) {
      rowOf.put(r.getLong(0), r.getLong(1));
    }

    Verify.Check width = Verify.run(spark, copy.toString(), VERSION, 0, 0, 10).checks().stream()
        .filter(c -> c.check().equals("rows of seq_len + 1 = 33 ids")).findFirst().orElseThrow();
    assertEquals("mismatch", width.status());
    assertEquals("3 rows differ", width.actual());
    String name = train.substring(train.lastIndexOf('/') + 1);
    for (long seq = 2; seq <= 4; seq++) {
      assertTrue(width.where().contains(name) && width.where().contains("seq_index " + seq
          + ", row " + rowOf.get(seq) + " of the file"), seq + ": " + width.where());
    }
  }

  @Test
  void verifyReadsATableWithDeletionVectorsThroughSparkAndNamesTheGapAndTheBadRow()
      throws Exception {
    Path copy = copy("deletion-vectors");
    String t = "delta.`" + copy + "`";
    spark.sql("ALTER TABLE " + t + " SET TBLPROPERTIES ('delta.enableDeletionVectors' = true)");
    spark.sql("DELETE FROM " + t + " WHERE split = 'train' AND shard = 0 AND seq_index = 1");
    spark.sql("UPDATE " + t + " SET tokens = slice(tokens, 1, 5)"
        + " WHERE split = 'train' AND shard = 1 AND seq_index = 2");

    Verify.Report r = Verify.run(spark, copy.toString(), null, 0, 0, 10);
    Map<String, Verify.Check> checks = r.checks().stream()
        .collect(Collectors.toMap(Verify.Check::check, c -> c, (a, b) -> a));
    Verify.Check dense = checks.get("seq_index dense from 0 per shard");
    assertEquals("mismatch", dense.status(), r.checks().toString());
    assertTrue(dense.where().contains("train/0: "), dense.where());
    assertFalse(dense.where().contains("train/1"), dense.where());
    Verify.Check width = checks.get("rows of seq_len + 1 = 33 ids");
    assertEquals("1 rows differ", width.actual(), r.checks().toString());
    assertTrue(width.where().contains("(train/1 seq_index 2, row 0 of the file)"),
        width.where());
    Verify.Check rows = checks.get("rows train");
    assertEquals(Long.parseLong(rows.actual().replace(",", "")) + 1,
        Long.parseLong(rows.expected().replace(",", "")));
  }

  /** Removes the {@code .NAME.crc} the local filesystem keeps beside a file it wrote. */
  private static void dropChecksum(Path file) throws IOException {
    Files.deleteIfExists(file.resolveSibling("." + file.getFileName() + ".crc"));
  }

  private static long count(JsonNode report, String status) {
    long n = 0;
    for (JsonNode c : report.path("checks")) {
      n += c.path("status").asText().equals(status) ? 1 : 0;
    }
    return n;
  }

  /** A copy of the data set's sequences table (its documents stay where they are). */
  private Path copy(String name) throws IOException {
    Path from = Path.of(data.paths.sequences());
    Path to = dir.resolve(name);
    try (Stream<Path> all = Files.walk(from)) {
      for (Path p : all.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target);
        }
      }
    }
    return to;
  }

  private String[] versionFiles(Path table) {
    String[] files = spark.read().format("delta").option("versionAsOf", VERSION)
        .load(table.toString()).inputFiles();
    Arrays.sort(files);
    return files;
  }

  /**
   * Rewrites one data file: the first id of its seq_index 0 row out of the vocabulary, the
   * second id of its seq_index 1 row null.
   */
  private void rewriteFirstRow(String file) throws IOException {
    rewrite(file, "CASE seq_index"
        + " WHEN 0 THEN concat(array(100000), slice(tokens, 2, size(tokens)))"
        + " WHEN 1 THEN concat(array(tokens[0], NULL), slice(tokens, 3, size(tokens)))"
        + " ELSE tokens END AS tokens");
  }

  /** Rewrites one data file in place, its tokens column computed by {@code tokens}. */
  private void rewrite(String file, String tokens) throws IOException {
    Path out = Files.createTempDirectory(dir, "rewrite").resolve("out");
    spark.read().parquet(file).selectExpr("seq_index", tokens)
        .coalesce(1).write().parquet(out.toString());
    try (Stream<Path> parts = Files.list(out)) {
      Path part = parts.filter(p -> p.getFileName().toString().endsWith(".parquet"))
          .findFirst().orElseThrow();
      Path target = Path.of(URI.create(file));
      Files.copy(part, target, StandardCopyOption.REPLACE_EXISTING);
      dropChecksum(target); // the local filesystem's checksum would catch the change first
    }
  }

  /** Adds {@code delta} to one count in the manifest of the commit of {@link #VERSION}. */
  private static void addToManifestCount(Path table, String split, String count, long delta) {
    Path commit = table.resolve(String.format("_delta_log/%020d.json", VERSION));
    try {
      List<String> lines = new ArrayList<>();
      for (String line : Files.readAllLines(commit)) {
        JsonNode action = Configs.json().readTree(line);
        if (action.has("commitInfo")) {
          ObjectNode info = (ObjectNode) action.get("commitInfo");
          ObjectNode m = (ObjectNode) Configs.json().readTree(info.get("userMetadata").asText());
          ObjectNode c = (ObjectNode) m.path("counts").path(split);
          c.put(count, c.path(count).asLong() + delta);
          info.put("userMetadata", m.toString());
          line = action.toString();
        }
        lines.add(line);
      }
      Files.write(commit, lines);
      dropChecksum(commit);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
