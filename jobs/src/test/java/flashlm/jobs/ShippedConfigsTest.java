package flashlm.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.config.Configs;
import flashlm.train.TrainConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The shipped configs work together: each model config trains on the table its data set's
 * {@code prepare} writes, at the sequence length and vocabulary that table has.
 */
class ShippedConfigsTest {
  @BeforeAll
  static void home() {
    System.setProperty("FLASHLM_HOME", Path.of("..").toAbsolutePath().normalize().toString());
  }

  @AfterAll
  static void clear() {
    System.clearProperty("FLASHLM_HOME");
  }

  @ParameterizedTest
  @CsvSource({
      "v7-ts.json, tinystories.yaml, 32000",
      "v7-float.json, tinystories.yaml, 32000",
      "v6.1.json, tinystories-bpe1024.yaml, 1024",
      "v7-main.json, fineweb-edu.yaml, 32000"})
  void aModelConfigReadsTheTableItsDataSetsPrepareWrites(String model, String dataset,
      int vocabulary) {
    TrainConfig train = Configs.load(Path.of("../conf", model), TrainConfig.class, List.of());
    DatasetConfig data = Configs.load(Path.of("../conf/datasets", dataset), DatasetConfig.class,
        List.of());
    assertEquals(data.paths().sequences(),
        Path.of(train.data().table()).toAbsolutePath().normalize().toString());
    assertEquals(data.tokenize().seqLen(), train.model().seqLen());
    if (data.tokenizerTraining() != null) {
      assertEquals(vocabulary, data.tokenizerTraining().vocabSize());
    } else { // the shipped LLaMA-2 tokenizer, 32,000 tokens
      assertTrue(data.tokenize().tokenizer().endsWith("/conf/tokenizers/llama2/tokenizer.json"),
          data.tokenize().tokenizer());
      assertEquals(32000, vocabulary);
    }
    assertEquals(vocabulary, train.model().vocabSize());
  }
}
