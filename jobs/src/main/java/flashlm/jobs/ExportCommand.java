package flashlm.jobs;

import flashlm.config.Configs;
import flashlm.export.ExportConfig;
import flashlm.export.Exporter;
import flashlm.jobs.CommandLine.UsageException;
import java.nio.file.Path;
import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm export --set checkpoint=DIR_OR_FILE --set out=DIR}: writes a checkpoint as
 * HuggingFace safetensors with a config.json (see {@link Exporter}).
 */
public final class ExportCommand implements Command {
  public static void main(String[] args) throws Exception {
    Launcher.runJob("export", args);
  }

  @Override
  public String name() {
    return "export";
  }

  @Override
  public String summary() {
    return "write a checkpoint as HuggingFace safetensors + config.json (Llama tensor names)";
  }

  @Override
  public String mainClass() {
    return ExportCommand.class.getName();
  }

  @Override
  public String defaultConf() {
    return "conf/export.json";
  }

  @Override
  public boolean usesSpark() {
    return false;
  }

  @Override
  public void run(CommandLine args, SparkSession spark) {
    if (!args.rest().isEmpty()) {
      throw new UsageException("export takes --set checkpoint=... --set out=..., not positional"
          + " arguments " + args.rest());
    }
    Path file = args.conf() != null ? args.conf() : Path.of(defaultConf());
    ExportConfig config = Configs.load(file, ExportConfig.class, args.overrides());
    Exporter.Result r = Exporter.export(HadoopConfs.fromSystemProperties(), config.checkpoint(),
        config.out());
    System.out.printf("export: %s (step %d, %,d parameters) -> %s, %s%n", r.checkpoint(), r.step(),
        r.parameters(), r.safetensors(), r.config());
  }
}
