package flashlm.jobs;

import flashlm.jobs.CommandLine.UsageException;
import flashlm.train.TrainConfig;
import flashlm.train.Trainer;
import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm train [--conf conf/v7-ts.json] [--set key=value ...] [--resume]}: trains a model
 * on the sequences table in this process, without Spark (see {@link Trainer}); {@code --resume}
 * continues from the newest complete checkpoint in {@code checkpoint.dir}. On SIGTERM or SIGINT
 * it finishes the step in flight, writes a checkpoint and exits (see {@link
 * Trainer.Builder#optStopOnSignal}).
 */
public final class TrainCommand extends BaseCommand {
  public static void main(String[] args) throws Exception {
    Launcher.runJob("train", args);
  }

  public TrainCommand() {
    super("train",
        "train a model on the sequences table (no Spark); --resume continues from checkpoint.dir",
        "conf/v7-ts.json", false);
  }

  @Override
  public void run(CommandLine args, SparkSession spark) {
    if (!args.rest().isEmpty()) {
      throw new UsageException("train takes no positional arguments, got " + args.rest());
    }
    TrainConfig config = args.loadForRun(this, TrainConfig.class);
    // SIGTERM/SIGINT: finish the step, checkpoint, exit (this process runs one training).
    Trainer.Result r = Trainer.builder(config).optResume(args.resume()).optStopOnSignal(true)
        .optHadoopConf(HadoopConfs.fromSystemProperties()).build().run();
    System.out.printf("train: %d steps (%s), train loss %.4f, %s, checkpoint %s%n",
        r.steps(), r.stopReason().id(), r.trainLoss(), Double.isNaN(r.valLoss())
            ? "no evaluation ran" : String.format("val loss %.4f", r.valLoss()), r.checkpoint());
  }
}
