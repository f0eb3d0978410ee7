package flashlm.jobs;

import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.pipeline.manifest.DeltaWrites;
import flashlm.pipeline.tokenize.Tokenize;
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

  static DeltaWrites.Result run(SparkSession spark, DatasetConfig cfg) {
    DeltaWrites.Result r = Tokenize.run(spark, cfg.paths(), cfg.tokenize(), cfg.download());
    System.err.printf(
        "tokenize: %s version %d %s%n",
        r.table(),
        r.version(),
        r.committed()
            ? "written"
            : "unchanged (these documents and settings are its latest version)");
    for (Map.Entry<String, DatasetManifest.SplitCounts> e : r.manifest().counts().entrySet()) {
      DatasetManifest.SplitCounts c = e.getValue();
      System.err.printf("tokenize:   %-10s %,d documents, %,d tokens, %,d rows of %d%n", e.getKey(),
          c.documents(), c.tokens(), c.rows(), r.manifest().seqLen() + 1);
    }
    return r;
  }
}
