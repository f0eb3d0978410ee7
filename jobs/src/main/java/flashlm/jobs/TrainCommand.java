package flashlm.jobs;

import flashlm.config.Configs;
import flashlm.jobs.CommandLine.UsageException;
import flashlm.train.TrainConfig;
import flashlm.train.Trainer;
import java.nio.file.Path;
import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm train [--conf conf/v7-ts.json] [--set key=value ...] [--resume]}: trains a model
 * on the sequences table in this process, without Spark (see {@link Trainer}); {@code --resume}
 * continues from the newest checkpoint in {@code checkpoint.dir}.
 */
public final class TrainCommand implements Command {
  public static void main(String[] args) throws Exception {
    Launcher.runJob("train", args);
  }

  @Override
  public String name() {
    return "train";
  }

  @Override
  public String summary() {
    return "train a model on the sequences table (no Spark); --resume continues from checkpoint.dir";
  }

  @Override
  public String mainClass() {
    return TrainCommand.class.getName();
  }

  @Override
  public String defaultConf() {
    return "conf/v7-ts.json";
  }

  @Override
  public boolean usesSpark() {
    return false;
  }

  @Override
  public void run(CommandLine args, SparkSession spark) {
    if (!args.rest().isEmpty()) {
      throw new UsageException("train takes no positional arguments, got " + args.rest());
    }
    Path file = args.conf() != null ? args.conf() : Path.of(defaultConf());
    TrainConfig config = Configs.load(file, TrainConfig.class, args.overrides());
    Trainer.Result r = Trainer.builder(config).optResume(args.resume())
        .optHadoopConf(HadoopConfs.fromSystemProperties()).build().run();
    System.out.printf("train: %d steps (%s), train loss %.4f, val loss %.4f, checkpoint %s%n",
        r.steps(), r.stopReason(), r.trainLoss(), r.valLoss(), r.checkpoint());
  }
}
