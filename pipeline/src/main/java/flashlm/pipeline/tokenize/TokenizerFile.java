package flashlm.pipeline.tokenize;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import flashlm.config.ConfigException;
import flashlm.fs.HadoopFiles;
import flashlm.hash.Sha256;
import java.io.IOException;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A HuggingFace {@code tokenizer.json} read on the driver: its bytes (shipped to executors by
 * broadcast), sha256, vocabulary size and the ids of its BOS and EOS tokens.
 *
 * @param location where it was read (qualified URI)
 * @param bytes the file's bytes
 * @param sha256 hex SHA-256 of the bytes
 * @param vocabSize largest id + 1 over the model's vocabulary and the added tokens
 * @param bosToken the BOS token's text, or null when the tokenizer has none
 * @param bosId its id, or -1
 * @param eosToken the EOS token's text, or null when the tokenizer has none
 * @param eosId its id, or -1
 */
public record TokenizerFile(String location, byte[] bytes, String sha256, int vocabSize,
    String bosToken, int bosId, String eosToken, int eosId) {

  /** Options for every tokenizer the pipeline builds: ids exactly as the text encodes them. */
  public static final Map<String, String> OPTIONS = Map.of(
      "addSpecialTokens", "false", // BOS/EOS are ours to add, per the config
      "truncation", "false", // DJL truncates at 512 tokens by default, silently
      "padding", "false"); // DJL pads batches to the longest by default
  private static final List<String> EOS_NAMES =
      List.of("</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>");
  private static final List<String> BOS_NAMES =
      List.of("<s>", "<|begin_of_text|>", "<bos>", "<|endoftext|>");
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Reads the tokenizer at {@code location} (a tokenizer.json, or a directory holding one).
   *
   * @param bosName BOS text, or null for the default lookup (see {@link TokenizeConfig})
   * @param eosName EOS text, or null for the default lookup
   */
  public static TokenizerFile read(Configuration conf, String location, String bosName,
      String eosName) {
    try {
      Path path = new Path(location);
      FileSystem fs = path.getFileSystem(conf);
      if (!fs.exists(path)) {
        throw new ConfigException("tokenizer not found: " + location);
      }
      if (fs.getFileStatus(path).isDirectory()) {
        path = new Path(path, "tokenizer.json");
      }
      String qualified = fs.makeQualified(path).toString();
      byte[] bytes = HadoopFiles.readAll(conf, qualified);
      JsonNode json;
      try {
        json = JSON.readTree(bytes);
      } catch (IOException e) {
        throw new ConfigException(qualified + ": not a tokenizer.json: " + e.getMessage(), e);
      }
      JsonNode config = siblingConfig(conf, path);
      String bos = bosName != null ? bosName : configuredToken(config, "bos_token");
      String eos = eosName != null ? eosName : configuredToken(config, "eos_token");
      bos = bos != null ? bos : firstPresent(json, BOS_NAMES);
      eos = eos != null ? eos : firstPresent(json, EOS_NAMES);
      int bosId = bos == null ? -1 : idOf(json, bos, qualified, "bos_token");
      int eosId = eos == null ? -1 : idOf(json, eos, qualified, "eos_token");
      TokenizerFile file = new TokenizerFile(qualified, bytes, Sha256.hex(bytes),
          vocabSize(json, qualified), bos, bosId, eos, eosId);
      // Fails here, naming the file, if DJL cannot load it; kept for the tasks of this JVM.
      Tokenizers.shared(file.sha256(), bytes, qualified);
      return file;
    } catch (IOException e) {
      throw new ConfigException("cannot read tokenizer " + location + ": " + e.getMessage(), e);
    }
  }

  /**
   * A new DJL tokenizer over these bytes with {@link #OPTIONS}, special-token strings in the text
   * encoded as text ({@link OrdinaryText}); the caller closes it. Executors use a per-JVM cache
   * instead ({@link Tokenizers}).
   */
  public HuggingFaceTokenizer newTokenizer() {
    return Tokenizers.load(bytes, location);
  }

  private static JsonNode siblingConfig(Configuration conf, Path tokenizerJson)
      throws IOException {
    Path sibling = new Path(tokenizerJson.getParent(), "tokenizer_config.json");
    if (!HadoopFiles.exists(conf, sibling.toString())) {
      return null;
    }
    try {
      return JSON.readTree(HadoopFiles.readAll(conf, sibling.toString()));
    } catch (IOException e) {
      return null; // the companion file is optional; tokenizer.json decides
    }
  }

  /** A token named in tokenizer_config.json: a string or {"content": ...}. */
  private static String configuredToken(JsonNode config, String key) {
    if (config == null || !config.hasNonNull(key)) {
      return null;
    }
    JsonNode v = config.get(key);
    return v.isTextual() ? v.asText() : v.path("content").asText(null);
  }

  private static String firstPresent(JsonNode json, List<String> names) {
    for (String n : names) {
      if (lookup(json, n) >= 0) {
        return n;
      }
    }
    return null;
  }

  private static int idOf(JsonNode json, String token, String file, String key) {
    int id = lookup(json, token);
    if (id < 0) {
      throw new ConfigException(file + ": has no token '" + token + "' (" + key + ")");
    }
    return id;
  }

  /** The id of {@code token} among the added tokens or in the model's vocabulary, or -1. */
  private static int lookup(JsonNode json, String token) {
    for (JsonNode t : json.path("added_tokens")) {
      if (token.equals(t.path("content").asText(null))) {
        return t.path("id").asInt();
      }
    }
    JsonNode vocab = json.path("model").path("vocab");
    if (vocab.isObject() && vocab.has(token)) {
      return vocab.get(token).asInt();
    }
    if (vocab.isArray()) { // Unigram: [[piece, score], ...], the id is the index
      for (int i = 0; i < vocab.size(); i++) {
        if (token.equals(vocab.get(i).path(0).asText(null))) {
          return i;
        }
      }
    }
    return -1;
  }

  private static int vocabSize(JsonNode json, String file) {
    int max = -1;
    JsonNode vocab = json.path("model").path("vocab");
    if (vocab.isObject()) {
      for (Iterator<JsonNode> it = vocab.elements(); it.hasNext(); ) {
        max = Math.max(max, it.next().asInt());
      }
    } else if (vocab.isArray()) {
      max = vocab.size() - 1;
    }
    for (JsonNode t : json.path("added_tokens")) {
      max = Math.max(max, t.path("id").asInt());
    }
    if (max < 0) {
      throw new ConfigException(file + ": no vocabulary (model.vocab) found");
    }
    return max + 1;
  }
}
