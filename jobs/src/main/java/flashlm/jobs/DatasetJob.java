package flashlm.jobs;

import org.apache.spark.sql.SparkSession;

/**
 * A pipeline step over one data set ({@link DatasetConfig}, default {@code
 * conf/datasets/sample.yaml}): the config is loaded and checked before Spark starts, then the
 * step runs on the session. {@link PrepareJob} runs the steps in order on one session.
 */
abstract class DatasetJob extends BaseCommand {
  DatasetJob(String name, String summary) {
    super(name, summary, PrepareJob.DEFAULT_CONF, true);
  }

  @Override
  public final void check(CommandLine args) {
    check(args.load(this, DatasetConfig.class), args);
  }

  /** Checks that {@code cfg} has what this step needs; default: nothing more than loading it. */
  void check(DatasetConfig cfg, CommandLine args) {}

  @Override
  public final void run(CommandLine args, SparkSession spark) throws Exception {
    execute(spark, args.loadForRun(this, DatasetConfig.class));
  }

  /** Runs the step on {@code cfg}. */
  abstract void execute(SparkSession spark, DatasetConfig cfg) throws Exception;
}
