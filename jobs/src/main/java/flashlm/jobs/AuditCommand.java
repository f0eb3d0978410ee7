package flashlm.jobs;

import flashlm.jobs.CommandLine.UsageException;
import flashlm.pipeline.audit.AuditConfig;
import flashlm.pipeline.audit.AuditReport;
import flashlm.pipeline.audit.Diff;
import flashlm.pipeline.audit.History;
import flashlm.pipeline.audit.Leaks;
import flashlm.pipeline.audit.Lineage;
import flashlm.pipeline.audit.Verify;
import flashlm.train.Checkpoint;
import flashlm.train.CheckpointDir;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm audit history|diff|leaks|verify|lineage ...}: dataset version audits on Spark
 * (see {@link flashlm.pipeline.audit}). Prints the report as tables, or as JSON with {@code
 * --json}; fails (exit status 1) when {@code verify} finds a mismatch or {@code leaks} a leak,
 * unless {@code --allow}.
 */
public final class AuditCommand extends BaseCommand {
  static final String USAGE = """
      usage: bin/flashlm audit <what> ... [--json]
        history TABLE                     every version: job, source, tokenizer, counts, vacuumed
        diff TABLE V1 V2                  files, documents, rows and rules changed between versions
        leaks TABLE [--version V] [--against TABLE2 [--against-version V2]] [--allow]
                                          train/validation leaks; exit 1 when any is found
        verify TABLE [--version V] [--retokenize K] [--allow]
                                          recompute what the manifest claims; exit 1 on a mismatch
        lineage CHECKPOINT_OR_DIR [--runs RUNS_TABLE]
                                          the runs and data that made a checkpoint
        lineage --table TABLE [--version V] [--runs RUNS_TABLE]
                                          the runs that trained on a table (version)""";

  public static void main(String[] args) throws Exception {
    Launcher.runJob("audit", args);
  }

  public AuditCommand() {
    super("audit", "dataset version audits: history, diff, leaks, verify, lineage (--json)",
        "conf/audit.yaml", true);
  }

  @Override
  public List<Option> options() {
    return List.of(new Option("--json", false), new Option("--allow", false),
        new Option("--version", true), new Option("--against", true),
        new Option("--against-version", true), new Option("--retokenize", true),
        new Option("--table", true), new Option("--runs", true));
  }

  @Override
  public void check(CommandLine args) {
    AuditArgs.parse(args.rest());
    args.load(this, AuditConfig.class);
  }

  @Override
  public void run(CommandLine args, SparkSession spark) throws IOException {
    AuditArgs a = AuditArgs.parse(args.rest());
    AuditConfig cfg = args.loadForRun(this, AuditConfig.class);
    AuditReport report = switch (a.what()) {
      case "history" -> History.run(spark, a.positional(0));
      case "diff" -> Diff.run(spark, a.positional(0), a.longPositional(1),
          a.longPositional(2));
      case "leaks" -> Leaks.run(spark, a.positional(0), a.longOption("--version"),
          a.option("--against"), a.longOption("--against-version"), cfg.sample());
      case "verify" -> Verify.run(spark, a.positional(0), a.longOption("--version"),
          a.intOption("--retokenize", 0), cfg.seed(), cfg.sample());
      default -> lineage(spark, a);
    };
    if (a.flag("--json")) {
      System.out.println(report.toJson());
    } else {
      report.print(System.out);
    }
    System.out.flush();
    if (!report.problems().isEmpty() && !a.flag("--allow")) {
      throw new AuditFailedException("audit " + a.what() + " found " + report.problems().size()
          + " problem" + (report.problems().size() == 1 ? "" : "s") + ": "
          + String.join("; ", report.problems()));
    }
  }

