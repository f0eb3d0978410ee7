package flashlm.pipeline.eval;

/**
 * A model's score on a table's validation documents.
 *
 * @param documents documents scored
 * @param tokens tokens scored (every token after a document's leading separator, its EOS too)
 * @param characters Unicode code points of the documents' text (an emoji is one, as is an
 *     accented letter of two UTF-8 bytes)
 * @param nll summed negative log-likelihood, nats
 * @param seconds time spent
 */
public record EvalResult(long documents, long tokens, long characters, double nll,
    double seconds) {
  /** Mean loss per token, nats. */
  public double loss() {
    return nll / tokens;
  }

  /** Perplexity per token: exp(loss). */
  public double ppl() {
    return Math.exp(loss());
  }

  /**
   * Bits per character: the summed NLL over the characters, in bits. Not loss / ln 2, which is
   * bits per token: a subword token stands for several characters.
   */
  public double bpc() {
    return nll / (characters * Math.log(2));
  }

  /** Tokens scored per second. */
  public double tokensPerSecond() {
    return tokens / seconds;
  }
}
