package flashlm.tests.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import flashlm.config.Configs;
import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.hub.DownloadConfig;
import flashlm.pipeline.hub.DownloadManifest;
import flashlm.pipeline.hub.Downloader;
import flashlm.pipeline.hub.HubException;
import flashlm.tests.SparkTestSession;
import flashlm.tests.hub.HubServer.Repo;
import flashlm.tests.hub.HubServer.Request;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Downloader} against {@link HubServer}: listing, resume, verification, faults. */
class DownloaderTest {
  static final String TRAIN = HubFixtures.TINYSTORIES_TRAIN;
  static final String VALID = HubFixtures.TINYSTORIES_VALID;
  static final List<String> TINY_PATTERNS = List.of(HubFixtures.TINYSTORIES_PATTERN);
  /** Where {@link #resumesWithRangeAfterACutMidFile} cuts the train file. */
  static final int CUT_AT = 1_000_000;

  static HubServer server;
  static SparkSession spark;
  static byte[] train;
  static byte[] valid;

  @TempDir Path dir;

  @BeforeAll
  static void start() throws Exception {
    server = HubServer.start();
    spark = SparkTestSession.get();
    train = HubFixtures.resource("tinystories/tinystories_train_prefix_2MiB.txt");
    valid = HubFixtures.resource("tinystories/tinystories_validation_head_794KB.txt");
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @Test
  void downloadsTheMatchingFilesVerifiedAndWritesTheManifest() throws Exception {
    Repo repo = tinyStories("roneneldan/TinyStories-happy");
    DownloadManifest m = Downloader.run(spark, config(repo, List.of(TINY_PATTERNS.get(0),
        "README.md"), dir));

    assertEquals(repo.commit(), m.resolvedCommit());
    assertEquals("hf://datasets/roneneldan/TinyStories-happy", m.source());
    assertEquals(List.of("README.md", TRAIN, VALID),
        m.files().stream().map(DownloadManifest.File::path).toList());
    for (DownloadManifest.File f : m.files()) {
      HubFixtureFile served = repo.file(f.path());
      assertArrayEquals(served.bytes(), Files.readAllBytes(dir.resolve(f.path())), f.path());
      assertEquals(served.sha256(), f.sha256(), f.path());
      assertEquals(served.bytes().length, f.size(), f.path());
      assertEquals(served.gitOid(), f.oid(), f.path());
      assertTrue(f.sha256Verified(), f.path());
      assertTrue(f.location().startsWith("file:/") && f.location().endsWith("/" + f.path()));
    }
    assertEquals(DownloadManifest.VERIFIED_BY_GIT_SHA1, m.files().get(0).verifiedBy());
    assertEquals(DownloadManifest.VERIFIED_BY_LFS_SHA256, m.files().get(1).verifiedBy());
    assertFalse(Files.exists(dir.resolve("TinyStories-train.txt")), "not matched, not fetched");

    // The manifest on disk: snake_case keys, equal to the one returned.
    Path manifest = dir.resolve(DatasetPaths.DOWNLOAD_MANIFEST);
    JsonNode json = new ObjectMapper().readTree(manifest.toFile());
    assertEquals(repo.commit(), json.path("resolved_commit").asText());
    assertTrue(json.path("files").get(1).path("sha256_verified").asBoolean());
    assertEquals(m, Configs.json().readValue(manifest.toFile(), DownloadManifest.class));
    try (Stream<Path> all = Files.walk(dir)) {
      assertEquals(Stream.of(".", DatasetPaths.DOWNLOAD_MANIFEST, "README.md", TRAIN, VALID)
              .sorted().toList(),
          all.map(p -> dir.relativize(p).toString()).map(p -> p.isEmpty() ? "." : p).sorted()
              .toList(), "no parts, temporaries or .crc files left");
    }
    // 7 tree entries (6 files, 1 folder), 3 a page: the client followed the Link header twice.
    assertEquals(3, server.requests("hub", "roneneldan/TinyStories-happy/tree/").size());
    // LFS files come from the CDN, the git file from the hub itself.
    assertEquals(1, server.requests("cdn", "TinyStories-happy/" + TRAIN).size());
    assertEquals(0, server.requests("cdn", "README.md").size());
  }

  @Test
  void listsOnlyThePatternsFolderAndKeepsTheRepoLayout() throws Exception {
    Random random = new Random(7);
    Repo repo = server.repo("HuggingFaceFW/fineweb-edu-nested");
    for (String p : List.of("sample/10BT/000_00000.parquet", "sample/10BT/001_00000.parquet",
        "sample/100BT/000_00000.parquet", "data/CC-MAIN-2024-10/000_00000.parquet")) {
      byte[] bytes = new byte[20_000 + random.nextInt(5000)];
      random.nextBytes(bytes);
      repo.addLfsFile(p, bytes);
    }
    repo.addFile("sample/10BT/_empty.parquet", new byte[0]);
    // parallelism 1: one task fetches the files one after another
    DownloadConfig cfg = HubFixtures.download(server, repo.id(),
        List.of("sample/10BT/*.parquet"), dir.toString(), "parallelism", 1);
    DownloadManifest m = Downloader.run(spark, cfg);

    assertEquals(List.of("sample/10BT/000_00000.parquet", "sample/10BT/001_00000.parquet",
        "sample/10BT/_empty.parquet"),
        m.files().stream().map(DownloadManifest.File::path).toList());
    assertEquals(0L, m.files().get(2).size());
    assertTrue(m.files().get(2).sha256Verified(), "an empty blob has a git id too");
    for (DownloadManifest.File f : m.files()) {
      assertArrayEquals(repo.file(f.path()).bytes(), Files.readAllBytes(dir.resolve(f.path())));
    }
    List<Request> tree = server.requests("hub", "fineweb-edu-nested/tree/");
    assertEquals(1, tree.size());
    assertTrue(tree.get(0).path().endsWith("/tree/" + repo.commit() + "/sample/10BT"),
        tree.get(0).path());
  }

  @Test
  void resumesWithRangeAfterACutMidFile() throws Exception {
    Repo repo = tinyStories("roneneldan/TinyStories-cut").cutOnce(TRAIN, CUT_AT);
    DownloadManifest m = Downloader.run(spark, config(repo, TINY_PATTERNS, dir));

    assertArrayEquals(train, Files.readAllBytes(dir.resolve(TRAIN)));
    assertTrue(m.files().get(0).sha256Verified());
    List<Request> cdn = server.requests("cdn", "TinyStories-cut/" + TRAIN);
    assertEquals(2, cdn.size(), cdn.toString());
    assertNull(cdn.get(0).range());
    assertEquals(CUT_AT, cdn.get(0).bytesSent(), "the first response stops at the cut");
    assertEquals("bytes=" + CUT_AT + "-", cdn.get(1).range());
    assertEquals(206, cdn.get(1).status());
    assertEquals(train.length - CUT_AT, cdn.get(1).bytesSent(), "only the remainder again");
  }

  @Test
  void resumesThePartAnEarlierRunLeft() throws Exception {
    Repo repo = tinyStories("roneneldan/TinyStories-part");
    int have = 300_000;
    Path part = dir.resolve("_flashlm_partial")
        .resolve(VALID + "." + repo.commit().substring(0, 12) + ".part");
    Files.createDirectories(part.getParent());
    Files.write(part, java.util.Arrays.copyOf(valid, have));

    Downloader.run(spark, config(repo, List.of(VALID), dir));

    assertArrayEquals(valid, Files.readAllBytes(dir.resolve(VALID)));
    List<Request> cdn = server.requests("cdn", "TinyStories-part/" + VALID);
    assertEquals(1, cdn.size());
    assertEquals("bytes=" + have + "-", cdn.get(0).range());
    assertEquals(valid.length - have, cdn.get(0).bytesSent());
    assertFalse(Files.exists(dir.resolve("_flashlm_partial")), "parts are cleaned up");
  }

  @Test
  void aSha256MismatchFailsAndLeavesNoFile() {
    Repo repo = tinyStories("roneneldan/TinyStories-corrupt").wrongContent(VALID);
    HubException e = assertThrows(HubException.class,
        () -> Downloader.run(spark, config(repo, TINY_PATTERNS, dir)));

    String msg = e.getMessage();
    assertTrue(msg.contains("roneneldan/TinyStories-corrupt") && msg.contains("file '" + VALID
        + "'") && msg.contains("mismatch") && msg.contains(repo.file(VALID).sha256()), msg);
    assertFalse(Files.exists(dir.resolve(VALID)), "no unverified file at the final path");
    assertFalse(Files.exists(dir.resolve(DatasetPaths.DOWNLOAD_MANIFEST)), "no manifest");
    assertArrayEquals(train, readOrEmpty(dir.resolve(TRAIN)), "the good file is in place");
  }

  @Test
  void a404NamesTheRepoRevisionAndFile() {
    Repo repo = tinyStories("roneneldan/TinyStories-404").fail(VALID, 404, 1000, null);
    HubException e = assertThrows(HubException.class,
        () -> Downloader.run(spark, config(repo, TINY_PATTERNS, dir)));
    assertEquals(404, e.status());
    String msg = e.getMessage();
    assertTrue(msg.contains("'roneneldan/TinyStories-404'") && msg.contains("revision 'main'")
        && msg.contains("file '" + VALID + "'") && msg.contains("HTTP 404"), msg);
    assertEquals(1, server.requests("hub", "TinyStories-404/resolve/").stream()
        .filter(r -> r.path().endsWith(VALID)).count(), "a 404 is not retried");

    HubException none = assertThrows(HubException.class, () -> Downloader.run(spark,
        config(repo, List.of("*.parquet"), dir)));
    assertTrue(none.getMessage().contains("no file matches [*.parquet]"), none.getMessage());
  }

  @Test
  void retries429And503AndHonoursRetryAfter() throws Exception {
    Repo repo = tinyStories("roneneldan/TinyStories-busy")
        .fail(TRAIN, 429, 1, "1")
        .fail(VALID, 503, 2, null)
        .fail(HubServer.REVISION_API, 503, 1, null);
    long start = System.nanoTime();
    DownloadManifest m = Downloader.run(spark, config(repo, TINY_PATTERNS, dir));
    long elapsedMs = (System.nanoTime() - start) / 1_000_000;

    assertEquals(2, m.files().size());
    assertArrayEquals(train, Files.readAllBytes(dir.resolve(TRAIN)));
    assertArrayEquals(valid, Files.readAllBytes(dir.resolve(VALID)));
    assertEquals(List.of(429, 302), statuses("TinyStories-busy/resolve/", TRAIN));
    assertEquals(List.of(503, 503, 302), statuses("TinyStories-busy/resolve/", VALID));
    assertEquals(List.of(503, 200), statuses("TinyStories-busy/revision/", "main"));
    assertTrue(elapsedMs >= 1000, "Retry-After: 1 was honoured (" + elapsedMs + " ms)");

    Repo down = tinyStories("roneneldan/TinyStories-down").fail(VALID, 503, 1000, null);
    HubException e = assertThrows(HubException.class,
        () -> Downloader.run(spark, config(down, List.of(VALID), dir.resolve("down"))));
    assertTrue(e.getMessage().contains("file '" + VALID + "'")
        && e.getMessage().contains("gave up after 4 attempts") && e.getMessage().contains("503"),
        e.getMessage());
  }

  @Test
  void aRerunDownloadsNothing() throws Exception {
    Repo repo = tinyStories("roneneldan/TinyStories-rerun");
    DownloadConfig cfg = config(repo, TINY_PATTERNS, dir);
    DownloadManifest first = Downloader.run(spark, cfg);

    server.clearRequests();
    DownloadManifest second = Downloader.run(spark, cfg);
    assertEquals(first.files(), second.files());
    assertEquals(0, server.requests("hub", "/resolve/").size());
    assertEquals(0, server.requests("cdn", "/").size());

    // Without the manifest the files are hashed, found equal and kept.
    Files.delete(dir.resolve(DatasetPaths.DOWNLOAD_MANIFEST));
    DownloadManifest third = Downloader.run(spark, cfg);
    assertEquals(first.files(), third.files());
    assertEquals(0, server.requests("hub", "/resolve/").size());

    // verify_existing hashes files the manifest vouches for, and fetches a damaged one again.
    byte[] damaged = valid.clone();
    damaged[10] ^= 1;
    Files.write(dir.resolve(VALID), damaged);
    DownloadConfig verify = HubFixtures.download(server, cfg.repo(), cfg.patterns(), cfg.dest(),
        "verify_existing", true);
    Downloader.run(spark, verify);
    assertArrayEquals(valid, Files.readAllBytes(dir.resolve(VALID)));
    assertEquals(List.of(302), statuses("TinyStories-rerun/resolve/", VALID));
    assertEquals(List.of(), statuses("TinyStories-rerun/resolve/", TRAIN));
  }

  @Test
  void downloadsOfOneCommitIntoOneFolderAccumulateInTheManifest() throws Exception {
    Repo repo = tinyStories("roneneldan/TinyStories-twice");
    Downloader.run(spark, config(repo, List.of(VALID), dir));
    DownloadManifest m = Downloader.run(spark, config(repo, List.of(TRAIN), dir));
    assertEquals(List.of(TRAIN, VALID), m.files().stream().map(DownloadManifest.File::path)
        .toList());
    assertEquals(List.of(VALID, TRAIN), m.patterns());
    assertEquals(1, server.requests("cdn", "TinyStories-twice/" + VALID).size());
  }

  @Test
  void theTokenGoesToTheHubOnlyAndIsNeverWritten() throws Exception {
    String token = "hf_fixtureTokenDoNotLeak42";
    Repo repo = tinyStories("someone/private-stories").requireToken(token);
    Path wrong = Files.writeString(dir.resolve("wrong-token"), "hf_wrongTokenAlsoSecret7\n");
    Path right = Files.writeString(dir.resolve("token"), token + "\n");
    Path dest = dir.resolve("raw");

    if (System.getenv("HF_TOKEN") == null) {
      HubException anonymous = assertThrows(HubException.class,
          () -> Downloader.run(spark, config(repo, TINY_PATTERNS, dest)));
      assertEquals(401, anonymous.status());
    }
    HubException denied = assertThrows(HubException.class,
        () -> Downloader.run(spark, withToken(config(repo, TINY_PATTERNS, dest), wrong)));
    assertEquals(401, denied.status());
    assertTrue(denied.getMessage().contains("someone/private-stories")
        && denied.getMessage().contains("HF_TOKEN"), denied.getMessage());
    assertFalse(denied.getMessage().contains("hf_wrongTokenAlsoSecret7"));

    String stderr = captureStderr(() -> Downloader.run(spark,
        withToken(config(repo, TINY_PATTERNS, dest), right)));
    assertArrayEquals(train, Files.readAllBytes(dest.resolve(TRAIN)));
    List<Request> hub = server.requests("hub", "private-stories");
    List<Request> cdn = server.requests("cdn", "private-stories");
    assertFalse(cdn.isEmpty());
    assertTrue(hub.stream().filter(r -> r.status() != 401)
        .allMatch(r -> ("Bearer " + token).equals(r.authorization())), hub.toString());
    assertTrue(cdn.stream().allMatch(r -> r.authorization() == null), "no token to the CDN");
    String manifest = Files.readString(dest.resolve(DatasetPaths.DOWNLOAD_MANIFEST));
    assertFalse(manifest.contains(token), manifest);
    assertTrue(stderr.contains("[download]"), stderr);
    assertFalse(stderr.contains(token), stderr);
    assertFalse(withToken(config(repo, TINY_PATTERNS, dest), right).toString().contains(token));
  }

  // ---- helpers

  private static Repo tinyStories(String id) {
    return HubFixtures.tinyStories(server, id);
  }

  /** Fast retries, short timeouts, the loopback hub, no token file. */
  private static DownloadConfig config(Repo repo, List<String> patterns, Path dest) {
    return HubFixtures.download(server, repo.id(), patterns, dest.toString());
  }

  private static DownloadConfig withToken(DownloadConfig c, Path tokenFile) {
    return HubFixtures.download(server, c.repo(), c.patterns(), c.dest(), "token_file",
        tokenFile.toString());
  }

  /** Statuses of the hub requests whose path contains {@code part} and ends with {@code end}. */
  private static List<Integer> statuses(String part, String end) {
    return server.requests("hub", part).stream().filter(r -> r.path().endsWith(end))
        .map(Request::status).toList();
  }

  private static String captureStderr(ThrowingRunnable body) throws Exception {
    java.io.PrintStream original = System.err;
    java.io.ByteArrayOutputStream copy = new java.io.ByteArrayOutputStream();
    System.setErr(new java.io.PrintStream(new TeeStream(original, copy), true,
        StandardCharsets.UTF_8));
    try {
      body.run();
    } finally {
      System.setErr(original);
    }
    return copy.toString(StandardCharsets.UTF_8);
  }

  private static byte[] readOrEmpty(Path p) {
    try {
      return Files.readAllBytes(p);
    } catch (IOException e) {
      return new byte[0];
    }
  }

  @FunctionalInterface
  interface ThrowingRunnable {
    void run() throws Exception;
  }

  /** Writes to two streams. */
  private static final class TeeStream extends java.io.OutputStream {
    private final java.io.OutputStream a;
    private final java.io.OutputStream b;

    TeeStream(java.io.OutputStream a, java.io.OutputStream b) {
      this.a = a;
      this.b = b;
    }

    @Override
    public synchronized void write(int c) throws IOException {
      a.write(c);
      b.write(c);
    }

    @Override
    public synchronized void write(byte[] bytes, int off, int len) throws IOException {
      a.write(bytes, off, len);
      b.write(bytes, off, len);
    }
  }
}
