package flashlm.jobs;

import flashlm.pipeline.ingest.Ingest;
import flashlm.pipeline.manifest.DeltaWrites;
import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm ingest}: source files (the download manifest's, or {@code ingest.files}) into
 * the documents table, in one Delta commit; a re-run on the same inputs commits nothing.
 */
public final class IngestJob extends DatasetJob {

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

  static DeltaWrites.Result run(SparkSession spark, DatasetConfig cfg) {
    DeltaWrites.Result r = Ingest.run(spark, cfg.paths(), cfg.ingest());
    System.err.printf("ingest: %s version %d %s%n", r.table(), r.version(),
        r.committed() ? "written" : "unchanged (these inputs are already its latest version)");
    return r;
  }
}
