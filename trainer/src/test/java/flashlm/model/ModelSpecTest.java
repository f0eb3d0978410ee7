package flashlm.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.config.ConfigException;
import flashlm.config.Configs;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ModelSpecTest {
  @Test
  void modelSpecValidatesHeads() {
    ConfigException e = assertThrows(ConfigException.class, () -> Configs.load(null,
        ModelSpec.class, List.of("arch=transformer", "vocab_size=10", "d_model=12",
            "n_layers=1", "n_heads=5", "ffn_dim=8", "seq_len=4")));
    assertTrue(e.getMessage().contains("model.n_heads"), e.getMessage());
  }

  @Test
  void modelSpecCountsV7MainParameters() {
    ModelSpec s = Configs.load(null, ModelSpec.class, List.of("arch=transformer",
        "vocab_size=32000", "d_model=768", "n_layers=12", "n_heads=12", "ffn_dim=2048",
        "seq_len=1024"));
    // 24.6M tied embedding + 12 x (4 x 768^2 + 3 x 768 x 2048 + 2 x 768) + 768
    assertEquals(109_529_856L, s.parameterCount());
  }

  @Test
  void anUnknownArchOrQuantIsAnErrorListingTheKnownOnes() {
    ConfigException arch = assertThrows(ConfigException.class, () -> Configs.load(null,
        ModelSpec.class, List.of("arch=transformr", "vocab_size=10", "d_model=12",
            "n_layers=1", "n_heads=2", "ffn_dim=8", "seq_len=4")));
    assertTrue(arch.getMessage().contains("model.arch")
        && arch.getMessage().contains("'transformer' or 'ffn'"), arch.getMessage());
    ConfigException quant = assertThrows(ConfigException.class, () -> Configs.load(null,
        ModelSpec.class, List.of("arch=ffn", "vocab_size=10", "d_model=12", "n_layers=1",
            "ffn_dim=8", "seq_len=4", "quant=binary")));
    assertTrue(quant.getMessage().contains("'ternary' or 'none'"), quant.getMessage());
  }

  /** The id of backward_dx or backward_dw in the spec loaded from these settings. */
  private static String backward(String key, List<String> settings) {
    ModelSpec s = Configs.load(null, ModelSpec.class, settings);
    return (key.equals("backward_dx") ? s.backwardDx() : s.backwardDw()).id();
  }

  @ParameterizedTest
  @ValueSource(strings = {"backward_dx", "backward_dw"})
  void backwardProductsAreInt16UnlessTheConfigSaysFp32(String key) {
    List<String> base = List.of("arch=ffn", "vocab_size=10", "d_model=12", "n_layers=1",
        "ffn_dim=8", "seq_len=4");
    assertEquals("int16", backward(key, base));
    List<String> fp32 = new java.util.ArrayList<>(base);
    fp32.add(key + "=fp32");
    assertEquals("fp32", backward(key, fp32));
    List<String> bad = new java.util.ArrayList<>(base);
    bad.add(key + "=int8");
    ConfigException e = assertThrows(ConfigException.class, () -> backward(key, bad));
    assertTrue(e.getMessage().contains("model." + key)
        && e.getMessage().contains("'int16' or 'fp32'"), e.getMessage());
  }

  @Test
  void archAndQuantRoundTripThroughJsonByTheirConfigNames() throws Exception {
    ModelSpec s = Configs.load(null, ModelSpec.class, List.of("arch=ffn", "vocab_size=10",
        "d_model=12", "n_layers=1", "ffn_dim=8", "seq_len=4", "quant=none"));
    String json = Configs.toJson(s);
    assertTrue(json.contains("\"arch\" : \"ffn\"") && json.contains("\"quant\" : \"none\""),
        json);
    assertEquals(s, Configs.bind(Configs.json().readTree(json), ModelSpec.class, "json"));
  }
}
