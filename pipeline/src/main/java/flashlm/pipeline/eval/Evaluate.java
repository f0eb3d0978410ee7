package flashlm.pipeline.eval;

import flashlm.pipeline.tokenize.TextEncoder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Scores a model on the validation documents of a sequences table ({@link EvalSource}): each
 * document tokenized with the table's tokenizer, every token scored ({@link DocumentScorer}), the
 * characters counted as Unicode code points of the text.
 *
 * <p>The documents stream to the driver ({@code toLocalIterator}: a partition at a time, in
 * doc_id order), where the model runs: the scoring is one native model using every core of the
 * machine, and a validation split is small next to the training data. With {@code maxDocuments}
 * the first documents by doc_id are taken, so two runs with the same bound score the same
 * documents.
 */
public final class Evaluate {
  /** Documents encoded per tokenizer call. */
  private static final int BATCH = 64;
  /** Seconds between progress lines. */
  private static final double PROGRESS_SECONDS = 5;

  private Evaluate() {}

  /**
   * Scores the validation documents of {@code source}.
   *
   * @param maxDocuments the first this many documents by doc_id; null for all
   * @param progress gets a line now and then: documents done, tokens per second, ETA
   */
  public static EvalResult run(SparkSession spark, EvalSource source, DocumentScorer scorer,
      Integer maxDocuments, Consumer<String> progress) {
    long t0 = System.nanoTime();
    Dataset<Row> docs = source.validationDocuments(spark, maxDocuments);
    spark.sparkContext().setJobDescription("eval: validation documents of " + source.table());
    try {
      long total = docs.count();
      TextEncoder encoder = TextEncoder.of(source.tokenizer());
      Iterator<Row> it = docs.toLocalIterator();
      long documents = 0;
      long tokens = 0;
      long characters = 0;
      double nll = 0;
      long lastLine = System.nanoTime();
      while (it.hasNext()) {
        List<String> texts = new ArrayList<>(BATCH);
        while (texts.size() < BATCH && it.hasNext()) {
          Row r = it.next();
          texts.add(r.isNullAt(1) ? "" : r.getString(1));
        }
        int[][] ids = encoder.encode(texts.toArray(new String[0]));
        for (int i = 0; i < ids.length; i++) {
          int[] t = source.modelTokens(ids[i]);
          if (t.length < 2) {
            continue; // one token and no separator: nothing to predict
          }
          nll += scorer.nll(t);
          tokens += t.length - 1;
          characters += texts.get(i).codePointCount(0, texts.get(i).length());
          documents++;
        }
        long now = System.nanoTime();
        if ((now - lastLine) / 1e9 >= PROGRESS_SECONDS && it.hasNext()) {
          double secs = (now - t0) / 1e9;
          progress.accept(String.format(Locale.ROOT, "%,d/%,d documents, %,d tokens, %,.0f"
              + " tokens/s, elapsed %s, eta %s", documents, total, tokens, tokens / secs,
              duration(secs), duration(secs / Math.max(1, documents) * (total - documents))));
          lastLine = now;
        }
      }
      return new EvalResult(documents, tokens, characters, nll, (System.nanoTime() - t0) / 1e9);
    } finally {
      spark.sparkContext().setJobDescription(null);
    }
  }

  /** "45s", "12m05s", "3h07m". */
  static String duration(double seconds) {
    long s = Math.round(seconds);
    return s < 60 ? s + "s" : s < 3600 ? String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60)
        : String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
  }
}
