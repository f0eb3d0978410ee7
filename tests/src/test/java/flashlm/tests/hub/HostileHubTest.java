package flashlm.tests.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.hub.DownloadConfig;
import flashlm.pipeline.hub.Downloader;
import flashlm.pipeline.hub.HubException;
import flashlm.tests.SparkTestSession;
import flashlm.tests.hub.HubServer.Repo;
import flashlm.tests.hub.HubServer.Request;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Downloader} against a hub that lies: paths that leave the destination, a commit that is
 * not one, endless pagination, redirects to other schemes, a server that ignores {@code Range},
 * one that never finishes, one that echoes the token. Each test is bounded by a timeout, since
 * the failure being guarded against is often a download that never ends.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class HostileHubTest {
  static final String TRAIN = HubFixtures.TINYSTORIES_TRAIN;
  static final int CUT_AT = 1_000_000;

  static HubServer server;
  static SparkSession spark;

  @TempDir Path dir;

  @BeforeAll
  static void start() throws Exception {
    server = HubServer.start();
    spark = SparkTestSession.get();
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @Test
  void downloadRefusesListingPathsThatEscapeTheDestination() throws Exception {
    Path dest = dir.resolve("a/b/raw");
    List<String> hostile = List.of("data/../../../escaped.txt",
        "file:" + dir.resolve("scheme.txt"), dir.resolve("absolute.txt").toString());
    for (int i = 0; i < hostile.size(); i++) {
      String path = hostile.get(i);
      Repo repo = server.repo("evil/escape-" + i)
          .addFile("data/ok.txt", "fine".getBytes(StandardCharsets.UTF_8))
          .addFile(path, "pwned".getBytes(StandardCharsets.UTF_8));
      HubException e = assertThrows(HubException.class,
          () -> Downloader.run(spark, config(repo, List.of("**"), dest)), path);
      assertTrue(e.getMessage().contains("'" + path + "'") && e.getMessage().contains("refus"),
          e.getMessage());
      assertTrue(e.getMessage().contains("evil/escape-" + i), e.getMessage());
    }
    assertFalse(Files.exists(dir.resolve("a/escaped.txt")), "traversal escaped");
    assertFalse(Files.exists(dir.resolve("scheme.txt")), "a scheme replaced the destination");
    assertFalse(Files.exists(dir.resolve("absolute.txt")), "an absolute path replaced it");
    assertFalse(Files.exists(dest.resolve(DatasetPaths.DOWNLOAD_MANIFEST)));
    assertEquals(0, server.requests("hub", "evil/escape-").stream()
        .filter(r -> r.path().contains("/resolve/")).count(), "refused before any file");
  }

  @Test
  void aRevisionThatDoesNotResolveToACommitIdIsRefused() {
    Repo repo = HubFixtures.tinyStories(server, "evil/not-a-commit")
        .answer(HubServer.REVISION_API, ex -> HubServer.respond(ex, 200,
            "{\"id\":\"evil/not-a-commit\",\"sha\":\"../../../etc\"}"));
    HubException e = assertThrows(HubException.class,
        () -> Downloader.run(spark, config(repo, List.of(TRAIN), dir)));
    assertTrue(e.getMessage().contains("'../../../etc', not a commit id"), e.getMessage());
    assertTrue(server.requests("hub", "evil/not-a-commit/tree").isEmpty(), "nothing listed");
  }

  @Test
  void aNextLinkSeenBeforeIsAnErrorNotAnEndlessListing() {
    Repo repo = HubFixtures.tinyStories(server, "evil/endless-listing")
        .answer(HubServer.TREE_API, ex -> {
          ex.getResponseHeaders().set("Link", "<" + server.endpoint() + ex.getRequestURI()
              + ">; rel=\"next\"");
          return HubServer.respond(ex, 200, "[]");
        });
    HubException e = assertThrows(HubException.class,
        () -> Downloader.run(spark, config(repo, List.of(TRAIN), dir)));
    assertTrue(e.getMessage().contains("already read"), e.getMessage());
    assertEquals(1, server.requests("hub", "evil/endless-listing/tree").size());
  }

  @Test
  void redirectsAndNextLinksToAFileUrlAreClearErrors() {
    Repo repo = HubFixtures.tinyStories(server, "evil/file-redirect")
        .answer("README.md", ex -> {
          ex.getResponseHeaders().set("Location", "file:///etc/passwd");
          ex.sendResponseHeaders(302, -1);
          return 302;
        });
    HubException e = assertThrows(HubException.class,
        () -> Downloader.run(spark, config(repo, List.of("README.md"), dir)));
    assertTrue(e.getMessage().contains("file: URL") && e.getMessage().contains("only http and"
        + " https") && e.getMessage().contains("file 'README.md'"), e.getMessage());
    assertEquals(0, e.status());

    Repo listing = HubFixtures.tinyStories(server, "evil/file-next")
        .answer(HubServer.TREE_API, ex -> {
          ex.getResponseHeaders().set("Link", "<file:///etc/passwd>; rel=\"next\"");
          return HubServer.respond(ex, 200, "[]");
        });
    HubException next = assertThrows(HubException.class,
        () -> Downloader.run(spark, config(listing, List.of(TRAIN), dir)));
    assertTrue(next.getMessage().contains("'next' link to a file: URL"), next.getMessage());
  }

  @Test
  void aServerThatIgnoresRangeAndDropsTheConnectionGivesUpAfterMaxRetries() {
    byte[] bytes = new byte[64 * 1024];
    new Random(3).nextBytes(bytes);
    Repo repo = server.repo("evil/ignores-range").addLfsFile("big.bin", bytes)
        .ignoreRangeAndCut("big.bin", 16 * 1024);
    HubException e = assertThrows(HubException.class,
        () -> Downloader.run(spark, config(repo, List.of("big.bin"), dir)));
    assertTrue(e.getMessage().contains("gave up after 4 attempts without progress"),
        e.getMessage());
    List<Request> cdn = server.requests("cdn", "evil/ignores-range/big.bin");
    assertEquals(4, cdn.size(), "max_retries 3: one attempt that grew the part, 3 that did not");
    assertTrue(cdn.stream().allMatch(r -> r.status() == 200 && r.bytesSent() == 16 * 1024));
  }

  @Test
  void aFileThatNeverCompletesFailsAtTheFileDeadline() {
    byte[] bytes = new byte[100 * 1024];
    new Random(5).nextBytes(bytes);
    Repo repo = server.repo("evil/trickle").addLfsFile("slow.bin", bytes)
        .slow("slow.bin", 4 * 1024, 100); // 2.5 s in all, never silent for a read timeout
    DownloadConfig c = config(repo, List.of("slow.bin"), dir);
    DownloadConfig oneSecond = HubFixtures.download(server, c.repo(), c.patterns(), c.dest(),
        "file_deadline_seconds", 1);
    long start = System.nanoTime();
    HubException e = assertThrows(HubException.class, () -> Downloader.run(spark, oneSecond));
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertTrue(e.getMessage().contains("not complete within file_deadline_seconds (1 s)")
        && e.getMessage().contains("file 'slow.bin'"), e.getMessage());
    assertTrue(ms < 2_400, "stopped at the deadline, not at the end of the file: " + ms + " ms");
    assertFalse(Files.exists(dir.resolve("slow.bin")));
  }

  @Test
  void aTokenEchoedByAn401StaysOutOfTheMessage() throws Exception {
    Repo repo = HubFixtures.tinyStories(server, "evil/echo").requireToken("hf_theRightOne1")
        .echoAuthorization();
    for (String secret : List.of("hf_wrongButSecret42", "plainSecretNotShapedLikeHf-77")) {
      Path tokenFile = Files.writeString(dir.resolve("token"), secret + "\n");
      DownloadConfig c = config(repo, List.of(TRAIN), dir);
      DownloadConfig withToken = HubFixtures.download(server, c.repo(), c.patterns(), c.dest(),
          "token_file", tokenFile.toString());
      HubException e = assertThrows(HubException.class,
          () -> Downloader.run(spark, withToken));
      assertEquals(401, e.status());
      assertFalse(e.getMessage().contains(secret), e.getMessage());
      assertTrue(e.getMessage().contains("Invalid credentials in Bearer ***")
          || e.getMessage().contains("Invalid credentials in Bearer hf_***"), e.getMessage());
    }
  }

  @Test
  void aResumedRequestCarriesIfRangeWithTheETagOfTheFirstResponse() throws Exception {
    Repo repo = HubFixtures.tinyStories(server, "evil/if-range").cutOnce(TRAIN, CUT_AT);
    Downloader.run(spark, config(repo, List.of(TRAIN), dir));

    assertArrayEquals(repo.file(TRAIN).bytes(), Files.readAllBytes(dir.resolve(TRAIN)));
    List<Request> cdn = server.requests("cdn", "evil/if-range/" + TRAIN);
    assertEquals(2, cdn.size(), cdn.toString());
    assertNull(cdn.get(0).ifRange(), "a first request has nothing to compare with");
    assertEquals("bytes=" + CUT_AT + "-", cdn.get(1).range());
    assertEquals("\"" + repo.file(TRAIN).sha256() + "\"", cdn.get(1).ifRange());
    assertEquals(206, cdn.get(1).status());
  }

  /** Fast retries (3), short timeouts, the loopback hub, no token file. */
  static DownloadConfig config(Repo repo, List<String> patterns, Path dest) {
    return HubFixtures.download(server, repo.id(), patterns, dest.toString());
  }
}
