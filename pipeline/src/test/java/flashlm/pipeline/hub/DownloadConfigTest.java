package flashlm.pipeline.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.config.ConfigException;
import flashlm.config.Configs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DownloadConfigTest {
  @TempDir Path dir;

  @Test
  void bindsSnakeCaseKeysWithDefaults() {
    DownloadConfig c = Configs.load(null, DownloadConfig.class, List.of(
        "repo=HuggingFaceFW/fineweb-edu", "patterns=[sample/10BT/*.parquet]",
        "endpoint=http://127.0.0.1:8080/", "max_retries=2", "verify_existing=true"));
    assertEquals("main", c.revision());
    assertEquals("dataset", c.repoType());
    assertEquals("http://127.0.0.1:8080", c.endpoint(), "trailing slash dropped");
    assertEquals(2, c.maxRetries());
    assertTrue(c.verifyExisting());
    assertEquals(0, c.parallelism());
    assertEquals("hf://datasets/HuggingFaceFW/fineweb-edu", c.source());
  }

  @Test
  void fileDeadlineSecondsDefaultsToSixHoursAndMustBePositive() {
    List<String> base = List.of("repo=a/b", "patterns=[x]");
    assertEquals(21_600, Configs.load(null, DownloadConfig.class, base).fileDeadlineSeconds());
    List<String> set = new java.util.ArrayList<>(base);
    set.add("file_deadline_seconds=30");
    assertEquals(30, Configs.load(null, DownloadConfig.class, set).fileDeadlineSeconds());
    set.set(2, "file_deadline_seconds=0");
    ConfigException e = assertThrows(ConfigException.class,
        () -> Configs.load(null, DownloadConfig.class, set));
    assertTrue(e.getMessage().contains("file_deadline_seconds"), e.getMessage());
    DownloadConfig unset = DownloadConfig.of(Map.of("repo", "a/b", "patterns", List.of("x")));
    assertEquals(21_600, unset.fileDeadlineSeconds());
    DownloadConfig thirty = DownloadConfig.of(Map.of("repo", "a/b", "patterns", List.of("x"),
        "file_deadline_seconds", 30));
    assertEquals(30, thirty.withDest("d").fileDeadlineSeconds(), "kept by withDest");
  }

  @Test
  void aConfigFromKeysBindsLikeAFileAndNamesAnUnknownKey() {
    DownloadConfig c = DownloadConfig.of(Map.of("repo", "a/b", "patterns", List.of("x"),
        "max_retries", 2));
    assertEquals(2, c.maxRetries());
    assertEquals(c, Configs.load(null, DownloadConfig.class,
        List.of("repo=a/b", "patterns=[x]", "max_retries=2")));
    ConfigException e = assertThrows(ConfigException.class, () -> DownloadConfig.of(
        Map.of("repo", "a/b", "patterns", List.of("x"), "max_retry", 2)));
    assertTrue(e.getMessage().contains("max_retry"), e.getMessage());
  }

  @Test
  void aRepoIdWithADotSegmentIsRefused() {
    for (String repo : List.of("owner/..", "owner/.")) {
      assertThrows(ConfigException.class, () -> DownloadConfig.of(repo, null, List.of("x"),
          null), repo);
    }
  }

  @Test
  void rejectsBadValuesNamingTheKey() {
    ConfigException noRepo = assertThrows(ConfigException.class,
        () -> Configs.load(null, DownloadConfig.class, List.of("patterns=[a]")));
    assertTrue(noRepo.getMessage().contains("repo"), noRepo.getMessage());
    ConfigException creds = assertThrows(ConfigException.class, () -> Configs.load(null,
        DownloadConfig.class, List.of("repo=a/b", "patterns=[x]",
            "endpoint=https://user:hf_secret@hub.example")));
    assertFalse(creds.getMessage().contains("hf_secret"), creds.getMessage());
    assertThrows(ConfigException.class, () -> Configs.load(null, DownloadConfig.class,
        List.of("repo=a/b", "patterns=[x]", "unknown_key=1")));
    assertThrows(ConfigException.class, () -> Configs.load(null, DownloadConfig.class,
        List.of("repo=a/b", "patterns=['{a,b']")));
  }

  @Test
  void tokenFileWinsOverTheEnvironmentAndIsNeverShown() throws Exception {
    Path file = Files.writeString(dir.resolve("token"), "hf_fromFile123\n");
    DownloadConfig c = DownloadConfig.of(Map.of("repo", "a/b", "patterns", List.of("x"),
        "token_file", file.toString()));
    HubToken token = HubToken.resolve(c, Map.of("HF_TOKEN", "hf_fromEnv456"));
    assertEquals("Bearer hf_fromFile123", token.bearer());
    assertEquals("HubToken(***)", token.toString());
    assertEquals("Bearer hf_fromEnv456", HubToken.resolve(DownloadConfig.of("a/b", null,
        List.of("x"), null), Map.of("HF_TOKEN", " hf_fromEnv456 ")).bearer());
    assertFalse(HubToken.resolve(DownloadConfig.of("a/b", null, List.of("x"), null), Map.of())
        .present());
  }
}
