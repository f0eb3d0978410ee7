package flashlm.jobs;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.config.ConfigException;
import flashlm.config.Configs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetConfigTest {
  @TempDir Path dir;

  /**
   * {@code ingest.source} is copied into both tables' manifests (Delta history, kept for good):
   * {@code ${HF_TOKEN}} there is refused when the config is read, before Spark starts.
   */
  @Test
  void hfTokenInAValueThatLandsInAManifestIsRefused() throws Exception {
    String secret = "hf_" + "NotARealTokenButLongEnough0123456";
    String sample = Files.readString(Path.of("../conf/datasets/sample.yaml"));
    assertTrue(sample.contains("source: roneneldan/TinyStories"), "the fixture line is there");
    Path conf = dir.resolve("leaky.yaml");
    Files.writeString(conf, sample.replace("source: roneneldan/TinyStories",
        "source: \"roneneldan/TinyStories?t=${HF_TOKEN}\""));
    System.setProperty("HF_TOKEN", secret);
    System.setProperty("FLASHLM_HOME", Path.of("..").toAbsolutePath().normalize().toString());
    try {
      ConfigException e = assertThrows(ConfigException.class,
          () -> Configs.load(conf, DatasetConfig.class, List.of()));
      assertTrue(e.getMessage().contains(conf.toString())
          && e.getMessage().contains("key 'ingest.source' uses ${HF_TOKEN}"), e.getMessage());
      assertFalse(e.getMessage().contains(secret), e.getMessage());
    } finally {
      System.clearProperty("HF_TOKEN");
      System.clearProperty("FLASHLM_HOME");
    }
  }
}
