package flashlm.jobs;

import flashlm.config.Configs;
import flashlm.pipeline.ingest.Ingest;
import flashlm.pipeline.ingest.IngestResult;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code flashlm ingest}: source files (the download manifest's, or {@code ingest.files}) into
 * the documents table, in one Delta commit; a re-run on the same inputs commits nothing.
 */
public final class IngestJob extends DatasetJob {
  private static final Logger LOG = LoggerFactory.getLogger(IngestJob.class);

  public static void main(String[] args) throws Exception {
    Launcher.runJob("ingest", args);
  }

  public IngestJob() {
    super("ingest",
        "read downloaded or local/S3 files into the documents Delta table");
  }

  @Override
  void execute(SparkSession spark, DatasetConfig cfg) {
    run(spark, cfg);
  }

  static IngestResult run(SparkSession spark, DatasetConfig cfg) {
    LOG.info("ingest: config {}", Configs.toJson(cfg.ingest()));
    IngestResult r = Ingest.run(spark, cfg.paths(), cfg.ingest());
    System.err.printf("ingest: %s version %d %s%n", r.table(), r.version(),
        r.committed() ? "written" : "unchanged (these inputs are already its latest version)");
    return r;
  }
}
