package flashlm.pipeline.bpe;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits text into the words BPE learns from, as HuggingFace's {@code ByteLevel} pre-tokenizer
 * ({@code use_regex: true}) does at encode time: GPT-2's regex splits the text, and each word is
 * handed on as its byte-level string ({@link ByteLevel}).
 *
 * <p>Document text is text: a special token's string inside a document ({@code <|endoftext|>})
 * is split and learned from like any other characters, as the pipeline encodes it (special
 * tokens are matched only when the pipeline adds them as separators, by id).
 *
 * <p>{@code \s} follows Unicode ({@link Pattern#UNICODE_CHARACTER_CLASS}), as Oniguruma's does in
 * the Rust tokenizers library.
 */
final class PreTokenizer {
  /** GPT-2's pre-tokenization regex. */
  static final String GPT2_REGEX =
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

  private static final Pattern GPT2 = Pattern.compile(GPT2_REGEX, Pattern.UNICODE_CHARACTER_CLASS);

  private PreTokenizer() {}

  /** Calls {@code sink} with the byte-level string of every word of {@code text}, in order. */
  static void words(String text, Consumer<String> sink) {
    for (String word : split(text)) {
      sink.accept(ByteLevel.encode(word));
    }
  }

  /** The words of {@code text} as plain strings (not byte-level). */
  static List<String> split(String text) {
    List<String> out = new ArrayList<>();
    Matcher m = GPT2.matcher(text);
    int last = 0;
    while (m.find()) {
      if (m.start() > last) {
        out.add(text.substring(last, m.start())); // unreachable with GPT-2's regex; kept as HF does
      }
      out.add(m.group());
      last = m.end();
    }
    if (last < text.length()) {
      out.add(text.substring(last));
    }
    return out;
  }
}
