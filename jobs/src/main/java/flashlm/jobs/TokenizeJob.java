package flashlm.jobs;

import flashlm.pipeline.hub.DownloadConfig;
import flashlm.pipeline.hub.DownloadManifest;
import flashlm.pipeline.hub.Downloader;
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.pipeline.tokenize.Tokenize;
import flashlm.pipeline.tokenize.TokenizeConfig;
import flashlm.pipeline.tokenize.TokenizeResult;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm tokenize}: the documents table into the sequences table: DJL tokenizer in the
 * executors, separators, deterministic train/validation split, rows of exactly seq_len + 1 ids in
 * shards; one Delta commit carrying the data set's manifest. A re-run on the same documents and
 * settings commits nothing.
 */
public final class TokenizeJob extends DatasetJob {

  public static void main(String[] args) throws Exception {
    Launcher.runJob("tokenize", args);
  }

  public TokenizeJob() {
    super("tokenize",
        "tokenize and pack the documents table into the sharded sequences Delta table");
  }

  @Override
  void execute(SparkSession spark, DatasetConfig cfg) {
    run(spark, cfg);
  }

  static TokenizeResult run(SparkSession spark, DatasetConfig cfg) {
    TokenizeConfig tc = withHubTokenizer(spark, cfg);
    TokenizeResult r = Tokenize.run(spark, cfg.paths(), tc);
    System.err.printf("tokenize: %s version %d %s%n", r.table(), r.version(),
        r.committed() ? "written" : "unchanged (these documents and settings are its latest version)");
    for (Map.Entry<String, DatasetManifest.SplitCounts> e : r.manifest().counts().entrySet()) {
      DatasetManifest.SplitCounts c = e.getValue();
      System.err.printf("tokenize:   %-10s %,d documents, %,d tokens, %,d rows of %d%n", e.getKey(),
          c.documents(), c.tokens(), c.rows(), r.manifest().seqLen() + 1);
    }
    return r;
  }

  /**
   * {@code tokenizer: hf://OWNER/NAME[@REVISION]} names a model repo on the hub: its tokenizer
   * files are downloaded (verified, once) into {@code data_dir/tokenizers/OWNER/NAME} with their
   * own download manifest, and tokenize reads them there. The endpoint and token are those of the
   * data set's download section, else {@code HF_ENDPOINT}/{@code HF_TOKEN}.
   */
  static TokenizeConfig withHubTokenizer(SparkSession spark, DatasetConfig cfg) {
    String t = cfg.tokenize().tokenizer();
    if (t == null || !t.startsWith(HUB_PREFIX)) {
      return cfg.tokenize();
    }
    String spec = t.substring(HUB_PREFIX.length());
    int at = spec.indexOf('@');
    String repo = at < 0 ? spec : spec.substring(0, at);
    String revision = at < 0 ? "main" : spec.substring(at + 1);
    String dest = cfg.paths().root() + "/tokenizers/" + repo;
    DownloadConfig base = cfg.download();
    DownloadConfig dl = new DownloadConfig(repo, "model", revision, List.of(TOKENIZER_FILES),
        base == null ? null : base.endpoint(), dest, null,
        base == null ? null : base.maxRetries(), base == null ? null : base.timeoutSeconds(),
        base == null ? null : base.retryBackoffMs(), base == null ? null : base.tokenFile(), null);
    DownloadManifest m = Downloader.run(spark, dl);
    System.err.printf("tokenize: tokenizer of %s@%s (commit %s) in %s%n", repo, revision,
        m.resolvedCommit(), dest);
    return cfg.tokenize().withTokenizer(dest);
  }

  static final String HUB_PREFIX = "hf://";
  /** The files of a HuggingFace tokenizer: the model, and the two that name its special tokens. */
  private static final String TOKENIZER_FILES =
      "{tokenizer.json,tokenizer_config.json,special_tokens_map.json}";
}
