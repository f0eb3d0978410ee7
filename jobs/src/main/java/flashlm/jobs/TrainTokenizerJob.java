package flashlm.jobs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import flashlm.config.ConfigException;
import flashlm.config.Configs;
import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.bpe.BpeConfig;
import flashlm.pipeline.bpe.BpeResult;
import flashlm.pipeline.bpe.BpeTrainer;
import io.delta.tables.DeltaTable;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm train-tokenizer}: learns a byte-level BPE from the documents table (every
 * document not marked {@code validation} by its source) and writes {@code
 * data_dir/tokenizer/tokenizer.json}, its {@code .sha256}, and {@code training.json}: which
 * documents table version it learned from, with which settings, and what came out.
 */
public final class TrainTokenizerJob extends DatasetJob {
  private static final String TRAINING_RECORD = "training.json";

  public static void main(String[] args) throws Exception {
    Launcher.runJob("train-tokenizer", args);
  }

  public TrainTokenizerJob() {
    super("train-tokenizer",
        "learn a byte-level BPE tokenizer.json from the documents table (Spark pair counts)");
  }

  @Override
  void check(DatasetConfig cfg, CommandLine args) {
    if (cfg.tokenizerTraining() == null) {
      throw ConfigException.missing("tokenizer_training");
    }
  }

  @Override
  void execute(SparkSession spark, DatasetConfig cfg) throws Exception {
    run(spark, cfg);
  }

  /** Trains and writes the tokenizer of {@code cfg}; returns what was written. */
  static BpeResult run(SparkSession spark, DatasetConfig cfg) throws Exception {
    BpeConfig bpe = cfg.tokenizerTraining();
    if (bpe == null) {
      throw ConfigException.missing("tokenizer_training");
    }
    DatasetPaths paths = cfg.paths();
    long version = DeltaTable.forPath(spark, paths.documents()).history(1)
        .select("version").head().getLong(0);
    Dataset<String> docs = spark.read().format("delta").option("versionAsOf", version)
        .load(paths.documents())
        .where(BpeTrainer.DOCUMENTS_FILTER)
        .select("text").as(Encoders.STRING());
    BpeResult result = BpeTrainer.train(spark, docs, bpe);
    String location = paths.trainedTokenizer();
    // one set: a reader who finds the new tokenizer.json finds its own .sha256 and training.json
    result.write(location, spark.sparkContext().hadoopConfiguration(),
        Map.of(TRAINING_RECORD, record(cfg, version, result)));
    System.err.printf("train-tokenizer: %s (%d tokens, %d merges, sha256 %s) from %s version %d"
        + " in %.1f s%n", location, result.vocabSize(), result.mergesCount(), result.sha256(),
        paths.documents(), version, result.seconds());
    return result;
  }

  /** training.json beside the tokenizer: its provenance, for audits. */
  private static byte[] record(DatasetConfig cfg, long version, BpeResult result)
      throws java.io.IOException {
    ObjectNode rec = Configs.json().createObjectNode();
    rec.put("documents", cfg.paths().documents());
    rec.put("documents_version", version);
    rec.put("documents_filter", BpeTrainer.DOCUMENTS_FILTER);
    rec.set("config", Configs.redacted(Configs.json().valueToTree(cfg.tokenizerTraining())));
    rec.put("sha256", result.sha256());
    rec.put("vocab_size", result.vocabSize());
    rec.put("merges", result.mergesCount());
    rec.put("distinct_words", result.distinctWords());
    rec.put("kept_words", result.keptWords());
    rec.put("total_words", result.totalWords());
    rec.put("seconds", result.seconds());
    rec.put("created_at", Instant.now().toString());
    return Configs.json().writerWithDefaultPrettyPrinter().writeValueAsString(rec)
        .getBytes(StandardCharsets.UTF_8);
  }
}
