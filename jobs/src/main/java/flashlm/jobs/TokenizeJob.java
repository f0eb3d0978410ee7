package flashlm.jobs;

import flashlm.config.Configs;
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.pipeline.tokenize.Tokenize;
import flashlm.pipeline.tokenize.TokenizeResult;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code flashlm tokenize}: the documents table into the sequences table: DJL tokenizer in the
 * executors, separators, deterministic train/validation split, rows of exactly seq_len + 1 ids in
 * shards; one Delta commit carrying the data set's manifest. A re-run on the same documents and
 * settings commits nothing.
 */
public final class TokenizeJob implements Command {
  private static final Logger LOG = LoggerFactory.getLogger(TokenizeJob.class);

  public static void main(String[] args) throws Exception {
    Launcher.runJob("tokenize", args);
  }

  @Override
  public String name() {
    return "tokenize";
  }

  @Override
  public String summary() {
    return "tokenize and pack the documents table into the sharded sequences Delta table";
  }

  @Override
  public String mainClass() {
    return TokenizeJob.class.getName();
  }

  @Override
  public String defaultConf() {
    return PrepareJob.DEFAULT_CONF;
  }

  @Override
  public void check(CommandLine args) {
    args.load(this, DatasetConfig.class);
  }

  @Override
  public void run(CommandLine args, SparkSession spark) {
    run(spark, args.load(this, DatasetConfig.class));
  }

  static TokenizeResult run(SparkSession spark, DatasetConfig cfg) {
    LOG.info("tokenize: config {}", Configs.toJson(cfg.tokenize()));
    TokenizeResult r = Tokenize.run(spark, cfg.paths(), cfg.tokenize());
    System.err.printf("tokenize: %s version %d %s%n", r.table(), r.version(),
        r.committed() ? "written" : "unchanged (these documents and settings are its latest version)");
    for (Map.Entry<String, DatasetManifest.SplitCounts> e : r.manifest().counts().entrySet()) {
      DatasetManifest.SplitCounts c = e.getValue();
      System.err.printf("tokenize:   %-10s %,d documents, %,d tokens, %,d rows of %d%n", e.getKey(),
          c.documents(), c.tokens(), c.rows(), r.manifest().seqLen() + 1);
    }
    return r;
  }
}
