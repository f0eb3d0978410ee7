/**
 * Evaluation of a trained model on the validation documents of sequences tables: which
 * documents and how they are tokenized ({@link flashlm.pipeline.eval.EvalSource}), the scoring
 * loop with progress ({@link flashlm.pipeline.eval.Evaluate}, with the model passed in as a
 * {@link flashlm.pipeline.eval.DocumentScorer}), loss, perplexity and bits per character ({@link
 * flashlm.pipeline.eval.EvalResult}), and the {@code evals} Delta table ({@link
 * flashlm.pipeline.eval.EvalsTable}).
 */
package flashlm.pipeline.eval;
