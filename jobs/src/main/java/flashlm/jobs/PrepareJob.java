package flashlm.jobs;

import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm prepare}: every step a data set needs, in order: {@code download} (when the
 * config has a hub source), {@code ingest}, {@code train-tokenizer} (when it trains its own
 * tokenizer) and {@code tokenize}. Each step is idempotent, so a failed run is simply run again.
 */
public final class PrepareJob implements Command {
  /** The data set every dataset command uses when {@code --conf} is not given. */
  static final String DEFAULT_CONF = "conf/datasets/sample.yaml";

  public static void main(String[] args) throws Exception {
    Launcher.runJob("prepare", args);
  }

  @Override
  public String name() {
    return "prepare";
  }

  @Override
  public String summary() {
    return "download + ingest + train-tokenizer + tokenize: a data set ready for training";
  }

  @Override
  public String mainClass() {
    return PrepareJob.class.getName();
  }

  @Override
  public String defaultConf() {
    return DEFAULT_CONF;
  }

  @Override
  public void check(CommandLine args) {
    args.load(this, DatasetConfig.class);
  }

  @Override
  public void run(CommandLine args, SparkSession spark) throws Exception {
    DatasetConfig cfg = args.load(this, DatasetConfig.class);
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
