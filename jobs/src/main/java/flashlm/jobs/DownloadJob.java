package flashlm.jobs;

import flashlm.config.ConfigException;
import flashlm.pipeline.hub.DownloadConfig;
import flashlm.pipeline.hub.DownloadManifest;
import flashlm.pipeline.hub.Downloader;
import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm download}: fetches the data set's files from the HuggingFace hub into {@code
 * data_dir/raw} (or {@code download.dest}), one Spark task per file, and writes the download
 * manifest. Files already there and verified are skipped, so a re-run resumes.
 */
public final class DownloadJob extends DatasetJob {

  public static void main(String[] args) throws Exception {
    Launcher.runJob("download", args);
  }

  public DownloadJob() {
    super("download",
        "fetch a data set from the HuggingFace hub (resumable, verified, parallel)");
  }

  @Override
  void check(DatasetConfig cfg, CommandLine args) {
    if (cfg.download() == null) {
      throw new ConfigException(args.confOr(this) + ": no 'download' section: this data set's"
          + " files are read where they are (ingest.files); nothing to download");
    }
  }

  @Override
  void execute(SparkSession spark, DatasetConfig cfg) {
    run(spark, cfg);
  }

  static DownloadManifest run(SparkSession spark, DatasetConfig cfg) {
    DownloadConfig dl = cfg.download().dest() != null ? cfg.download()
        : cfg.download().withDest(cfg.paths().raw());
    DownloadManifest m = Downloader.run(spark, dl);
    long bytes = m.files().stream().mapToLong(f -> f.size() == null ? 0 : f.size()).sum();
    System.err.printf("download: %s@%s (commit %s): %d files, %.1f MB in %s%n", m.repo(),
        m.revision(), m.resolvedCommit(), m.files().size(), bytes / 1e6, dl.dest());
    return m;
  }
}
