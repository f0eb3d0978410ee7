package flashlm.jobs;

import flashlm.config.ConfigException;
import flashlm.infer.Generator;
import flashlm.infer.Sampling;

/**
 * What {@code flashlm generate} does: {@code bin/flashlm generate --set model=... --set
 * prompt="Once upon a time"}.
 *
 * @param model a packed model file, a checkpoint file or a checkpoint directory (its newest)
 *     (required)
 * @param prompt the text to continue, default "Once upon a time"
 * @param maxNewTokens tokens to generate at most (max_new_tokens), default 200
 * @param temperature see {@link Sampling} (0: greedy), default 0.8
 * @param topK see {@link Sampling} (top_k), default 40
 * @param topP see {@link Sampling} (top_p), default 0.95
 * @param repetitionPenalty see {@link Sampling} (repetition_penalty), default 1.1
 * @param seed see {@link Sampling}, default 1234
 * @param context {@code refuse} (default): a prompt plus max_new_tokens longer than the model's
 *     seq_len is an error; {@code slide}: keep the last seq_len / 2 tokens when the context is
 *     full and go on
 * @param stopAtEos stop at the tokenizer's EOS (stop_at_eos), default true
 * @param out also write the prompt and the text to this file (local or any Hadoop URI)
 */
public record GenerateConfig(String model, String prompt, Integer maxNewTokens,
    Double temperature, Integer topK, Double topP, Double repetitionPenalty, Long seed,
    Generator.Context context, Boolean stopAtEos, String out) {
  public GenerateConfig {
    if (model == null || model.isBlank()) {
      throw ConfigException.missing("model");
    }
    prompt = prompt == null ? "Once upon a time" : prompt;
    maxNewTokens = maxNewTokens == null ? 200 : maxNewTokens;
    if (maxNewTokens < 1) {
      throw ConfigException.badValue("max_new_tokens", maxNewTokens, "a positive integer");
    }
    context = context == null ? Generator.Context.REFUSE : context;
    stopAtEos = stopAtEos == null || stopAtEos;
    sampling(temperature, topK, topP, repetitionPenalty, seed); // checks them
  }

  /** The sampling settings. */
  public Sampling sampling() {
    return sampling(temperature, topK, topP, repetitionPenalty, seed);
  }

  private static Sampling sampling(Double t, Integer k, Double p, Double r, Long s) {
    return new Sampling(t, k, p, r, s);
  }
}
