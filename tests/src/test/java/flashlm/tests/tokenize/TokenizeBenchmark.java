package flashlm.tests.tokenize;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.sun.management.OperatingSystemMXBean;
import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.ingest.DocumentsTable;
import flashlm.pipeline.ingest.Ingest;
import flashlm.pipeline.ingest.IngestConfig;
import flashlm.pipeline.tokenize.Tokenize;
import flashlm.pipeline.tokenize.TokenizeConfig;
import flashlm.pipeline.tokenize.TokenizeResult;
import flashlm.tests.SparkTestSession;
import flashlm.tests.fixtures.Llama2Fixture;
import flashlm.tests.fixtures.TinyStoriesFixture;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.StageInfo;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;

/**
 * Benchmark (not a test): tokenize-and-pack throughput of {@link Tokenize} on Spark {@code
 * local[*]} against the same documents encoded by DJL alone in one thread, with the LLaMA-2
 * tokenizer on TinyStories text, so the pipeline's overhead (Spark, Delta, exchange, packing) and
 * its parallel speed-up show as one ratio; then the same runs on {@code local[1]}, for the
 * scaling from one core to the master's.
 *
 * <p>Run: {@code tests/bench/tokenize-benchmark.sh [--copies N] [--runs R] [--master M]
 * [--stages]}. The documents are N copies of the 2 MiB TinyStories excerpt (distinct files, so
 * distinct doc ids); ingest is not timed. Each run writes a fresh sequences table (seq_len 256, 8
 * shards) and the best of R runs (default 4) is reported; the DJL figure is the best of R
 * passes of {@code encode()} over the same texts after one warm-up pass. Each line also gives the
 * process's CPU seconds, which say more than wall time on a machine shared with other work.
 * {@code --stages} prints each Spark stage's wall time and task CPU time.
 */
public final class TokenizeBenchmark {
  private TokenizeBenchmark() {}

  public static void main(String[] args) throws Exception {
    int copies = 8;
    // The first runs pay for the JIT compiling Spark's, Delta's and Parquet's code (the DJL loop
    // is compiled in its one warm-up pass): a long tokenize job runs at the later runs' speed.
    int runs = 4;
    String master = "local[*]";
    boolean stages = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--copies" -> copies = Integer.parseInt(args[++i]);
        case "--runs" -> runs = Integer.parseInt(args[++i]);
        case "--master" -> master = args[++i];
        case "--stages" -> stages = true;
        default -> {
          System.err.println(
              "usage: TokenizeBenchmark [--copies N] [--runs R] [--master M] [--stages]");
          System.exit(2);
        }
      }
    }
    Path dir = Files.createTempDirectory("flashlm-tokenize-bench");
    Path raw = Files.createDirectories(dir.resolve("raw"));
    String text = TinyStoriesFixture.train(Integer.MAX_VALUE);
    for (int c = 0; c < copies; c++) {
      Files.writeString(raw.resolve(String.format("train-%03d.txt", c)), text);
    }
    DatasetPaths paths = new DatasetPaths(dir.toString());
    SparkSession spark = session(master, stages);
    Ingest.run(spark, paths, IngestConfig.defaults().withFiles(List.of("*.txt")));
    List<String> docs = spark.read().format("delta").load(paths.documents())
        .select(DocumentsTable.TEXT).as(Encoders.STRING()).collectAsList(); // benchmark input
    int cores = spark.sparkContext().defaultParallelism();
    double[] best = tokenizeRuns(spark, paths, master, runs, 0);
    spark.stop();
    SparkSession one = session("local[1]", stages);
    double[] bestOne = tokenizeRuns(one, paths, "local[1]", runs, runs);
    one.stop();

    double djlBest = 0;
    try (HuggingFaceTokenizer tok = Llama2Fixture.direct()) {
      encodeAll(tok, docs); // warm-up
      for (int r = 0; r < runs; r++) {
        long t0 = System.nanoTime();
        long cpu0 = processCpuNanos();
        long n = encodeAll(tok, docs);
        double seconds = (System.nanoTime() - t0) / 1e9;
        double cpu = (processCpuNanos() - cpu0) / 1e9;
        System.out.printf("djl encode() 1 thread pass %d: %,d tokens in %.2f s = %,.0f tokens/s"
            + " (%.2f cpu s)%n", r, n, seconds, n / seconds, cpu);
        djlBest = Math.max(djlBest, n / seconds);
      }
    }
    System.out.printf("documents %,d, tokens %,d (with EOS), cores %d%n", docs.size(),
        (long) best[1], Runtime.getRuntime().availableProcessors());
    System.out.printf("tokenize+pack (Spark %s, Delta write): %,.0f tokens/s%n", master, best[0]);
    System.out.printf("tokenize+pack (Spark local[1]):          %,.0f tokens/s%n", bestOne[0]);
    System.out.printf("DJL encode() alone, one thread:        %,.0f tokens/s%n", djlBest);
    System.out.printf("ratio pipeline / single-thread DJL:    %.2f%n", best[0] / djlBest);
    System.out.printf("scaling local[1] -> %s (%d cores): %.2fx%n", master, cores,
        best[0] / bestOne[0]);
  }

  /** R tokenize runs; returns {best tokens/s, tokens}. */
  private static double[] tokenizeRuns(SparkSession spark, DatasetPaths paths, String master,
      int runs, int firstRun) {
    double best = 0;
    long tokens = 0;
    for (int r = firstRun; r < firstRun + runs; r++) {
      TokenizeConfig config = TokenizeConfig.defaults()
          .withTokenizer(Llama2Fixture.tokenizerJson().toString())
          .withPacking(256, 8)
          .withOutput("sequences-run" + r);
      long t0 = System.nanoTime();
      long cpu0 = processCpuNanos();
      TokenizeResult result = Tokenize.run(spark, paths, config);
      double seconds = (System.nanoTime() - t0) / 1e9;
      double cpu = (processCpuNanos() - cpu0) / 1e9;
      tokens = result.manifest().counts().values().stream().mapToLong(c -> c.tokens()).sum();
      System.out.printf("spark %s run %d: %,d tokens in %.2f s = %,.0f tokens/s (%.2f cpu s)%n",
          master, r, tokens, seconds, tokens / seconds, cpu);
      best = Math.max(best, tokens / seconds);
    }
    return new double[] {best, tokens};
  }

  private static SparkSession session(String master, boolean stages) {
    SparkSession spark = SparkTestSession.builder(master)
        .config("spark.sql.shuffle.partitions", "16")
        .getOrCreate();
    spark.sparkContext().setLogLevel("WARN");
    if (stages) {
      spark.sparkContext().addSparkListener(new StageTimes());
    }
    return spark;
  }

  /** Prints each stage's wall time and its tasks' CPU time. */
  private static final class StageTimes extends SparkListener {
    @Override
    public void onStageCompleted(SparkListenerStageCompleted e) {
      StageInfo i = e.stageInfo();
      long ms = (long) i.completionTime().get() - (long) i.submissionTime().get();
      System.out.printf("  stage %d (%d tasks) %d ms, task cpu %d ms: %s%n", i.stageId(),
          i.numTasks(), ms, i.taskMetrics().executorCpuTime() / 1_000_000, i.name());
    }
  }

  private static long processCpuNanos() {
    return ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /** Encodes every text; returns the token count including one EOS per document. */
  private static long encodeAll(HuggingFaceTokenizer tok, List<String> docs) {
    long n = 0;
    for (String d : docs) {
      n += tok.encode(d).getIds().length + 1;
    }
    return n;
  }
}
