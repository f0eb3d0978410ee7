package flashlm.jobs;

import flashlm.hash.Sha256;
import flashlm.infer.DocumentScore;
import flashlm.infer.ModelSource;
import flashlm.infer.PackedModel;
import flashlm.jobs.CommandLine.UsageException;
import flashlm.pipeline.eval.EvalResult;
import flashlm.pipeline.eval.EvalSource;
import flashlm.pipeline.eval.Evaluate;
import flashlm.pipeline.eval.EvalsTable;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm eval --set model=... [--set tables=[...]] [--max-documents N]}: loss,
 * perplexity and bits per character of a model on the validation documents of sequences tables
 * ({@link Evaluate}), scored by the packed model on the driver ({@link DocumentScore}), appended
 * to the evals Delta table ({@link EvalsTable}) and printed as a table. Spark reads the
 * documents at the versions the tables were built from and writes the evals table with the same
 * protocol as the data tables.
 */
public final class EvalCommand extends BaseCommand {
  public static void main(String[] args) throws Exception {
    Launcher.runJob("eval", args);
  }

  public EvalCommand() {
    super("eval", "loss, perplexity and bits per character on validation documents -> evals",
        "conf/eval.yaml", true);
  }

  @Override
  public void check(CommandLine args) {
    if (!args.rest().isEmpty()) {
      throw new UsageException("eval takes --set model=..., not positional arguments "
          + args.rest());
    }
    args.load(this, EvalConfig.class);
  }

  @Override
  public void run(CommandLine args, SparkSession spark) {
    run(spark, args.loadForRun(this, EvalConfig.class), System.out, System.err);
  }

  /** Evaluates, appends to the evals table, prints the table; returns the entries. */
  static List<EvalsTable.Entry> run(SparkSession spark, EvalConfig cfg, PrintStream out,
      PrintStream err) {
    Configuration hadoop = spark.sparkContext().hadoopConfiguration();
    ModelSource src = ModelSource.open(hadoop, cfg.model());
    List<EvalConfig.TableRef> tables = cfg.tableRefs();
    if (tables.isEmpty()) {
      if (src.table() == null) {
        throw new UsageException(cfg.model() + " does not record its training table: name one"
            + " with --set tables=[PATH]");
      }
      tables = List.of(new EvalConfig.TableRef(src.table(), src.tableVersion()));
    }
    int seqLen = src.spec().seqLen();
    int stride = cfg.stride() != null ? cfg.stride() : Math.max(1, seqLen / 2);
    if (stride > seqLen) {
      throw new UsageException("stride " + stride + " is longer than the model's context ("
          + seqLen + ")");
    }
    String modelSha = sha256(src.weights());
    String evals = cfg.evalsTable(isDirectory(hadoop, cfg.model()));
    List<EvalsTable.Entry> entries = new ArrayList<>();
    err.printf("eval: %s (step %d, %s %s, context %d, stride %d)%n", src.path(), src.step(),
        src.spec().arch().id(), src.spec().quant().id(), seqLen, stride);
    try (PackedModel model = src.load()) {
      for (EvalConfig.TableRef t : tables) {
        EvalSource es = EvalSource.of(spark, t.path(), t.version());
        String unfit = unfit(src, es);
        if (unfit != null) {
          err.println("eval: skipping " + t + ": " + unfit);
          continue;
        }
        EvalResult r = Evaluate.run(spark, es, tokens -> DocumentScore.score(model, tokens,
            stride).nll(), cfg.maxDocuments(), line -> err.println("eval: " + t + ": " + line));
        entries.add(new EvalsTable.Entry(src.path(), modelSha, src.step(), es.table(),
            es.version(), es.tokenizerSha256(), r, seqLen, stride, cfg.maxDocuments(),
            Instant.now().toString()));
      }
    }
    if (entries.isEmpty()) {
      throw new UsageException("no table fits " + cfg.model() + ": each was tokenized with"
          + " another tokenizer than the model trained with");
    }
    boolean added = EvalsTable.append(spark, evals, entries);
    print(out, entries);
    err.printf("eval: %s %s%n", evals, added ? "appended" : "unchanged (this evaluation is"
        + " there already)");
    return entries;
  }

  /** Why the model does not fit the table, or null when it does. */
  private static String unfit(ModelSource src, EvalSource es) {
    if (src.tokenizerInfo() != null && !src.tokenizerInfo().sha256().equals(es.tokenizerSha256())) {
      return "the model trained with tokenizer sha256 " + src.tokenizerInfo().sha256()
          + ", the table is tokenized with " + es.tokenizerSha256();
    }
    if (es.tokenizer().vocabSize() > src.spec().vocabSize()) {
      return "its tokenizer has " + es.tokenizer().vocabSize() + " tokens, the model "
          + src.spec().vocabSize();
    }
    return null;
  }

  static void print(PrintStream out, List<EvalsTable.Entry> entries) {
    out.printf(Locale.ROOT, "%-48s %7s %9s %11s %12s %8s %9s %7s%n", "table", "version",
        "documents", "tokens", "characters", "loss", "ppl", "bpc");
    for (EvalsTable.Entry e : entries) {
      EvalResult r = e.result();
      String table = e.table().length() > 48 ? "..." + e.table().substring(e.table().length() - 45)
          : e.table();
      out.printf(Locale.ROOT, "%-48s %7d %,9d %,11d %,12d %8.4f %9.3f %7.4f%n", table,
          e.tableVersion(), r.documents(), r.tokens(), r.characters(), r.loss(), r.ppl(),
          r.bpc());
    }
  }

  private static boolean isDirectory(Configuration conf, String path) {
    try {
      Path p = new Path(path);
      return p.getFileSystem(conf).getFileStatus(p).isDirectory();
    } catch (IOException e) {
      return false;
    }
  }

  private static String sha256(ByteBuffer weights) {
    MessageDigest d = Sha256.digest();
    d.update(weights.duplicate().clear());
    return Sha256.hexOf(d.digest());
  }
}
