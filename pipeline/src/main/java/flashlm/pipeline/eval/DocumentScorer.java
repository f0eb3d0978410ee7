package flashlm.pipeline.eval;

/**
 * Scores one document: the summed negative log-likelihood (nats) of {@code tokens[1 ..]}, each
 * given the tokens before it. The model lives in the trainer ({@code flashlm.infer}), which the
 * pipeline does not depend on; the eval job passes one in.
 */
@FunctionalInterface
public interface DocumentScorer {
  double nll(int[] tokens);
}
