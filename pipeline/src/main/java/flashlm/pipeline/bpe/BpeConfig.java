package flashlm.pipeline.bpe;

import flashlm.config.ConfigException;
import java.util.HashSet;
import java.util.List;

/**
 * Settings of the byte-level BPE trainer ({@code flashlm train-tokenizer}).
 *
 * @param vocabSize total vocabulary (vocab_size), counting the 256 byte tokens and the special
 *     tokens; default 1024 (FlashLM v6.1). Must be at least 256 + the number of special tokens.
 * @param specialTokens special tokens (special_tokens), given the last ids in this order; default
 *     {@code ["<|endoftext|>"]}, FlashLM's document separator, which thus gets id vocab_size - 1
 * @param minFrequency a pair seen fewer times than this is never merged (min_frequency); default 2.
 *     Training stops early (a smaller vocabulary) when no pair is frequent enough.
 * @param maxWords how many distinct pre-tokenized words, most frequent first, the driver keeps
 *     (max_words); default 1,000,000. Bounds driver memory on large corpora.
 * @param sampleFraction fraction of documents to learn from (sample_fraction), 0 &lt; f &lt;= 1;
 *     default 1. The sample is chosen by hashing each document with the seed, so it does not
 *     depend on partitioning.
 * @param seed seed of the document sample (seed); default 42
 */
public record BpeConfig(
    Integer vocabSize,
    List<String> specialTokens,
    Long minFrequency,
    Integer maxWords,
    Double sampleFraction,
    Long seed) {

  /** Byte tokens every byte-level vocabulary starts with. */
  public static final int BYTE_TOKENS = 256;

  public BpeConfig {
    vocabSize = vocabSize == null ? 1024 : vocabSize;
    specialTokens = specialTokens == null ? List.of("<|endoftext|>") : specialTokens;
    for (String s : specialTokens) {
      if (s == null || s.isEmpty()) {
        throw ConfigException.badValue("special_tokens", specialTokens, "non-empty strings");
      }
    }
    specialTokens = List.copyOf(specialTokens);
    if (new HashSet<>(specialTokens).size() != specialTokens.size()) {
      throw ConfigException.badValue("special_tokens", specialTokens, "distinct strings");
    }
    int smallest = BYTE_TOKENS + specialTokens.size();
    if (vocabSize < smallest) {
      throw ConfigException.badValue("vocab_size", vocabSize, "at least " + smallest + " = "
          + BYTE_TOKENS + " byte tokens + " + specialTokens.size() + " special tokens");
    }
    minFrequency = minFrequency == null ? 2L : minFrequency;
    if (minFrequency < 1) {
      throw ConfigException.badValue("min_frequency", minFrequency, "at least 1");
    }
    maxWords = maxWords == null ? 1_000_000 : maxWords;
    if (maxWords < 1) {
      throw ConfigException.badValue("max_words", maxWords, "at least 1");
    }
    sampleFraction = sampleFraction == null ? 1.0 : sampleFraction;
    if (!(sampleFraction > 0 && sampleFraction <= 1)) {
      throw ConfigException.badValue("sample_fraction", sampleFraction, "0 < f <= 1");
    }
    seed = seed == null ? 42L : seed;
  }

  /** All defaults: vocabulary 1024 with {@code <|endoftext|>}. */
  public static BpeConfig defaults() {
    return new BpeConfig(null, null, null, null, null, null);
  }

  /** The defaults with another vocabulary size. */
  public static BpeConfig ofVocabSize(int vocabSize) {
    return new BpeConfig(vocabSize, null, null, null, null, null);
  }

  /** Learned tokens the trainer aims for: vocab_size - 256 - specials. */
  int learnedTokens() {
    return vocabSize - BYTE_TOKENS - specialTokens.size();
  }
}
