package flashlm.tests.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.pipeline.hub.DownloadConfig;
import flashlm.pipeline.hub.Downloader;
import flashlm.pipeline.hub.HubException;
import flashlm.tests.S3ProxyServer;
import flashlm.tests.SparkTestSession;
import flashlm.tests.hub.HubServer.Repo;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Downloads to an object store ({@code s3a://}, S3Proxy on loopback): parts are staged on local
 * disk in this user's private folder under {@code java.io.tmpdir}, never through a link, and do
 * not outlive the file.
 */
class StagedPartsTest {
  static HubServer server;
  static SparkSession spark;
  static S3ProxyServer s3;

  @TempDir Path dir;

  @BeforeAll
  static void start() throws Exception {
    server = HubServer.start();
    spark = SparkTestSession.get();
    s3 = S3ProxyServer.shared();
    s3.configure(spark);
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @Test
  void aStagedPartIsRemovedWhenItsFileFails() throws Exception {
    Repo repo = server.repo("staged/fails").addLfsFile("cut.bin", random(200_000, 1))
        .cutOnce("cut.bin", 50_000);
    String dest = s3.uri("staged-fails/raw");
    DownloadConfig noRetry = HubFixtures.download(server, repo.id(), List.of("cut.bin"), dest,
        "max_retries", 0);
    HubException e = assertThrows(HubException.class, () -> Downloader.run(spark, noRetry));
    assertTrue(e.getMessage().contains("gave up after 1 attempts"), e.getMessage());
    String suffix = "-cut.bin." + repo.commit().substring(0, 12) + ".part";
    try (Stream<Path> parts = Files.find(tmpdir(), 3,
        (p, a) -> p.getFileName().toString().endsWith(suffix))) {
      assertEquals(List.of(), parts.toList(), "the part of a failed file is removed");
    }
  }

  @Test
  void stagedPartsGoToAPrivateFolderAndALinkPlantedThereIsNotFollowed() throws Exception {
    byte[] ok = random(30_000, 2);
    Repo repo = server.repo("staged/link").addLfsFile("ok.bin", ok)
        .addLfsFile("victim.bin", random(30_000, 3));
    String dest = s3.uri("staged-link/raw");
    Downloader.run(spark, config(repo, "ok.bin", dest));
    FileSystem fs = FileSystem.get(java.net.URI.create(dest), spark.sparkContext()
        .hadoopConfiguration());
    try (InputStream in = fs.open(new org.apache.hadoop.fs.Path(dest + "/ok.bin"))) {
      assertArrayEquals(ok, in.readAllBytes());
    }
    Path staging = tmpdir().resolve("flashlm-download-" + System.getProperty("user.name")
        .replaceAll("[^A-Za-z0-9._-]", "_"));
    assertEquals("rwx------", PosixFilePermissions.toString(
        Files.getPosixFilePermissions(staging)));
    try (Stream<Path> left = Files.list(staging)) {
      assertEquals(List.of(), left.filter(p -> p.toString().contains("ok.bin")).toList(),
          "nothing left once uploaded");
    }

    Path precious = Files.writeString(dir.resolve("precious.txt"), "do not touch\n");
    Path part = staging.resolve(partName(dest + "/victim.bin", repo.commit(), "victim.bin"));
    Files.createSymbolicLink(part, precious);
    try {
      HubException e = assertThrows(HubException.class,
          () -> Downloader.run(spark, config(repo, "victim.bin", dest)));
      assertTrue(e.getMessage().contains("symbolic link")
          && e.getMessage().contains("file 'victim.bin'"), e.getMessage());
      assertEquals("do not touch\n", Files.readString(precious, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(part);
    }
  }

  private static DownloadConfig config(Repo repo, String pattern, String dest) {
    return HubFixtures.download(server, repo.id(), List.of(pattern), dest);
  }

  /** The staged part's name: a hash of the target and commit, the file name, the commit. */
  private static String partName(String target, String commit, String name) throws Exception {
    byte[] key = MessageDigest.getInstance("SHA-256")
        .digest((target + "\n" + commit).getBytes(StandardCharsets.UTF_8));
    return HexFormat.of().formatHex(key).substring(0, 16) + "-" + name + "."
        + commit.substring(0, 12) + ".part";
  }

  private static Path tmpdir() {
    return Path.of(System.getProperty("java.io.tmpdir"));
  }

  private static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }
}
