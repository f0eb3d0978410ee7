package flashlm.pipeline.tokenize;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import flashlm.config.ConfigException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * DJL tokenizers, one per tokenizer.json per JVM: every task of an executor shares the native
 * tokenizer (its encode is thread-safe), keyed by the file's sha256. They live as long as the
 * JVM; an executor holds one or two.
 */
final class Tokenizers {
  private static final Map<String, HuggingFaceTokenizer> CACHE = new ConcurrentHashMap<>();

  static {
    // DJL calls a metadata service and a telemetry host on first use unless told not to; this
    // holds in any JVM that loads a tokenizer through the pipeline, whatever the launcher set.
    setIfAbsent("OPT_OUT_TRACKING", "true");
    setIfAbsent("ai.djl.offline", "true");
  }

  private Tokenizers() {}

  /** The shared tokenizer for {@code sha256}, loaded from {@code bytes} on first use. */
  static HuggingFaceTokenizer shared(String sha256, byte[] bytes, String name) {
    return CACHE.computeIfAbsent(sha256, k -> load(bytes, name));
  }

  /**
   * A new tokenizer with {@link TokenizerFile#OPTIONS} that encodes special-token strings in the
   * text as ordinary text ({@link OrdinaryText}); the caller closes it.
   */
  static HuggingFaceTokenizer load(byte[] bytes, String name) {
    byte[] json = OrdinaryText.tokenizerJson(bytes, name);
    try {
      return HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json),
          TokenizerFile.OPTIONS);
    } catch (IOException | RuntimeException e) {
      throw new ConfigException(name + ": DJL cannot load this tokenizer: " + e.getMessage(), e);
    }
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getenv(key) == null && System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }
}
