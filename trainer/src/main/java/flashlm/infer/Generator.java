package flashlm.infer;

import com.fasterxml.jackson.annotation.JsonCreator;
import flashlm.config.ConfigEnum;
import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * Generates tokens with a {@link PackedModel}: the prompt in one pass (prefill), then one token
 * at a time from the KV cache, each chosen by a {@link Sampler}; stops after {@code
 * max_new_tokens}, or at EOS.
 *
 * <p>The model sees at most {@code seq_len} tokens (the context it was trained at). With {@link
 * Context#REFUSE} a prompt plus {@code max_new_tokens} longer than that is refused before
 * anything runs; with {@link Context#SLIDE}, when the context is full the last {@code seq_len / 2}
 * tokens are kept and read again (the cache holds positions, so keeping fewer tokens means
 * computing them afresh at their new positions), and generation goes on.
 */
public final class Generator {
  /** What to do with a context longer than the model's {@code seq_len}. */
  public enum Context implements ConfigEnum {
    REFUSE,
    SLIDE;

    @JsonCreator
    public static Context of(String id) {
      return ConfigEnum.parse(Context.class, "context", id);
    }
  }

  /**
   * How a generation ended and what it cost.
   *
   * @param tokens the new tokens, the EOS that stopped it included
   * @param stopReason "eos" or "max_new_tokens"
   * @param promptSeconds time to read the prompt (prefill)
   * @param decodeSeconds time for the new tokens after the first (the decode rate's time)
   * @param slides how often the context slid
   */
  public record Result(int[] tokens, String stopReason, double promptSeconds,
      double decodeSeconds, int slides) {
    /** New tokens per second of decoding (the first token comes with the prefill). */
    public double tokensPerSecond() {
      return tokens.length > 1 ? (tokens.length - 1) / decodeSeconds : Double.NaN;
    }
  }

  private Generator() {}

  /**
   * Generates from {@code prompt} (at least one id: the caller starts it as training documents
   * start, with BOS, or after an EOS).
   *
   * @param eosId stop when this token is chosen; -1 for never
   * @param onToken gets each new token as soon as it is chosen (EOS included)
   * @throws IllegalArgumentException for an empty prompt, or a context too long for {@code
   *     REFUSE}
   */
  public static Result generate(PackedModel model, int[] prompt, int maxNewTokens,
      Sampling sampling, Context context, int eosId, IntConsumer onToken) {
    int ctx = model.spec().seqLen();
    if (prompt.length == 0) {
      throw new IllegalArgumentException("the prompt holds no tokens");
    }
    if (maxNewTokens < 0) {
      throw new IllegalArgumentException("max_new_tokens " + maxNewTokens + " must be >= 0");
    }
    if (context == Context.REFUSE && (long) prompt.length + maxNewTokens > ctx) {
      throw new IllegalArgumentException("the prompt (" + prompt.length + " tokens) and "
          + maxNewTokens + " new tokens exceed the model's context of " + ctx + " tokens"
          + " (seq_len): shorten them, or set context=slide");
    }
    Sampler sampler = new Sampler(sampling);
    boolean[] seen = new boolean[model.spec().vocabSize()];
    int[] all = Arrays.copyOf(prompt, prompt.length + maxNewTokens);
    int len = prompt.length;
    for (int t : prompt) {
      seen[t] = true;
    }
    int slides = 0;
    long t0 = System.nanoTime();
    model.reset();
    float[] logits;
    if (len > ctx) { // only with SLIDE: start from the prompt's end
      logits = refill(model, all, len, ctx);
      slides++;
    } else {
      logits = model.forward(all, len);
    }
    long t1 = System.nanoTime();
    String reason = "max_new_tokens";
    int made = 0;
    while (made < maxNewTokens) {
      int next = sampler.next(logits, seen);
      all[len++] = next;
      seen[next] = true;
      made++;
      onToken.accept(next);
      if (next == eosId) {
        reason = "eos";
        break;
      }
      if (made == maxNewTokens) {
        break;
      }
      if (model.position() == ctx) {
        logits = refill(model, all, len, ctx);
        slides++;
      } else {
        logits = model.forward(new int[] {next}, 1);
      }
    }
    long t2 = System.nanoTime();
    return new Result(Arrays.copyOfRange(all, prompt.length, len), reason, (t1 - t0) / 1e9,
        (t2 - t1) / 1e9, slides);
  }

  /** Empties the cache and reads the last seq_len / 2 tokens of all[0 .. len) again. */
  private static float[] refill(PackedModel model, int[] all, int len, int ctx) {
    int keep = Math.max(1, ctx / 2);
    model.reset();
    return model.forward(Arrays.copyOfRange(all, len - keep, len), keep);
  }
}
