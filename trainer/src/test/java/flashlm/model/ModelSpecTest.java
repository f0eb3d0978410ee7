package flashlm.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.config.ConfigException;
import flashlm.config.Configs;
import java.util.List;
import org.junit.jupiter.api.Test;

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

  @Test
  void backwardDxIsInt16UnlessTheConfigSaysFp32() {
    List<String> base = List.of("arch=ffn", "vocab_size=10", "d_model=12", "n_layers=1",
        "ffn_dim=8", "seq_len=4");
    assertEquals(ModelSpec.BackwardDx.INT16,
        Configs.load(null, ModelSpec.class, base).backwardDx());
    List<String> fp32 = new java.util.ArrayList<>(base);
    fp32.add("backward_dx=fp32");
    assertEquals(ModelSpec.BackwardDx.FP32, Configs.load(null, ModelSpec.class, fp32).backwardDx());
    List<String> bad = new java.util.ArrayList<>(base);
    bad.add("backward_dx=int8");
    ConfigException e = assertThrows(ConfigException.class,
        () -> Configs.load(null, ModelSpec.class, bad));
    assertTrue(e.getMessage().contains("model.backward_dx")
        && e.getMessage().contains("'int16' or 'fp32'"), e.getMessage());
  }

  @Test
  void backwardDwIsInt16UnlessTheConfigSaysFp32() {
    List<String> base = List.of("arch=ffn", "vocab_size=10", "d_model=12", "n_layers=1",
        "ffn_dim=8", "seq_len=4");
    assertEquals(ModelSpec.BackwardDw.INT16,
        Configs.load(null, ModelSpec.class, base).backwardDw());
    List<String> fp32 = new java.util.ArrayList<>(base);
    fp32.add("backward_dw=fp32");
    assertEquals(ModelSpec.BackwardDw.FP32, Configs.load(null, ModelSpec.class, fp32).backwardDw());
    List<String> bad = new java.util.ArrayList<>(base);
    bad.add("backward_dw=int8");
    ConfigException e = assertThrows(ConfigException.class,
        () -> Configs.load(null, ModelSpec.class, bad));
    assertTrue(e.getMessage().contains("model.backward_dw")
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
