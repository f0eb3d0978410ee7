package flashlm.tests.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.pipeline.hub.DownloadConfig;
import flashlm.pipeline.hub.DownloadManifest;
import flashlm.pipeline.hub.Downloader;
import flashlm.tests.SparkTestSession;
import flashlm.tests.hub.HubServer.Repo;
import flashlm.tests.hub.HubServer.Request;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Two downloads into one destination at the same time (two jobs on one Spark session). */
class ConcurrentDownloadsTest {
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
  @Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void twoDownloadsIntoOneDestinationDoNotBothClaimAFile() throws Exception {
    byte[] bytes = new byte[256 * 1024];
    new Random(11).nextBytes(bytes);
    // 32 writes 60 ms apart: about 2 s, long enough for the second download to arrive
    Repo repo = server.repo("race/one-file").addLfsFile("race.bin", bytes)
        .slow("race.bin", 8 * 1024, 60);
    DownloadConfig cfg = HubFixtures.download(server, repo.id(), List.of("race.bin"),
        dir.toString());
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<DownloadManifest> first = pool.submit(() -> Downloader.run(spark, cfg));
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!server.hasStarted("cdn", "race/one-file/race.bin") && System.nanoTime() < until) {
        Thread.sleep(10);
      }
      Future<DownloadManifest> second = pool.submit(() -> Downloader.run(spark, cfg));
      DownloadManifest a = first.get(90, TimeUnit.SECONDS);
      DownloadManifest b = second.get(90, TimeUnit.SECONDS);

      assertArrayEquals(bytes, Files.readAllBytes(dir.resolve("race.bin")));
      assertEquals(a.files(), b.files());
      List<Request> log = server.requests();
      List<Request> cdn = server.requests("cdn", "race/one-file/race.bin");
      assertEquals(1, cdn.size(), "the second download waited for the first and kept its file: "
          + cdn);
      List<Request> listings = server.requests("hub", "race/one-file/tree");
      assertEquals(2, listings.size());
      assertTrue(log.indexOf(listings.get(1)) < log.indexOf(cdn.get(0)),
          "the second download started while the first was still receiving");
      assertFalse(Files.exists(dir.resolve("_flashlm_partial")), "no parts or locks left");
    } finally {
      pool.shutdownNow();
    }
  }
}
