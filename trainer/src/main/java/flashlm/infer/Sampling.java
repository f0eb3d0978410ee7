package flashlm.infer;

import flashlm.config.ConfigException;

/**
 * How the next token is chosen from the logits, in this order (as HuggingFace's {@code
 * generate()} does): the repetition penalty, then the temperature, then top-k, then top-p, then
 * a draw.
 *
 * @param temperature divides the logits; 0 picks the most likely token (greedy), default 0.8
 * @param topK keep the k most likely tokens (top_k); 0 keeps all, default 40
 * @param topP keep the smallest set of most likely tokens whose probabilities add up to at least
 *     p (top_p), at least one; 1 keeps all, default 0.95
 * @param repetitionPenalty (repetition_penalty) for every token already in the context, a
 *     positive logit is divided by it and a negative one multiplied (CTRL's rule, as
 *     HuggingFace); 1 is off, default 1.1
 * @param seed the draws' seed: the same seed, prompt and model give the same text; default 1234
 */
public record Sampling(Double temperature, Integer topK, Double topP, Double repetitionPenalty,
    Long seed) {
  public Sampling {
    temperature = temperature == null ? 0.8 : temperature;
    topK = topK == null ? 40 : topK;
    topP = topP == null ? 0.95 : topP;
    repetitionPenalty = repetitionPenalty == null ? 1.1 : repetitionPenalty;
    seed = seed == null ? 1234L : seed;
    if (!(temperature >= 0) || Double.isInfinite(temperature)) {
      throw ConfigException.badValue("temperature", temperature, "a number >= 0 (0: greedy)");
    }
    if (topK < 0) {
      throw ConfigException.badValue("top_k", topK, "an integer >= 0 (0: off)");
    }
    if (!(topP > 0 && topP <= 1)) {
      throw ConfigException.badValue("top_p", topP, "a number in (0, 1] (1: off)");
    }
    if (!(repetitionPenalty > 0) || Double.isInfinite(repetitionPenalty)) {
      throw ConfigException.badValue("repetition_penalty", repetitionPenalty,
          "a positive number (1: off)");
    }
  }

  /** Greedy decoding without a penalty. */
  public static Sampling greedy() {
    return new Sampling(0.0, 0, 1.0, 1.0, 0L);
  }

  /** Whether the choice is the most likely token. */
  public boolean greedyChoice() {
    return temperature == 0;
  }
}
