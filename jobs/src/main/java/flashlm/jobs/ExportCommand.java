package flashlm.jobs;

import flashlm.export.ExportConfig;
import flashlm.export.Exporter;
import flashlm.jobs.CommandLine.UsageException;
import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm export --set checkpoint=DIR_OR_FILE --set out=DIR}: writes a checkpoint as
 * HuggingFace safetensors with a config.json (see {@link Exporter}).
 */
public final class ExportCommand extends BaseCommand {
  public static void main(String[] args) throws Exception {
    Launcher.runJob("export", args);
  }

  public ExportCommand() {
    super("export",
        "write a checkpoint as HuggingFace safetensors + config.json (Llama tensor names)",
        "conf/export.json", false);
  }

  @Override
  public void run(CommandLine args, SparkSession spark) {
    if (!args.rest().isEmpty()) {
      throw new UsageException("export takes --set checkpoint=... --set out=..., not positional"
          + " arguments " + args.rest());
    }
    ExportConfig config = args.loadForRun(this, ExportConfig.class);
    Exporter.Result r = Exporter.export(HadoopConfs.fromSystemProperties(), config.checkpoint(),
        config.out());
    for (String bad : r.skipped()) {
      System.err.println("export: warning: skipped " + bad);
    }
    System.out.printf("export: %s (step %d, %,d parameters) -> %s, %s%n", r.checkpoint(), r.step(),
        r.parameters(), r.safetensors(), r.config());
  }
}
