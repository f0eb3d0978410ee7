package flashlm.jobs;

import flashlm.jobs.CommandLine.UsageException;
import flashlm.report.Report;
import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm report RUN_DIR}: draws a run's report again ({@link Report}: report.html and
 * the charts beside the checkpoints), with the evaluations and the sample made since. No Spark.
 */
public final class ReportCommand extends BaseCommand {
  public static void main(String[] args) throws Exception {
    Launcher.runJob("report", args);
  }

  public ReportCommand() {
    super("report", "RUN_DIR: draw a run's report.html and charts again (after eval, generate)",
        "none (RUN_DIR is the run's checkpoint.dir)", false);
  }

  @Override
  public void check(CommandLine args) {
    if (args.rest().size() != 1) {
      throw new UsageException("report takes one RUN_DIR (a run's checkpoint.dir), got "
          + args.rest());
    }
  }

  @Override
  public void run(CommandLine args, SparkSession spark) {
    check(args);
    Report.Result r = Report.write(HadoopConfs.fromSystemProperties(), args.rest().get(0));
    System.out.printf("report: %s (%d charts, %d evaluations%s)%n", r.html(), r.charts().size(),
        r.evals(), r.sample() ? ", a sample" : "");
  }
}
