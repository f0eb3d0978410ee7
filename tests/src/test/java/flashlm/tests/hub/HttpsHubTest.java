package flashlm.tests.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.pipeline.hub.DownloadConfig;
import flashlm.pipeline.hub.Downloader;
import flashlm.pipeline.hub.HubException;
import flashlm.tests.SparkTestSession;
import flashlm.tests.hub.HubServer.Repo;
import flashlm.tests.hub.HubServer.Request;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The scheme rules: the token over https only, no silent https-to-http downgrade. */
class HttpsHubTest {
  static final String REPO = "tls/downgrade";
  static SparkSession spark;

  @TempDir Path dir;

  @BeforeAll
  static void start() {
    spark = SparkTestSession.get();
  }

  @Test
  void aRedirectFromHttpsDownToHttpIsRefusedForAFileTheListingGivesNoSha256() throws Exception {
    String token = "hf_overTlsOnly123";
    Path tokenFile = Files.writeString(dir.resolve("token"), token + "\n");
    try (LoopbackTls tls = LoopbackTls.create(dir).trustInThisJvm();
        HubServer hub = HubServer.startTls(tls.server())) {
      Repo repo = HubFixtures.tinyStories(hub, REPO).requireToken(token)
          .answer("README.md", ex -> {
            ex.getResponseHeaders().set("Location", hub.cdnUrl(REPO, "README.md"));
            ex.sendResponseHeaders(302, -1);
            return 302;
          });
      HubException e = assertThrows(HubException.class, () -> Downloader.run(spark,
          config(hub, List.of("README.md"), dir.resolve("readme"), tokenFile)));
      assertTrue(e.getMessage().contains("from https down to plain http")
          && e.getMessage().contains("no sha256") && e.getMessage().contains("'README.md'"),
          e.getMessage());
      assertTrue(hub.requests("cdn", "README.md").isEmpty(), "nothing fetched over http");

      // An LFS file's bytes are checked against the listing's sha256: its CDN may be plain http.
      Path raw = dir.resolve("raw");
      Downloader.run(spark, config(hub, List.of(HubFixtures.TINYSTORIES_VALID), raw, tokenFile));
      assertArrayEquals(repo.file(HubFixtures.TINYSTORIES_VALID).bytes(),
          Files.readAllBytes(raw.resolve(HubFixtures.TINYSTORIES_VALID)));
      List<Request> toHub = hub.requests("hub", REPO);
      assertFalse(toHub.isEmpty());
      assertTrue(toHub.stream().allMatch(r -> ("Bearer " + token).equals(r.authorization())));
      assertTrue(hub.requests("cdn", REPO).stream().allMatch(r -> r.authorization() == null));
    }
  }

  @Test
  void theTokenIsRefusedOverPlainHttpToAHostThatIsNotLoopback() throws Exception {
    Path tokenFile = Files.writeString(dir.resolve("token"), "hf_neverInClear99\n");
    DownloadConfig cfg = DownloadConfig.of(Map.of("repo", "someone/data", "revision", "main",
        "patterns", List.of("*.txt"), "endpoint", "http://hub.example.invalid", "dest",
        dir.toString(), "max_retries", 1, "timeout_seconds", 2, "retry_backoff_ms", 10,
        "token_file", tokenFile.toString()));
    HubException e = assertThrows(HubException.class, () -> Downloader.run(spark, cfg));
    assertTrue(e.getMessage().contains("refusing to send the hub token")
        && e.getMessage().contains("plain http to http://hub.example.invalid"), e.getMessage());
    assertFalse(e.getMessage().contains("hf_neverInClear99"));
  }

  private static DownloadConfig config(HubServer hub, List<String> patterns, Path dest,
      Path tokenFile) {
    return HubFixtures.download(hub, REPO, patterns, dest.toString(), "token_file",
        tokenFile.toString());
  }
}
