/**
 * Inference: a trained model loaded once for generation and evaluation. {@link
 * flashlm.infer.PackedModel} (libflashlm's KV-cache decoder over packed ternary weights with int8
 * activations), the packed model file ({@link flashlm.infer.PackedFile}), where a model and its
 * tokenizer come from ({@link flashlm.infer.ModelSource}, {@link flashlm.infer.TableTokenizer}),
 * generation ({@link flashlm.infer.Generator}, {@link flashlm.infer.Sampler}) and the scoring of
 * whole documents in windows ({@link flashlm.infer.DocumentScore}).
 *
 * <p>Dependencies: {@code infer -> train (checkpoints), data (table properties), model, jni}.
 */
package flashlm.infer;
