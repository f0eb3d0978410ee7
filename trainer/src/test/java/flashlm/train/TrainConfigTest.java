package flashlm.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.config.ConfigException;
import flashlm.config.Configs;
import flashlm.export.ExportConfig;
import flashlm.model.ModelSpec;
import flashlm.model.ParamLayout;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The shipped configs load, and their models have the sizes the issue names. */
class TrainConfigTest {
  private static TrainConfig load(String name, String... overrides) {
    return Configs.load(Path.of("../conf", name), TrainConfig.class, List.of(overrides));
  }

  @Test
  void shippedConfigsLoad() {
    // The shape for v7-main (d768, L12, H12, ffn 2048, vocab 32000, seq 1024) holds
    // 109.5M parameters with the head tied (its "~124M" is GPT-2 small's count).
    TrainConfig main = load("v7-main.json");
    assertEquals(List.of(768, 12, 12, 2048, 32000, 1024), List.of(main.model().dModel(),
        main.model().nLayers(), main.model().nHeads(), main.model().ffnDim(),
        main.model().vocabSize(), main.model().seqLen()));
    assertEquals(109_529_856L, main.model().parameterCount());
    assertEquals(
        35, Math.round(load("v7-ts.json").model().parameterCount() / 1e6), "v7-ts ~33-35M");
    TrainConfig f = load("v7-float.json");
    assertEquals(ModelSpec.Quant.NONE, f.model().quant());
    assertEquals(load("v7-ts.json").model().parameterCount(), f.model().parameterCount());
    TrainConfig v61 = load("v6.1.json");
    assertEquals(TrainConfig.Optimizer.Type.SGD, v61.optimizer().type());
    assertEquals(TrainConfig.Schedule.Type.COSINE, v61.schedule().type());
    assertEquals(100, v61.schedule().warmup());
    assertEquals(256, v61.model().seqLen());
    TrainConfig smoke = load("v7-smoke.json");
    assertEquals(ParamLayout.of(smoke.model()).size(), smoke.model().parameterCount());
    for (String name :
        List.of("v6.1.json", "v7-main.json", "v7-ts.json", "v7-float.json", "v7-smoke.json")) {
      assertEquals(TrainConfig.Backend.NATIVE, load(name).backend(), name);
    }
    ExportConfig e = Configs.load(Path.of("../conf/export.json"), ExportConfig.class, List.of());
    assertTrue(e.checkpoint().startsWith("runs/"));
  }

  @Test
  void badValuesNameTheKey() {
    ConfigException budget = assertThrows(ConfigException.class,
        () -> load("v7-ts.json", "schedule.decay_fraction=1"));
    assertTrue(budget.getMessage().contains("schedule.decay_fraction"), budget.getMessage());
    ConfigException window = assertThrows(ConfigException.class,
        () -> load("v7-ts.json", "data.shuffle_window=0"));
    assertTrue(window.getMessage().contains("data.shuffle_window"), window.getMessage());
    ConfigException duration = assertThrows(ConfigException.class,
        () -> load("v7-ts.json", "time_budget=2 hours"));
    assertTrue(duration.getMessage().contains("time_budget"), duration.getMessage());
    assertEquals(5400_000, load("v7-ts.json", "time_budget=1h30m").timeBudgetDuration().toMillis());
  }

  @Test
  void distributedDefaultsToOneProcessAndReadsWorldSizeAsNumberOrAuto() {
    TrainConfig one = Configs.load(Path.of("../conf/v7-smoke.json"), TrainConfig.class, List.of());
    assertTrue(one.distributed().oneProcess());
    TrainConfig two = Configs.load(Path.of("../conf/v7-smoke.json"), TrainConfig.class,
        List.of("distributed.world_size=2", "distributed.backend=nccl"));
    assertEquals(2, two.distributed().ranks());
    assertEquals(flashlm.dist.CommBackend.NCCL, two.distributed().backend());
    assertTrue(Configs.toJson(two).contains("\"backend\" : \"nccl\""));
    TrainConfig auto = Configs.load(Path.of("../conf/v7-smoke.json"), TrainConfig.class,
        List.of("distributed.world_size=auto"));
    assertEquals(TrainConfig.Distributed.AUTO, auto.distributed().ranks());
    ConfigException bad = assertThrows(ConfigException.class, () -> Configs.load(
        Path.of("../conf/v7-smoke.json"), TrainConfig.class, List.of("distributed.world_size=0")));
    assertTrue(bad.getMessage().contains("distributed.world_size"), bad.getMessage());
  }

  @Test
  void aSetToNullClearsAnOptionalSection() {
    TrainConfig c = Configs.load(Path.of("../conf/v7-ts.json"), TrainConfig.class,
        List.of("time_budget=null", "checkpoint=null"));
    assertEquals(null, c.timeBudget());
    assertEquals(null, c.checkpoint());
  }
}
