package flashlm.tests.audit;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.size;
import static org.apache.spark.sql.functions.sum;

import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.audit.Leaks;
import flashlm.pipeline.audit.Verify;
import flashlm.pipeline.ingest.Ingest;
import flashlm.pipeline.ingest.IngestConfig;
import flashlm.pipeline.tokenize.Tokenize;
import flashlm.pipeline.tokenize.TokenizeConfig;
import flashlm.tests.SparkTestSession;
import flashlm.tests.fixtures.Llama2Fixture;
import flashlm.tests.fixtures.TinyStoriesFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import org.apache.hadoop.fs.FileStatus;
import org.apache.spark.sql.SparkSession;

/**
 * Benchmark (not a test): {@code audit verify} and {@code audit leaks} on the tokenize
 * benchmark's table (N copies of the TinyStories excerpt, LLaMA-2 tokenizer, seq_len 256, 8
 * shards), beside reading the same table in the same run: a plain Spark {@code count()} (which
 * Delta answers from its file statistics) and a full read of every row's ids ({@code
 * sum(size(tokens))}). Each figure is the best of R rounds, the rounds interleaved so that
 * machine noise hits all of them.
 *
 * <p>Run: {@code tests/bench/audit-benchmark.sh [--copies N] [--rounds R] [--retokenize K]}.
 */
public final class AuditBenchmark {
  private AuditBenchmark() {}

  public static void main(String[] args) throws Exception {
    int copies = 16;
    int rounds = 3;
    int retokenize = 0;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--copies" -> copies = Integer.parseInt(args[++i]);
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        case "--retokenize" -> retokenize = Integer.parseInt(args[++i]);
        default -> {
          System.err.println("usage: AuditBenchmark [--copies N] [--rounds R] [--retokenize K]");
          System.exit(2);
        }
      }
    }
    Path dir = Files.createTempDirectory("flashlm-audit-bench");
    Path raw = Files.createDirectories(dir.resolve("raw"));
    String text = TinyStoriesFixture.train(Integer.MAX_VALUE);
    for (int c = 0; c < copies; c++) {
      Files.writeString(raw.resolve(String.format("train-%03d.txt", c)), text);
    }
    SparkSession spark = SparkTestSession.builder("local[*]")
        .config("spark.sql.shuffle.partitions", "16").getOrCreate();
    spark.sparkContext().setLogLevel("WARN");
    DatasetPaths paths = new DatasetPaths(dir.toString());
    Ingest.run(spark, paths, IngestConfig.defaults().withFiles(List.of("*.txt")));
    Tokenize.run(spark, paths, TokenizeConfig.defaults()
        .withTokenizer(Llama2Fixture.tokenizerJson().toString()).withPacking(256, 8));
    String table = paths.sequences();
    long rows = spark.read().format("delta").load(table).count();
    double mb = parquetBytes(spark, table) / 1e6;
    System.out.printf(Locale.ROOT, "table: %,d rows, %.1f MB of parquet (%d copies, 8 shards);"
        + " documents: %.1f MB of parquet%n", rows, mb, copies,
        parquetBytes(spark, paths.documents()) / 1e6);

    double count = Double.MAX_VALUE;
    double read = Double.MAX_VALUE;
    double verify = Double.MAX_VALUE;
    double leaks = Double.MAX_VALUE;
    int k = retokenize;
    for (int r = 0; r < rounds; r++) {
      count = Math.min(count, time("count()", () -> spark.read().format("delta").load(table)
          .count()));
      read = Math.min(read, time("read ids", () -> spark.read().format("delta").load(table)
          .agg(count(lit(1)), sum(size(col("tokens")))).first()));
      verify = Math.min(verify, time("verify", () -> problems(
          Verify.run(spark, table, null, k, 0, 10).problems())));
      leaks = Math.min(leaks, time("leaks", () -> Leaks.run(spark, table, null, null, null, 10)
          .findings().size()));
    }
    System.out.printf(Locale.ROOT, "%-26s %8s %14s %10s %18s%n", "best of " + rounds, "seconds",
        "rows/s", "MB/s", "x full read");
    for (Object[] f : new Object[][] {{"count() (Delta statistics)", count},
        {"full read of the ids", read}, {"audit verify" + (k > 0 ? " --retokenize " + k : ""),
        verify}, {"audit leaks", leaks}}) {
      double s = (double) f[1];
      System.out.printf(Locale.ROOT, "%-26s %8.2f %,14.0f %10.1f %18.2f%n", f[0], s, rows / s,
          mb / s, s / read);
    }
    spark.stop();
  }

  private static Object problems(List<String> problems) {
    if (!problems.isEmpty()) {
      throw new IllegalStateException("verify found problems: " + problems);
    }
    return problems;
  }

  private static double time(String what, Supplier<Object> work) {
    long t0 = System.nanoTime();
    work.get();
    double s = (System.nanoTime() - t0) / 1e9;
    System.out.printf(Locale.ROOT, "  %-10s %.2f s%n", what, s);
    return s;
  }

  /** Bytes of the data files of the table's latest version. */
  private static long parquetBytes(SparkSession spark, String table) throws Exception {
    long bytes = 0;
    for (String f : spark.read().format("delta").load(table).inputFiles()) {
      org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(f);
      FileStatus st = p.getFileSystem(spark.sparkContext().hadoopConfiguration())
          .getFileStatus(p);
      bytes += st.getLen();
    }
    return bytes;
  }
}