  private static AuditReport lineage(SparkSession spark, AuditArgs a) throws IOException {
    if (a.option("--table") != null) {
      return Lineage.ofTable(spark, a.option("--table"), a.longOption("--version"),
          a.option("--runs"));
    }
    String target = a.positional(0);
    Configuration conf = spark.sparkContext().hadoopConfiguration();
    Path p = new Path(target);
    boolean dir = p.getFileSystem(conf).getFileStatus(p).isDirectory();
    String checkpointDir = dir ? new CheckpointDir(conf, target).toString()
        : new CheckpointDir(conf, p.getParent().toString()).toString();
    List<String> paths = dir ? new CheckpointDir(conf, target).list()
        : List.of(p.getFileSystem(conf).makeQualified(p).toString());
    List<Lineage.CheckpointFacts> facts = new ArrayList<>();
    for (String path : paths) {
      Checkpoint.Header h;
      try {
        h = Checkpoint.readHeader(conf, path);
      } catch (RuntimeException e) {
        System.err.println("audit lineage: skipping " + path + ": " + e.getMessage());
        continue;
      }
      facts.add(new Lineage.CheckpointFacts(path, h.step(), h.table(), h.tableVersion(),
          h.config().data().trainSplit(), h.config().data().validationSplit(),
          a.option("--runs") != null ? a.option("--runs") : h.config().runsTableOrDefault()));
    }
    return Lineage.ofCheckpoints(spark, target, checkpointDir, facts);
  }

  /** An audit that ran and found what it guards against. */
  static final class AuditFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    AuditFailedException(String message) {
      super(message);
    }
  }

  /**
   * The audit's own arguments, from the launcher's rest: what to run, its positional arguments
   * and options.
   */
  record AuditArgs(String what, List<String> positionals, Map<String, String> options) {
    private static final Map<String, Integer> ARITY = Map.of("history", 1,
        "diff", 3, "leaks", 1, "verify", 1, "lineage", 1);

    static AuditArgs parse(List<String> rest) {
      List<String> positionals = new ArrayList<>();
      Map<String, String> options = new LinkedHashMap<>();
      for (int i = 0; i < rest.size(); i++) {
        String r = rest.get(i);
        if (r.startsWith("--")) {
          int eq = r.indexOf('=');
          boolean flag = r.equals("--json") || r.equals("--allow");
          String value = eq > 0 ? r.substring(eq + 1) : flag ? "" : rest.get(++i);
          options.put(eq > 0 ? r.substring(0, eq) : r, value);
        } else {
          positionals.add(r);
        }
      }
      if (positionals.isEmpty() || !ARITY.containsKey(positionals.get(0))) {
        throw new UsageException((positionals.isEmpty() ? "audit needs what to audit"
            : "unknown audit '" + positionals.get(0) + "'") + "\n" + USAGE);
      }
      String what = positionals.remove(0);
      int want = what.equals("lineage") && options.containsKey("--table") ? 0 : ARITY.get(what);
      if (positionals.size() != want) {
        throw new UsageException("audit " + what + " takes " + want + " argument"
            + (want == 1 ? "" : "s") + ", got " + positionals + "\n" + USAGE);
      }
      AuditArgs a = new AuditArgs(what, List.copyOf(positionals), options);
      for (String n : List.of("--version", "--against-version", "--retokenize")) {
        a.longOption(n); // a number, checked before Spark starts
      }
      if (what.equals("diff")) {
        a.longPositional(1);
        a.longPositional(2);
      }
      return a;
    }

    String positional(int i) {
      return positionals.get(i);
    }

    long longPositional(int i) {
      return number(positionals.get(i), "version");
    }

    String option(String name) {
      return options.get(name);
    }

    boolean flag(String name) {
      return options.containsKey(name);
    }

    Long longOption(String name) {
      String v = options.get(name);
      return v == null ? null : number(v, name);
    }

    int intOption(String name, int otherwise) {
      Long v = longOption(name);
      return v == null ? otherwise : Math.toIntExact(v);
    }

    private static long number(String v, String what) {
      try {
        long n = Long.parseLong(v);
        if (n < 0) {
          throw new NumberFormatException();
        }
        return n;
      } catch (NumberFormatException e) {
        throw new UsageException(what + " must be a number >= 0, got '" + v + "'");
      }
    }
  }
}
