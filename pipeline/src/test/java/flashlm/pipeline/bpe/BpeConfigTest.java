package flashlm.pipeline.bpe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import flashlm.config.ConfigException;
import flashlm.config.Configs;
import java.util.List;
import org.junit.jupiter.api.Test;

class BpeConfigTest {
  @Test
  void defaultsAreFlashLmV61() {
    BpeConfig c = BpeConfig.defaults();
    assertEquals(1024, c.vocabSize());
    assertEquals(List.of("<|endoftext|>"), c.specialTokens());
    assertEquals(2L, c.minFrequency());
    assertEquals(1_000_000, c.maxWords());
    assertEquals(1.0, c.sampleFraction());
    assertEquals(1024 - 256 - 1, c.learnedTokens());
  }

  @Test
  void readsSnakeCaseKeys() {
    ObjectNode tree = Configs.json().createObjectNode();
    tree.put("vocab_size", 512).put("min_frequency", 3).put("max_words", 10);
    tree.putArray("special_tokens").add("<|endoftext|>").add("<|pad|>");
    BpeConfig c = Configs.bind(tree, BpeConfig.class, "test");
    assertEquals(512, c.vocabSize());
    assertEquals(List.of("<|endoftext|>", "<|pad|>"), c.specialTokens());
    assertEquals(512 - 258, c.learnedTokens());
  }

  @Test
  void vocabularySmallerThanBytesPlusSpecialsIsAClearError() {
    ConfigException e = assertThrows(ConfigException.class, () -> BpeConfig.ofVocabSize(256));
    assertTrue(e.getMessage().contains("'vocab_size'"), e.getMessage());
    assertTrue(e.getMessage().contains("at least 257"), e.getMessage());
    assertEquals(257, BpeConfig.ofVocabSize(257).vocabSize());
  }

  @Test
  void badValuesNameTheirKey() {
    ObjectNode tree = Configs.json().createObjectNode().put("sample_fraction", 1.5);
    ConfigException e = assertThrows(ConfigException.class,
        () -> Configs.bind(tree, BpeConfig.class, "test"));
    assertTrue(e.getMessage().contains("sample_fraction"), e.getMessage());
    ObjectNode unknown = Configs.json().createObjectNode().put("vocab", 5);
    assertThrows(ConfigException.class, () -> Configs.bind(unknown, BpeConfig.class, "test"));
    assertThrows(ConfigException.class,
        () -> new BpeConfig(null, List.of("<s>", "<s>"), null, null, null, null));
  }
}
