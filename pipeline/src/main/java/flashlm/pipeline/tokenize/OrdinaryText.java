package flashlm.pipeline.tokenize;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import flashlm.config.ConfigException;
import java.io.IOException;

/**
 * Document text is text: the tokenizer.json the pipeline encodes documents with, so that a
 * document spelling a special token ({@code </s>}, {@code <s>}, {@code <unk>},
 * {@code <|endoftext|>}) gets the ids of those characters, not the control id. Otherwise any web
 * page could plant document boundaries in the training stream; only the configured BOS/EOS
 * separators, added by id, are control tokens.
 *
 * <p>HuggingFace tokenizers match the {@code added_tokens} in the text before the model sees it;
 * their {@code encode_special_tokens = true} skips the ones marked {@code "special": true}. DJL
 * 0.38 has no such switch, so the same is done here: those entries are left out of {@code
 * added_tokens} in the copy DJL loads. The ids the model's vocabulary gives them are unchanged
 * (LLaMA's {@code </s>} stays 2 in the vocabulary; it just cannot be reached from text), the
 * separators' ids are read from the original file ({@link TokenizerFile}), and added tokens that
 * are not special (user-added words) are still matched, as in HuggingFace.
 */
final class OrdinaryText {
  private static final ObjectMapper JSON = new ObjectMapper();

  private OrdinaryText() {}

  /**
   * {@code tokenizerJson} without its special added tokens; the same bytes when it has none.
   *
   * @param name the file, for errors
   */
  static byte[] tokenizerJson(byte[] tokenizerJson, String name) {
    JsonNode root;
    try {
      root = JSON.readTree(tokenizerJson);
    } catch (IOException e) {
      throw new ConfigException(name + ": not a tokenizer.json: " + e.getMessage(), e);
    }
    if (!(root instanceof ObjectNode obj) || !(root.get("added_tokens") instanceof ArrayNode)) {
      return tokenizerJson; // nothing is matched before the model; DJL reports other problems
    }
    ArrayNode added = (ArrayNode) obj.get("added_tokens");
    ArrayNode kept = JSON.createArrayNode();
    for (JsonNode t : added) {
      if (!t.path("special").asBoolean(false)) {
        kept.add(t);
      }
    }
    if (kept.size() == added.size()) {
      return tokenizerJson;
    }
    obj.set("added_tokens", kept);
    try {
      return JSON.writeValueAsBytes(obj);
    } catch (IOException e) {
      throw new IllegalStateException(name + ": cannot write the tokenizer.json back", e);
    }
  }
}
