package flashlm.jobs;

import flashlm.fs.AtomicFiles;
import flashlm.infer.Generator;
import flashlm.infer.ModelSource;
import flashlm.infer.PackedFile;
import flashlm.infer.PackedModel;
import flashlm.jobs.CommandLine.UsageException;
import flashlm.pipeline.tokenize.TextEncoder;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;

/**
 * {@code flashlm generate --set model=... --set prompt="..."}: continues a prompt with the packed
 * model's KV-cache decoder ({@link Generator}), streaming the text to the terminal as it comes.
 * The prompt is tokenized with the model's own tokenizer (inside a packed file, or the one its
 * training table records) and starts as training documents do (BOS, or after an EOS). No Spark.
 */
public final class GenerateCommand extends BaseCommand {
  public static void main(String[] args) throws Exception {
    Launcher.runJob("generate", args);
  }

  public GenerateCommand() {
    super("generate", "continue a prompt with a trained model (KV cache, packed weights)",
        "conf/generate.yaml", false);
  }

  @Override
  public void run(CommandLine args, SparkSession spark) {
    if (!args.rest().isEmpty()) {
      throw new UsageException("generate takes --set prompt=..., not positional arguments "
          + args.rest());
    }
    run(HadoopConfs.fromSystemProperties(), args.loadForRun(this, GenerateConfig.class),
        System.out, System.err);
  }

  /**
   * Generates, printing the prompt and then the text to {@code out} as it comes, and a summary
   * line to {@code err}; returns the text after the prompt.
   */
  static String run(Configuration conf, GenerateConfig cfg, PrintStream out, PrintStream err) {
    ModelSource src = ModelSource.open(conf, cfg.model());
    byte[] tokenizer = src.requireTokenizer();
    PackedFile.TokenizerInfo t = src.tokenizerInfo();
    TextEncoder enc = TextEncoder.of(tokenizer, t.sha256(), src.path());
    int[] ids = enc.encode(new String[] {cfg.prompt()})[0];
    Integer lead = t.addBos() && t.bosId() != null ? t.bosId() : t.eosId();
    int head = lead != null ? 1 : 0;
    int[] prompt = new int[head + ids.length];
    if (lead != null) {
      prompt[0] = lead;
    }
    System.arraycopy(ids, 0, prompt, head, ids.length);
    int eos = cfg.stopAtEos() && t.eosId() != null ? t.eosId() : -1;
    Stream stream = new Stream(enc, ids, eos, out);
    out.print(cfg.prompt());
    out.flush();
    Generator.Result r;
    try (PackedModel model = src.load()) {
      r = Generator.generate(model, prompt, cfg.maxNewTokens(), cfg.sampling(), cfg.context(),
          eos, stream::accept);
    }
    out.println();
    out.flush();
    err.printf(Locale.ROOT, "generate: %d new tokens (stop: %s); prompt of %d tokens read in"
        + " %.3f s, %.1f tokens/s after%s%n", r.tokens().length, r.stopReason(), prompt.length,
        r.promptSeconds(), r.tokensPerSecond(), r.slides() > 0 ? ", context slid "
        + r.slides() + " times" : "");
    String text = stream.text();
    if (cfg.out() != null) {
      AtomicFiles.write(conf, cfg.out(), (cfg.prompt() + text + "\n")
          .getBytes(StandardCharsets.UTF_8));
      err.println("generate: wrote " + cfg.out());
    }
    return text;
  }

  /**
   * Text as tokens come: the decoded prompt and new tokens, printed from where the last print
   * ended; held back while it ends in an incomplete character (a byte-level token can be part
   * of one), and never the EOS.
   */
  private static final class Stream {
    private final TextEncoder enc;
    private final int eos;
    private final PrintStream out;
    private final String base;
    private int[] all;
    private int n;
    private String shown;

    Stream(TextEncoder enc, int[] promptIds, int eos, PrintStream out) {
      this.enc = enc;
      this.eos = eos;
      this.out = out;
      this.all = Arrays.copyOf(promptIds, promptIds.length + 64);
      this.n = promptIds.length;
      this.base = enc.decode(promptIds);
      this.shown = base;
    }

    void accept(int token) {
      if (token == eos) {
        return;
      }
      if (n == all.length) {
        all = Arrays.copyOf(all, 2 * all.length);
      }
      all[n++] = token;
      String full = enc.decode(Arrays.copyOf(all, n));
      if (full.endsWith("\uFFFD") || !full.startsWith(shown)) {
        return;
      }
      out.print(full.substring(shown.length()));
      out.flush();
      shown = full;
    }

    /** The text after the prompt. */
    String text() {
      String full = enc.decode(Arrays.copyOf(all, n));
      return full.startsWith(base) ? full.substring(base.length()) : full;
    }
  }
}
