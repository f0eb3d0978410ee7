package flashlm.jobs;

import flashlm.config.ConfigException;
import flashlm.pipeline.bpe.BpeResult;
import flashlm.pipeline.bpe.TokenizerTraining;
import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm train-tokenizer}: learns a byte-level BPE from the documents {@code tokenize}
 * puts in the train split and writes {@code data_dir/tokenizer/tokenizer.json}, its {@code
 * .sha256}, and {@code training.json} ({@link TokenizerTraining}).
 */
public final class TrainTokenizerJob extends DatasetJob {
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
    if (cfg.tokenizerTraining() == null) {
      throw ConfigException.missing("tokenizer_training");
    }
    TokenizerTraining.Result r = TokenizerTraining.run(spark, cfg.paths(),
        cfg.tokenizerTraining(), cfg.tokenize());
    BpeResult result = r.bpe();
    System.err.printf("train-tokenizer: %s (%d tokens, %d merges, sha256 %s) from %s version %d"
        + " in %.1f s%n", r.location(), result.vocabSize(), result.mergesCount(), result.sha256(),
        r.documents(), r.documentsVersion(), result.seconds());
    return result;
  }
}
