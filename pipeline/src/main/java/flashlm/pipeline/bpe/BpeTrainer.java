package flashlm.pipeline.bpe;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.io.LongWritable;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.mapreduce.lib.input.TextInputFormat;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.api.java.function.PairFlatMapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

/**
 * Trains a byte-level BPE tokenizer (GPT-2 style) from a Dataset of documents.
 *
 * <p>Executors pre-tokenize and count words ({@code reduceByKey}) and count the initial byte pairs
 * of the kept words; the driver collects only the histogram of the {@code max_words} most frequent
 * words (ties broken by the word) and runs the merges ({@link MergeLoop}). The output is the same
 * for any partitioning of the input.
 *
 * <pre>{@code
 * Dataset<String> docs = spark.read().format("delta").load(paths.documents())
 *     .where("split = 'train'").select("text").as(Encoders.STRING());
 * BpeResult r = BpeTrainer.train(spark, docs, BpeConfig.defaults());
 * r.write(paths.trainedTokenizer(), spark.sparkContext().hadoopConfiguration());
 * }</pre>
 */
public final class BpeTrainer {
  private static final Logger LOG = LoggerFactory.getLogger(BpeTrainer.class);

  private BpeTrainer() {}

  /**
   * Learns a vocabulary of {@code cfg.vocabSize()} tokens from {@code docs}.
   *
   * @param docs one document per row; a special token's string inside a document is text and is
   *     learned from like any other
   * @return the tokenizer.json and training figures; {@link BpeResult#write} stores it
   */
  public static BpeResult train(SparkSession spark, Dataset<String> docs, BpeConfig cfg) {
    long start = System.nanoTime();
    JavaRDD<String> texts = docs.javaRDD();
    if (cfg.sampleFraction() < 1.0) {
      texts = texts.filter(new SampleByHash(cfg.sampleFraction(), cfg.seed()));
    }
    JavaPairRDD<String, Long> counts = texts
        .mapPartitionsToPair(new CountWords())
        .reduceByKey(new Sum())
        .persist(StorageLevel.MEMORY_AND_DISK());
    try {
      long distinct = counts.count();
      List<Tuple2<String, Long>> kept;
      JavaPairRDD<String, Long> keptRdd;
      if (distinct <= cfg.maxWords()) {
        kept = counts.collect(); // bounded: at most max_words entries
        keptRdd = counts;
      } else {
        kept = counts.takeOrdered(cfg.maxWords(), new ByFrequency());
        keptRdd = counts.filter(new NotAfter(kept.get(kept.size() - 1)));
      }
      Map<Long, Long> sparkPairs =
          new HashMap<>(
              keptRdd.flatMapToPair(new WordPairs()).reduceByKey(new Sum()).collectAsMap());
      LOG.info("bpe: {} distinct words, {} kept for the driver, {} distinct byte pairs, {} s",
          distinct, kept.size(), sparkPairs.size(), String.format("%.2f", seconds(start)));

      List<Tuple2<String, Long>> sorted = new ArrayList<>(kept);
      sorted.sort(Comparator.comparing(Tuple2::_1)); // a fixed layout on the driver
      List<String> words = new ArrayList<>(sorted.size());
      long[] freqs = new long[sorted.size()];
      long total = 0;
      for (int i = 0; i < freqs.length; i++) {
        words.add(sorted.get(i)._1());
        freqs[i] = sorted.get(i)._2();
        total += freqs[i];
      }
      MergeLoop.Result model = MergeLoop.run(words, freqs, cfg.learnedTokens(), cfg.minFrequency(),
          sparkPairs, LOG::info);
      String json = TokenizerJson.render(model, cfg.specialTokens());
      BpeResult result = BpeResult.of(json, model.tokens().size() + cfg.specialTokens().size(),
          model.merges().size(), distinct, kept.size(), total, seconds(start));
      if (result.vocabSize() < cfg.vocabSize()) {
        LOG.warn("bpe: vocabulary is {} tokens, not the {} asked for: no pair left occurring"
            + " min_frequency={} times", result.vocabSize(), cfg.vocabSize(), cfg.minFrequency());
      }
      LOG.info("bpe: {}", result);
      return result;
    } finally {
      counts.unpersist(false);
    }
  }

