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
 * shards), and is followed by one pass of DJL {@code encode()} over the same texts (after one
 * untimed warm-up pass), so each run's ratio compares two figures taken under the same load of a
 * shared machine. It prints the best of R runs (default 4) and the median of the runs' ratios.
 * Each line also gives the process's CPU seconds, which say more than wall time on a machine
 * shared with other work.
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
    try (HuggingFaceTokenizer djl = Llama2Fixture.direct()) {
      encodeAll(djl, docs); // warm-up
      Runs all = tokenizeRuns(spark, paths, master, runs, 0, djl, docs);
      spark.stop();
      SparkSession one = session("local[1]", stages);
      Runs single = tokenizeRuns(one, paths, "local[1]", runs, runs, djl, docs);
      one.stop();
      System.out.printf("documents %,d, tokens %,d (with EOS), cores %d%n", docs.size(),
          all.tokens, Runtime.getRuntime().availableProcessors());
      System.out.printf("tokenize+pack (Spark %s, Delta write): %,.0f tokens/s (best)%n", master,
          all.best);
      System.out.printf("tokenize+pack (Spark local[1]):          %,.0f tokens/s (best)%n",
          single.best);
      System.out.printf("DJL encode() alone, one thread:        %,.0f tokens/s (best)%n",
          Math.max(all.djlBest, single.djlBest));
      System.out.printf("ratio pipeline / single-thread DJL:    %.2f (best / best), %.2f (median"
          + " of each run over the DJL pass right after it)%n",
          all.best / Math.max(all.djlBest, single.djlBest), median(all.ratios));
      System.out.printf("scaling local[1] -> %s (%d cores): %.2fx (best / best), %.2fx (medians"
          + " of the paired ratios)%n", master, cores, all.best / single.best,
          median(all.ratios) / median(single.ratios));
    }
  }

  /** What R runs measured: best tokens/s, tokens, and each run's ratio to its DJL pass. */
  private record Runs(double best, long tokens, double djlBest, double[] ratios) {}

  /**
   * R tokenize runs, each followed by a DJL {@code encode()} pass over the same texts, so that
   * each ratio compares two measurements taken under the same load of a shared machine.
   */
  private static Runs tokenizeRuns(SparkSession spark, DatasetPaths paths, String master,
      int runs, int firstRun, HuggingFaceTokenizer djl, List<String> docs) {
    double best = 0;
    double djlBest = 0;
    long tokens = 0;
    double[] ratios = new double[runs];
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
      best = Math.max(best, tokens / seconds);
      t0 = System.nanoTime();
      long djlCpu0 = processCpuNanos();
      long n = encodeAll(djl, docs);
      double djlSeconds = (System.nanoTime() - t0) / 1e9;
      double djlCpu = (processCpuNanos() - djlCpu0) / 1e9;
      djlBest = Math.max(djlBest, n / djlSeconds);
      ratios[r - firstRun] = (tokens / seconds) / (n / djlSeconds);
      System.out.printf("spark %s run %d: %,d tokens in %.2f s = %,.0f tokens/s (%.2f cpu s);"
          + " djl encode() 1 thread: %.2f s = %,.0f tokens/s (%.2f cpu s); ratio %.2f%n", master,
          r, tokens, seconds, tokens / seconds, cpu, djlSeconds, n / djlSeconds, djlCpu,
          ratios[r - firstRun]);
    }
    return new Runs(best, tokens, djlBest, ratios);
  }

  private static double median(double[] values) {
    double[] v = values.clone();
    java.util.Arrays.sort(v);
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
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
