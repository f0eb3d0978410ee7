package flashlm.pipeline.tokenize;

import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.hub.DownloadConfig;
import flashlm.pipeline.hub.DownloadManifest;
import flashlm.pipeline.hub.Downloader;
import java.util.List;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code tokenizer: hf://OWNER/NAME[@REVISION]}: a model repo on the hub whose tokenizer files
 * are downloaded (verified, once) into {@link DatasetPaths#hubTokenizer} with their own download
 * manifest, and read there. The endpoint, token and retry settings are those of the data set's
 * download section, else {@code HF_ENDPOINT} / {@code HF_TOKEN} and the defaults.
 */
public final class HubTokenizer {
  /** How a tokenizer setting names a model repo on the hub. */
  public static final String PREFIX = "hf://";
  /** The files of a HuggingFace tokenizer: the model, and the two that name its special tokens. */
  private static final List<String> FILES =
      List.of("{tokenizer.json,tokenizer_config.json,special_tokens_map.json}");
  private static final Logger LOG = LoggerFactory.getLogger(HubTokenizer.class);

  private HubTokenizer() {}

  /**
   * {@code config} with an {@code hf://} tokenizer replaced by the folder it was downloaded to;
   * any other config as it is.
   *
   * @param hub the data set's download section, whose connection settings the download reuses
   *     (null: the defaults)
   */
  public static TokenizeConfig resolve(SparkSession spark, DatasetPaths paths,
      TokenizeConfig config, DownloadConfig hub) {
    String t = config.tokenizer();
    if (t == null || !t.startsWith(PREFIX)) {
      return config;
    }
    String spec = t.substring(PREFIX.length());
    int at = spec.indexOf('@');
    String repo = at < 0 ? spec : spec.substring(0, at);
    String revision = at < 0 ? "main" : spec.substring(at + 1);
    String dest = paths.hubTokenizer(repo);
    DownloadManifest m = Downloader.run(spark,
        DownloadConfig.modelFiles(hub, repo, revision, FILES, dest));
    LOG.info("tokenize: tokenizer of {}@{} (commit {}) in {}", repo, revision,
        m.resolvedCommit(), dest);
    return config.withTokenizer(dest);
  }
}
