package flashlm.jobs;

import flashlm.config.Configs;
import flashlm.export.ExportConfig;
import flashlm.export.Exporter;
import flashlm.fs.HadoopFiles;
import flashlm.infer.Embedding;
import flashlm.jobs.CommandLine.UsageException;
import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.audit.History;
import flashlm.report.Report;
import flashlm.train.CheckpointDir;
import flashlm.train.TrainConfig;
import flashlm.train.Trainer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm quickstart}: the whole path in one command, on embedded Spark and local disk
 * (offline by default): {@code prepare} (ingest, train the 1024-token BPE, tokenize and pack),
 * {@code train} v6.1 under a time budget, {@code export} the packed model, {@code eval} it,
 * {@code generate} a story, draw the {@code report}, {@code audit history} of the sequences
 * table, then print where everything is. Each step is the command of the same name
 * (conf/quickstart.yaml says how); run again, it continues the same run: the tables are up to
 * date, and training resumes its finished run, which stops at once.
 */
public final class QuickstartCommand extends BaseCommand {
  public static void main(String[] args) throws Exception {
    Launcher.runJob("quickstart", args);
  }

  public QuickstartCommand() {
    super("quickstart", "the whole path on the bundled sample: prepare, train v6.1, eval,"
        + " generate, report (start here)", "conf/quickstart.yaml", true);
  }

  @Override
  public void check(CommandLine args) {
    if (!args.rest().isEmpty()) {
      throw new UsageException("quickstart takes --set key=value, not positional arguments "
          + args.rest());
    }
    args.load(this, QuickstartConfig.class);
  }

  @Override
  public void run(CommandLine args, SparkSession spark) throws Exception {
    run(spark, args.loadForRun(this, QuickstartConfig.class), System.out, System.err);
  }

  /** Runs every step; returns the run directory. */
  static String run(SparkSession spark, QuickstartConfig q, PrintStream out, PrintStream err)
      throws Exception {
    long t0 = System.nanoTime();
    Configuration hadoop = spark.sparkContext().hadoopConfiguration();
    List<String> dataSet = q.dataDir() == null ? List.of() : List.of("data_dir=" + q.dataDir());
    DatasetConfig data = Configs.load(Path.of(q.dataset()), DatasetConfig.class, dataSet);
    DatasetPaths paths = data.paths();
    String runDir = Path.of(q.runDir()).toAbsolutePath().normalize().toString();

    step(err, 1, "prepare " + q.dataset() + " into " + paths.root());
    new PrepareJob().execute(spark, data);

    List<String> overrides = new ArrayList<>(List.of("data.table=" + paths.sequences(),
        "checkpoint.dir=" + runDir));
    overrides.addAll(q.trainOverrides());
    TrainConfig tc = Configs.load(Path.of(q.model()), TrainConfig.class, overrides);
    boolean resume = new CheckpointDir(hadoop, runDir).latest(bad -> { }).isPresent();
    step(err, 2, "train " + q.model() + " (" + (tc.timeBudget() == null ? "no time budget"
        : "time budget " + tc.timeBudget()) + ")" + (resume ? ": continuing the run in "
        + runDir + " (remove it to start afresh)" : ""));
    Trainer.Result trained = Trainer.builder(tc).optResume(resume).optStopOnSignal(true)
        .optHadoopConf(hadoop).build().run();

    String packedDir = runDir + "/packed";
    step(err, 3, "export the packed model");
    Exporter.Result exported = ExportCommand.run(new ExportConfig(runDir, packedDir,
        ExportConfig.Format.PACKED, Embedding.F32, null));

    step(err, 4, "eval on the validation stories");
    String evals = runDir + "/" + Report.EVALS;
    EvalCommand.run(spark, new EvalConfig(exported.primary(), List.of(paths.sequences()),
        q.maxDocuments(), null, evals), out, err);

    step(err, 5, "generate a story");
    String sample = runDir + "/" + Report.SAMPLE;
    GenerateCommand.run(hadoop, new GenerateConfig(exported.primary(), q.prompt(),
        q.maxNewTokens(), null, null, null, null, null, null, null, sample), out, err);

    step(err, 6, "report");
    Report.Result report = Report.write(hadoop, runDir);
    audit(spark, paths.sequences(), out, err);

    double secs = (System.nanoTime() - t0) / 1e9;
    out.printf(Locale.ROOT, "%nquickstart: done in %s: %d steps (%s), train loss %.3f%n",
        StageProgress.duration(secs), trained.steps(), trained.stopReason().id(),
        trained.trainLoss());
    String[][] rows = {
        {"documents table", paths.documents()},
        {"tokenizer", paths.trainedTokenizer()},
        {"sequences table", paths.sequences()},
        {"checkpoints", runDir + " (ckpt-*.flm, config.json, metrics.jsonl)"},
        {"packed model", exported.primary() + size(hadoop, exported.primary())},
        {"evals table", evals},
        {"runs registry", tc.runsTableOrDefault()},
        {"sample", sample},
        {"report", report.html() + "   <- open this first"}};
    for (String[] r : rows) {
      out.printf("  %-16s %s%n", r[0], r[1]);
    }
    out.printf("next: bin/flashlm generate --set model=%s --set prompt=\"One day\"%n",
        exported.primary());
    return runDir;
  }

  /**
   * {@code audit history} of the sequences table: every version, the job that wrote it, its
   * source, tokenizer and counts. Its failure is only noted: the run's artefacts are all there.
   */
  private static void audit(SparkSession spark, String table, PrintStream out, PrintStream err) {
    step(err, 7, "audit history " + table);
    try {
      History.run(spark, table).print(out);
      out.flush();
    } catch (RuntimeException e) {
      err.println("quickstart: audit history failed: " + Launcher.describe(e));
    }
  }

  private static void step(PrintStream err, int n, String what) {
    err.println();
    err.println("quickstart [" + n + "] " + what);
    err.flush();
  }

  private static String size(Configuration conf, String path) {
    try {
      return String.format(Locale.ROOT, " (%.1f MB)", HadoopFiles.length(conf, path) / 1e6);
    } catch (IOException e) {
      return "";
    }
  }
}
