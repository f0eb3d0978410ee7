package flashlm.jobs;

import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm prepare}: every step a data set needs, in order: {@code download} (when the
 * config has a hub source), {@code ingest}, {@code train-tokenizer} (when it trains its own
 * tokenizer) and {@code tokenize}. Each step is idempotent, so a failed run is simply run again.
 */
public final class PrepareJob extends DatasetJob {
  /** The data set every dataset command uses when {@code --conf} is not given. */
  static final String DEFAULT_CONF = "conf/datasets/sample.yaml";

  public static void main(String[] args) throws Exception {
    Launcher.runJob("prepare", args);
  }

  public PrepareJob() {
    super("prepare",
        "download + ingest + train-tokenizer + tokenize: a data set ready for training");
  }

  @Override
  void execute(SparkSession spark, DatasetConfig cfg) throws Exception {
    if (cfg.download() != null) {
      DownloadJob.run(spark, cfg);
    }
    IngestJob.run(spark, cfg);
    if (cfg.tokenizerTraining() != null) {
      TrainTokenizerJob.run(spark, cfg);
    }
    TokenizeJob.run(spark, cfg);
  }
}
