package flashlm.pipeline.bpe;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Writes a trained byte-level BPE model as a HuggingFace {@code tokenizer.json} (format "1.0"),
 * with GPT-2's pre-tokenizer and decoder and no normalizer or post-processor, so that
 * {@code decode(encode(x)) == x} for any text. Keys are written in a fixed order with {@code \n}
 * line ends on every platform, so the same model gives byte-identical files.
 */
final class TokenizerJson {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private TokenizerJson() {}

  /**
   * The tokenizer.json text for {@code model} with {@code specialTokens} appended after its tokens.
   *
   * @throws IllegalArgumentException if a special token spells the same string as a learned token
   */
  static String render(MergeLoop.Result model, List<String> specialTokens) {
    ObjectNode root = NODES.objectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode added = root.putArray("added_tokens");
    int firstSpecial = model.tokens().size();
    for (int i = 0; i < specialTokens.size(); i++) {
      ObjectNode t = added.addObject();
      t.put("id", firstSpecial + i);
      t.put("content", specialTokens.get(i));
      t.put("single_word", false);
      t.put("lstrip", false);
      t.put("rstrip", false);
      t.put("normalized", false);
      t.put("special", true);
    }
    root.putNull("normalizer");
    root.set("pre_tokenizer", byteLevel(false));
    root.putNull("post_processor");
    root.set("decoder", byteLevel(true));
    root.set("model", model(model, specialTokens));
    DefaultPrettyPrinter printer = new DefaultPrettyPrinter()
        .withObjectIndenter(new DefaultIndenter("  ", "\n"))
        .withArrayIndenter(new DefaultIndenter("  ", "\n"));
    try {
      return MAPPER.writer(printer).writeValueAsString(root) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot render tokenizer.json", e);
    }
  }

  private static ObjectNode byteLevel(boolean addPrefixSpace) {
    ObjectNode n = NODES.objectNode();
    n.put("type", "ByteLevel");
    n.put("add_prefix_space", addPrefixSpace); // the decoder ignores it; GPT-2 writes true there
    n.put("trim_offsets", true);
    n.put("use_regex", true);
    return n;
  }

  private static ObjectNode model(MergeLoop.Result model, List<String> specialTokens) {
    ObjectNode m = NODES.objectNode();
    m.put("type", "BPE");
    m.putNull("dropout");
    m.putNull("unk_token");
    m.putNull("continuing_subword_prefix");
    m.putNull("end_of_word_suffix");
    m.put("fuse_unk", false);
    m.put("byte_fallback", false);
    m.put("ignore_merges", false);
    ObjectNode vocab = m.putObject("vocab");
    Set<String> learned = new HashSet<>(model.tokens());
    List<String> tokens = model.tokens();
    for (int id = 0; id < tokens.size(); id++) {
      vocab.put(tokens.get(id), id);
    }
    for (int i = 0; i < specialTokens.size(); i++) {
      String s = specialTokens.get(i);
      if (learned.contains(s)) {
        throw new IllegalArgumentException("special token '" + s + "' is also a learned token;"
            + " choose a special token that cannot occur as a word, like <|endoftext|>");
      }
      vocab.put(s, tokens.size() + i);
    }
    ArrayNode merges = m.putArray("merges");
    for (String merge : model.mergeStrings()) {
      merges.add(merge);
    }
    return m;
  }
}
