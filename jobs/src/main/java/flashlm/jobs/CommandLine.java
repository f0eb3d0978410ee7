package flashlm.jobs;

import flashlm.config.Configs;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Parsed launcher arguments: {@code <command> [--conf FILE] [--set key=value ...] [--master URL]
 * [--print-submit] [--resume] [--max-documents N] [--help]}; {@code --max-documents N} is {@code
 * --set max_documents=N} (eval).
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
  private static final Logger LOG = LoggerFactory.getLogger(CommandLine.class);

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
        case "--max-documents" -> overrides.add("max_documents=" + value(args, ++i, a));
        case "--help", "-h" -> help = true;
        default -> {
          if (a.startsWith("--conf=")) {
            conf = Path.of(a.substring("--conf=".length()));
          } else if (a.startsWith("--set=")) {
            overrides.add(a.substring("--set=".length()));
          } else if (a.startsWith("--master=")) {
            master = a.substring("--master=".length());
          } else if (a.startsWith("-")) {
            Command.Option o = option(cmd, a);
            rest.add(a);
            if (o.takesValue() && !a.contains("=")) {
              rest.add(value(args, ++i, a));
            }
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

  /** The option {@code arg} of command {@code cmd} (see {@link Command#options}). */
  private static Command.Option option(String cmd, String arg) {
    String name = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
    return Commands.ALL.stream().filter(c -> c.name().equals(cmd))
        .flatMap(c -> c.options().stream()).filter(o -> o.name().equals(name)).findFirst()
        .orElseThrow(() -> new UsageException("unknown option '" + arg + "'"));
  }

  /** The config file: {@code --conf}, else the command's default. */
  public Path confOr(Command c) {
    return conf != null ? conf : Path.of(c.defaultConf());
  }

  /** Loads the config file into {@code type} with the {@code --set} overrides applied. */
  public <T> T load(Command c, Class<T> type) {
    return Configs.load(confOr(c), type, overrides);
  }

  /**
   * {@link #load} for the run itself, which logs one line naming the config: the file, the
   * overridden keys (not their values, which may be secrets) and the resolved config's sha256.
   * The whole config goes into what the command writes (Delta commits, checkpoints).
   */
  public <T> T loadForRun(Command c, Class<T> type) {
    T config = load(c, type);
    String keys = overrides.stream().map(o -> o.substring(0, o.indexOf('=')))
        .collect(Collectors.joining(", "));
    LOG.info("{}: config {}{} (sha256 {})", c.name(), confOr(c),
        keys.isEmpty() ? "" : " with --set " + keys, Configs.fingerprint(config).substring(0, 16));
    return config;
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
