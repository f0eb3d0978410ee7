package flashlm.jobs;

import flashlm.jobs.CommandLine.UsageException;
import java.io.PrintStream;
import java.util.List;
import java.util.stream.Collectors;

/** The launcher's commands, in the order the usage lists them. */
final class Commands {
  static final List<Command> ALL = List.of(new QuickstartCommand(), new PrepareJob(),
      new DownloadJob(), new IngestJob(), new TrainTokenizerJob(), new TokenizeJob(),
      new TrainCommand(), new ExportCommand(), new EvalCommand(), new GenerateCommand(),
      new ReportCommand(), new AuditCommand());

  private Commands() {}

  static Command find(String name) {
    return ALL.stream().filter(c -> c.name().equals(name)).findFirst()
        .orElseThrow(() -> new UsageException("unknown command '" + name + "' (commands: "
            + ALL.stream().map(Command::name).collect(Collectors.joining(", ")) + ")"));
  }

  static void usage(PrintStream out) {
    out.println("usage: bin/flashlm <command> [--conf FILE] [--set key=value ...] "
        + "[--master URL] [--print-submit]");
    out.println();
    out.println("commands:");
    for (Command c : ALL) {
      out.printf("  %-16s %s%n", c.name(), c.summary());
    }
    out.println();
    out.println("options:");
    out.println("  --conf FILE      JSON or YAML config (default: the command's file under conf/)");
    out.println("  --set key=value  override one config key (dotted for nested keys); repeatable");
    out.println("  --master URL     Spark master (default local[*]; train with N ranks: local[N])");
    out.println("  --print-submit   print the equivalent spark-submit line and exit");
    out.println("  --max-documents N  eval: score the first N validation documents per table");
  }

  static void usage(Command c, PrintStream out) {
    out.println("usage: bin/flashlm " + c.name() + " [--conf FILE] [--set key=value ...]");
    out.println(c.summary());
    out.println("default config: " + c.defaultConf());
    out.println("spark-submit class: " + c.mainClass());
  }
}
