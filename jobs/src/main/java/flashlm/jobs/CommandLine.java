package flashlm.jobs;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Parsed launcher arguments: {@code <command> [--conf FILE] [--set key=value ...] [--master URL]
 * [--print-submit] [--resume] [--help]}.
 *
 * @param command the job to run
 * @param conf the config file, or null for the command's default
 * @param overrides {@code key=value} overrides applied on top of the file, in order
 * @param master a Spark master URL for the embedded launcher (default {@code local[*]})
 * @param printSubmit print the equivalent {@code spark-submit} line instead of running
 * @param resume continue from the latest checkpoint (train)
 * @param help print the command's usage
 * @param rest positional arguments after the command (e.g. a checkpoint for export)
 */
public record CommandLine(
    String command,
    Path conf,
    List<String> overrides,
    String master,
    boolean printSubmit,
    boolean resume,
    boolean help,
    List<String> rest) {

  public CommandLine {
    overrides = List.copyOf(overrides);
    rest = List.copyOf(rest);
  }

  /** Parses {@code args}; {@code command} may be given already (spark-submit main classes). */
  public static CommandLine parse(String command, String[] args) {
    String cmd = command;
    Path conf = null;
    String master = null;
    boolean printSubmit = false;
    boolean resume = false;
    boolean help = false;
    List<String> overrides = new ArrayList<>();
    List<String> rest = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--conf", "-c" -> conf = Path.of(value(args, ++i, a));
        case "--set", "-s" -> overrides.add(value(args, ++i, a));
        case "--master" -> master = value(args, ++i, a);
        case "--print-submit" -> printSubmit = true;
        case "--resume" -> resume = true;
        case "--help", "-h" -> help = true;
        default -> {
          if (a.startsWith("--conf=")) {
            conf = Path.of(a.substring("--conf=".length()));
          } else if (a.startsWith("--set=")) {
            overrides.add(a.substring("--set=".length()));
          } else if (a.startsWith("--master=")) {
            master = a.substring("--master=".length());
          } else if (a.startsWith("-")) {
            throw new UsageException("unknown option '" + a + "'");
          } else if (cmd == null) {
            cmd = a;
          } else {
            rest.add(a);
          }
        }
      }
    }
    for (String o : overrides) {
      if (o.indexOf('=') <= 0) {
        throw new UsageException("--set expects key=value, got '" + o + "'");
      }
    }
    return new CommandLine(cmd, conf, overrides, master, printSubmit, resume, help, rest);
  }

  private static String value(String[] args, int i, String option) {
    if (i >= args.length) {
      throw new UsageException(option + " needs a value");
    }
    return args[i];
  }

  /** The arguments that reproduce this invocation after the command name (for spark-submit). */
  List<String> jobArgs() {
    List<String> out = new ArrayList<>();
    if (conf != null) {
      out.add("--conf");
      out.add(conf.toString());
    }
    for (String o : overrides) {
      out.add("--set");
      out.add(o);
    }
    if (resume) {
      out.add("--resume");
    }
    out.addAll(rest);
    return out;
  }

  /** A command line the user got wrong; the launcher prints usage with it. */
  public static final class UsageException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public UsageException(String message) {
      super(message);
    }
  }
}
