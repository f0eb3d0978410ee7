package flashlm.pipeline.bpe;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits text into the words BPE learns from, as HuggingFace's {@code ByteLevel} pre-tokenizer
 * ({@code use_regex: true}) does at encode time: special tokens are cut out first (they are never
 * learned from), then GPT-2's regex splits the rest. Each word is handed on as its byte-level
 * string ({@link ByteLevel}).
 *
 * <p>{@code \s} follows Unicode ({@link Pattern#UNICODE_CHARACTER_CLASS}), as Oniguruma's does in
 * the Rust tokenizers library.
 */
final class PreTokenizer implements Serializable {
  private static final long serialVersionUID = 1L;

  /** GPT-2's pre-tokenization regex. */
  static final String GPT2_REGEX =
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

  private static final Pattern GPT2 = Pattern.compile(GPT2_REGEX, Pattern.UNICODE_CHARACTER_CLASS);

  /** Special tokens, longest first so that a token containing another one wins. */
  private final List<String> specials;

  PreTokenizer(List<String> specialTokens) {
    List<String> sorted = new ArrayList<>(specialTokens);
    sorted.sort(Comparator.comparingInt(String::length).reversed().thenComparing(Comparator.naturalOrder()));
    this.specials = List.copyOf(sorted);
  }

  /** Calls {@code sink} with the byte-level string of every word of {@code text}, in order. */
  void words(String text, Consumer<String> sink) {
    int start = 0;
    while (start < text.length()) {
      int cut = text.length();
      String found = null;
      for (String s : specials) {
        int at = text.indexOf(s, start);
        if (at >= 0 && at < cut) {
          cut = at;
          found = s;
        }
      }
      splitPlain(text, start, cut, sink);
      start = found == null ? cut : cut + found.length();
    }
  }

  /** The words of {@code text} as plain strings (not byte-level), for tests and debugging. */
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

  private static void splitPlain(String text, int from, int to, Consumer<String> sink) {
    if (from >= to) {
      return;
    }
    for (String word : split(text.substring(from, to))) {
      sink.accept(ByteLevel.encode(word));
    }
  }
}
