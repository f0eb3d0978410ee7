package flashlm.pipeline.tokenize;

import flashlm.config.ConfigException;

/**
 * The {@code tokenize} step's config (snake_case keys in files and {@code --set} overrides).
 *
 * @param tokenizer the tokenizer.json to use: a path or URI ({@code s3a://...}), or a directory
 *     holding {@code tokenizer.json} (a hub download of a model repo); relative paths are under
 *     the dataset's data_dir; default {@code data_dir/tokenizer/tokenizer.json} (train-tokenizer's)
 * @param seqLen tokens per training example (seq_len); each row holds seq_len + 1 ids; default 256
 * @param numShards shards per split (num_shards), so trainer ranks read disjoint partitions;
 *     default 8
 * @param validationRatio fraction of the documents without a source split that go to validation
 *     (validation_ratio), by a hash of doc_id; default 0.01
 * @param addEos append the EOS token to every document (add_eos); default true
 * @param addBos prepend the BOS token to every document (add_bos); default false
 * @param eosToken the EOS token's text (eos_token); default: tokenizer_config.json beside the
 *     tokenizer, else the first of {@code </s>}, {@code <|endoftext|>}, {@code <|end_of_text|>},
 *     {@code <eos>} in its vocabulary
 * @param bosToken the BOS token's text (bos_token); default: tokenizer_config.json, else the first
 *     of {@code <s>}, {@code <|begin_of_text|>}, {@code <bos>}, {@code <|endoftext|>}
 * @param batchSize documents per DJL batchEncode call (batch_size); default 256; does not change
 *     the output
 * @param output where the sequences table goes; relative paths are under data_dir; default
 *     {@code data_dir/sequences} (set it to keep tables of two tokenizers side by side)
 */
public record TokenizeConfig(
    String tokenizer,
    Integer seqLen,
    Integer numShards,
    Double validationRatio,
    Boolean addEos,
    Boolean addBos,
    String eosToken,
    String bosToken,
    Integer batchSize,
    String output) {

  public TokenizeConfig {
    if (tokenizer != null && tokenizer.isBlank()) {
      throw ConfigException.badValue("tokenizer", "''", "a path or URI, or leave it unset");
    }
    seqLen = seqLen == null ? 256 : seqLen;
    if (seqLen < 1 || seqLen > (1 << 20)) {
      throw ConfigException.badValue("seq_len", seqLen, "1 .. 1048576");
    }
    numShards = numShards == null ? 8 : numShards;
    if (numShards < 1 || numShards > 65536) {
      throw ConfigException.badValue("num_shards", numShards, "1 .. 65536");
    }
    validationRatio = validationRatio == null ? 0.01 : validationRatio;
    if (!(validationRatio >= 0 && validationRatio < 1)) {
      throw ConfigException.badValue("validation_ratio", validationRatio, "0 <= ratio < 1");
    }
    addEos = addEos == null ? Boolean.TRUE : addEos;
    addBos = addBos == null ? Boolean.FALSE : addBos;
    if (eosToken != null && eosToken.isEmpty()) {
      throw ConfigException.badValue("eos_token", "''", "a token, or leave it unset");
    }
    if (bosToken != null && bosToken.isEmpty()) {
      throw ConfigException.badValue("bos_token", "''", "a token, or leave it unset");
    }
    batchSize = batchSize == null ? 256 : batchSize;
    if (batchSize < 1) {
      throw ConfigException.badValue("batch_size", batchSize, ">= 1");
    }
    if (output != null && output.isBlank()) {
      throw ConfigException.badValue("output", "''", "a path or URI, or leave it unset");
    }
  }

  /** All defaults. */
  public static TokenizeConfig defaults() {
    return new TokenizeConfig(null, null, null, null, null, null, null, null, null, null);
  }

  /** This config with {@code tokenizer} replaced. */
  public TokenizeConfig withTokenizer(String newTokenizer) {
    return new TokenizeConfig(newTokenizer, seqLen, numShards, validationRatio, addEos, addBos,
        eosToken, bosToken, batchSize, output);
  }

  /** This config with {@code seq_len} and {@code num_shards} replaced. */
  public TokenizeConfig withPacking(int newSeqLen, int newNumShards) {
    return new TokenizeConfig(tokenizer, newSeqLen, newNumShards, validationRatio, addEos, addBos,
        eosToken, bosToken, batchSize, output);
  }

  /** This config with {@code validation_ratio} replaced. */
  public TokenizeConfig withValidationRatio(double newRatio) {
    return new TokenizeConfig(tokenizer, seqLen, numShards, newRatio, addEos, addBos, eosToken,
        bosToken, batchSize, output);
  }

  /** This config with the separators replaced. */
  public TokenizeConfig withSeparators(boolean newAddBos, boolean newAddEos) {
    return new TokenizeConfig(tokenizer, seqLen, numShards, validationRatio, newAddEos, newAddBos,
        eosToken, bosToken, batchSize, output);
  }

  /** This config with {@code batch_size} replaced. */
  public TokenizeConfig withBatchSize(int newBatchSize) {
    return new TokenizeConfig(tokenizer, seqLen, numShards, validationRatio, addEos, addBos,
        eosToken, bosToken, newBatchSize, output);
  }

  /** This config with {@code output} replaced. */
  public TokenizeConfig withOutput(String newOutput) {
    return new TokenizeConfig(tokenizer, seqLen, numShards, validationRatio, addEos, addBos,
        eosToken, bosToken, batchSize, newOutput);
  }
}