  /**
   * Documents from text files (a path, glob or directory Hadoop understands) separated by
   * {@code delimiter}, e.g. {@code "<|endoftext|>"} for TinyStories or {@code "\n\n"} for
   * blank-line separated files. Documents are stripped of surrounding whitespace; blank ones are
   * dropped. Files are read in splits, never whole.
   */
  public static Dataset<String> textDocuments(SparkSession spark, String path, String delimiter) {
    Configuration conf = new Configuration(spark.sparkContext().hadoopConfiguration());
    conf.set("textinputformat.record.delimiter", delimiter);
    JavaRDD<String> docs = JavaSparkContext.fromSparkContext(spark.sparkContext())
        .newAPIHadoopFile(path, TextInputFormat.class, LongWritable.class, Text.class, conf)
        .map(new StrippedText())
        .filter(new NotEmpty());
    return spark.createDataset(docs.rdd(), Encoders.STRING());
  }

  private static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  /**
   * Keeps a document when its seeded hash falls below the fraction: independent of partitioning.
   */
  public static final class SampleByHash implements Function<String, Boolean> {
    private static final long serialVersionUID = 1L;
    private final double fraction;
    private final long seed;

    /** Keeps about {@code fraction} of the documents, chosen by {@code seed}. */
    public SampleByHash(double fraction, long seed) {
      this.fraction = fraction;
      this.seed = seed;
    }

    @Override
    public Boolean call(String doc) {
      long h = 0xCBF29CE484222325L ^ seed; // FNV-1a over the chars, then SplitMix64's finalizer
      for (int i = 0; i < doc.length(); i++) {
        h = (h ^ doc.charAt(i)) * 0x100000001B3L;
      }
      h = (h ^ (h >>> 30)) * 0xBF58476D1CE4E5B9L;
      h = (h ^ (h >>> 27)) * 0x94D049BB133111EBL;
      h ^= h >>> 31;
      return (h >>> 11) * 0x1p-53 < fraction;
    }
  }

  /** Pre-tokenizes a partition's documents and counts its words (byte-level strings). */
  static final class CountWords implements PairFlatMapFunction<Iterator<String>, String, Long> {
    private static final long serialVersionUID = 1L;

    @Override
    public Iterator<Tuple2<String, Long>> call(Iterator<String> docs) {
      Map<String, long[]> counts = new HashMap<>();
      while (docs.hasNext()) {
        String doc = docs.next();
        if (doc != null) {
          PreTokenizer.words(doc, w -> counts.computeIfAbsent(w, k -> new long[1])[0]++);
        }
      }
      List<Tuple2<String, Long>> out = new ArrayList<>(counts.size());
      counts.forEach((w, c) -> out.add(new Tuple2<>(w, c[0])));
      return out.iterator();
    }
  }

  /** The adjacent byte pairs of a word, weighted by the word's count. */
  static final class WordPairs implements PairFlatMapFunction<Tuple2<String, Long>, Long, Long> {
    private static final long serialVersionUID = 1L;

    @Override
    public Iterator<Tuple2<Long, Long>> call(Tuple2<String, Long> wordCount) {
      byte[] b = ByteLevel.decode(wordCount._1());
      List<Tuple2<Long, Long>> out = new ArrayList<>(Math.max(0, b.length - 1));
      for (int i = 0; i + 1 < b.length; i++) {
        out.add(new Tuple2<>(MergeLoop.pair(b[i] & 0xFF, b[i + 1] & 0xFF), wordCount._2()));
      }
      return out.iterator();
    }
  }

  static final class Sum implements Function2<Long, Long, Long> {
    private static final long serialVersionUID = 1L;

    @Override
    public Long call(Long a, Long b) {
      return a + b;
    }
  }

  /** Most frequent first, then by word: a total order, so the cut at max_words is deterministic. */
  static final class ByFrequency implements Comparator<Tuple2<String, Long>>, java.io.Serializable {
    private static final long serialVersionUID = 1L;

    @Override
    public int compare(Tuple2<String, Long> x, Tuple2<String, Long> y) {
      int c = Long.compare(y._2(), x._2());
      return c != 0 ? c : x._1().compareTo(y._1());
    }
  }

  /** Keeps the words ordered no later than the last kept one: exactly the takeOrdered set. */
  static final class NotAfter implements Function<Tuple2<String, Long>, Boolean> {
    private static final long serialVersionUID = 1L;
    private final Tuple2<String, Long> last;

    NotAfter(Tuple2<String, Long> last) {
      this.last = last;
    }

    @Override
    public Boolean call(Tuple2<String, Long> wordCount) {
      return new ByFrequency().compare(wordCount, last) <= 0;
    }
  }

  static final class StrippedText implements Function<Tuple2<LongWritable, Text>, String> {
    private static final long serialVersionUID = 1L;

    @Override
    public String call(Tuple2<LongWritable, Text> record) {
      return record._2().toString().strip();
    }
  }

  static final class NotEmpty implements Function<String, Boolean> {
    private static final long serialVersionUID = 1L;

    @Override
    public Boolean call(String doc) {
      return !doc.isEmpty();
    }
  }
}
