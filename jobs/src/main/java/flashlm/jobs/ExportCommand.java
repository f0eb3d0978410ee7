package flashlm.jobs;

import flashlm.export.ExportConfig;
import flashlm.export.Exporter;
import flashlm.jobs.CommandLine.UsageException;
import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm export --set checkpoint=DIR_OR_FILE --set out=DIR [--set format=packed]}: writes
 * a checkpoint as HuggingFace safetensors with config.json and the tokenizer files, or as the
 * packed model file that {@code generate} and {@code eval} load (see {@link Exporter}).
 */
public final class ExportCommand extends BaseCommand {
  public static void main(String[] args) throws Exception {
    Launcher.runJob("export", args);
  }

  public ExportCommand() {
    super("export",
        "write a checkpoint as HF safetensors + config + tokenizer, or --set format=packed",
        "conf/export.json", false);
  }

  @Override
  public void run(CommandLine args, SparkSession spark) {
    if (!args.rest().isEmpty()) {
      throw new UsageException("export takes --set checkpoint=... --set out=..., not positional"
          + " arguments " + args.rest());
    }
    run(args.loadForRun(this, ExportConfig.class));
  }

  /** Exports and prints what was written. */
  static Exporter.Result run(ExportConfig config) {
    Exporter.Result r = Exporter.export(HadoopConfs.fromSystemProperties(), config);
    for (String bad : r.skipped()) {
      System.err.println("export: warning: skipped " + bad);
    }
    for (String w : r.warnings()) {
      System.err.println("export: warning: " + w);
    }
    System.out.printf("export: %s (step %d, %,d parameters) -> %s%n", r.checkpoint(), r.step(),
        r.parameters(), String.join(", ", r.files()));
    return r;
  }
}
