package flashlm.jobs;

import flashlm.cluster.ClusterTraining;
import flashlm.jobs.CommandLine.UsageException;
import flashlm.train.TrainConfig;
import flashlm.train.Trainer;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm train [--conf conf/v7-ts.json] [--set key=value ...] [--resume]}: trains a model
 * on the sequences table; {@code --resume} continues from the newest complete checkpoint in
 * {@code checkpoint.dir}. With {@code distributed.world_size} 1 (the default) it trains in this
 * process, without Spark (see {@link Trainer}); on SIGTERM or SIGINT it finishes the step in
 * flight, writes a checkpoint and exits (see {@link Trainer.Builder#optStopOnSignal}). With more
 * ranks, or "auto", it runs one Spark barrier stage, one trainer per task (see {@link
 * ClusterTraining}), on embedded Spark ({@code local[N]} for N ranks) unless a master is chosen.
 */
public final class TrainCommand extends BaseCommand {
  public static void main(String[] args) throws Exception {
    Launcher.runJob("train", args);
  }

  public TrainCommand() {
    super("train",
        "train a model on the sequences table (distributed.world_size > 1: a Spark barrier"
            + " stage); --resume continues from checkpoint.dir",
        "conf/v7-ts.json", false);
  }

  private TrainConfig.Distributed distributed(CommandLine args) {
    return args.load(this, TrainConfig.class).distributed();
  }

  @Override
  public boolean usesSpark(CommandLine args) {
    return !distributed(args).oneProcess();
  }

  @Override
  public String defaultMaster(CommandLine args) {
    TrainConfig.Distributed d = distributed(args);
    return d.oneProcess() ? null : ClusterTraining.localMaster(d);
  }

  @Override
  public Map<String, String> submitSettings(CommandLine args) {
    TrainConfig.Distributed d = distributed(args);
    String master = args.master() != null ? args.master() : defaultMaster(args);
    return d.oneProcess() ? Map.of() : ClusterTraining.submitSettings(d, master);
  }

  @Override
  public void run(CommandLine args, SparkSession spark) {
    if (!args.rest().isEmpty()) {
      throw new UsageException("train takes no positional arguments, got " + args.rest());
    }
    TrainConfig config = args.loadForRun(this, TrainConfig.class);
    Trainer.Result r;
    if (config.distributed().oneProcess()) {
      // SIGTERM/SIGINT: finish the step, checkpoint, exit (this process runs one training).
      r = Trainer.builder(config).optResume(args.resume()).optStopOnSignal(true)
          .optHadoopConf(HadoopConfs.fromSystemProperties()).build().run();
    } else {
      ClusterTraining.Result c = ClusterTraining.run(spark, config, args.resume(), System.out);
      r = c.result();
      System.out.printf("train: %d ranks, %d attempt%s%n", c.worldSize(), c.attempts().size(),
          c.attempts().size() == 1 ? "" : "s");
    }
    System.out.printf("train: %d steps (%s), train loss %.4f, %s, checkpoint %s%n",
        r.steps(), r.stopReason().id(), r.trainLoss(), Double.isNaN(r.valLoss())
            ? "no evaluation ran" : String.format("val loss %.4f", r.valLoss()), r.checkpoint());
  }
}
