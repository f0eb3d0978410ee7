package flashlm.infer;

import java.util.Arrays;

/**
 * Scores every token of a document with a {@link PackedModel}: the summed negative
 * log-likelihood of {@code tokens[1 ..]}, each given the tokens before it.
 *
 * <p>A document longer than the model's context ({@code seq_len} inputs) is read in windows of
 * {@code seq_len} tokens: the first starts at the document's start and scores all its targets;
 * each next one starts {@code stride} tokens later (the last one ends at the document's end) and
 * scores only the targets the windows before it did not. So every token is scored exactly once,
 * and every token past the first window is scored with at least {@code seq_len - stride} tokens
 * before it. A document of at most {@code seq_len + 1} tokens is one window.
 */
public final class DocumentScore {
  /**
   * A document's score.
   *
   * @param nll summed negative log-likelihood, nats
   * @param tokens tokens scored ({@code tokens.length - 1})
   * @param windows windows run
   */
  public record Score(double nll, long tokens, int windows) {}

  private DocumentScore() {}

  /**
   * Scores {@code tokens} (at least 2: the first is the context of the second: BOS, or the EOS
   * that ends the document before, as in training).
   *
   * @param stride 1 .. seq_len
   */
  public static Score score(PackedModel model, int[] tokens, int stride) {
    int seqLen = model.spec().seqLen();
    if (stride < 1 || stride > seqLen) {
      throw new IllegalArgumentException("stride " + stride + " outside [1, " + seqLen
          + "] (seq_len)");
    }
    int n = tokens.length;
    if (n < 2) {
      throw new IllegalArgumentException("a document needs at least 2 tokens to score, got " + n);
    }
    double nll = 0;
    int scored = 0; // targets 1 .. scored are done
    int start = 0;
    int windows = 0;
    while (scored < n - 1) {
      int len = Math.min(seqLen, n - 1 - start);
      int[] window = start == 0 && len == n - 1 ? tokens
          : Arrays.copyOfRange(tokens, start, start + len + 1);
      nll += model.score(window, len, scored - start);
      windows++;
      scored = start + len;
      start = Math.min(start + stride, n - 1 - seqLen);
    }
    return new Score(nll, n - 1, windows);
  }
}
