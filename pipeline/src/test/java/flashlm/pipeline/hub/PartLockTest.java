package flashlm.pipeline.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.fs.HadoopFiles;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PartLockTest {
  static final long MS = 1_000_000L;
  @TempDir Path dir;

  @Test
  void aSecondClaimInTheSameJvmWaitsUntilTheFirstIsReleased() throws Exception {
    Path file = dir.resolve("a.part.lock");
    PartLock first = new PartLock.Local(file);
    assertTrue(first.acquire(System.nanoTime(), () -> { }));
    PartLock second = new PartLock.Local(file);
    boolean[] told = {false};
    assertFalse(second.acquire(System.nanoTime() + 300 * MS, () -> told[0] = true));
    assertTrue(told[0], "the waiter says it waits");

    CompletableFuture<Boolean> waiting = CompletableFuture.supplyAsync(() -> {
      try {
        return new PartLock.Local(file).acquire(System.nanoTime() + 30_000 * MS, () -> { });
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    Thread.sleep(300);
    assertFalse(waiting.isDone(), "still held");
    first.close();
    assertTrue(waiting.get(30, TimeUnit.SECONDS), "acquired once released");
  }

  @Test
  void aLockHeldByAnotherProcessMakesTheClaimWait() throws Exception {
    Path file = dir.resolve("b.part.lock");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process child = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
        LockHolder.class.getName(), file.toString())).redirectErrorStream(true).start();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
          StandardCharsets.UTF_8));
      assertEquals("locked", out.readLine());
      PartLock claim = new PartLock.Local(file);
      assertFalse(claim.acquire(System.nanoTime() + 500 * MS, () -> { }));
      child.getOutputStream().close(); // the holder exits, and with it its lock
      assertTrue(claim.acquire(System.nanoTime() + 30_000 * MS, () -> { }));
      claim.close();
      assertFalse(Files.exists(file), "the lock file goes with the lock");
    } finally {
      child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void anExclusiveLockFileIsRefusedUntilReleasedOrStale() throws Exception {
    org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(dir.resolve("c.lock").toUri());
    FileSystem fs = HadoopFiles.fileSystem(new Configuration(), file);
    PartLock first = new PartLock.Exclusive(fs, file, 60_000);
    assertTrue(first.acquire(System.nanoTime(), () -> { }));
    assertTrue(Files.readString(dir.resolve("c.lock")).contains("@"), "names its holder");
    first.close();
    assertFalse(Files.exists(dir.resolve("c.lock")));
    assertTrue(fs.createNewFile(file), "a lock file left by a crashed holder");
    PartLock fresh = new PartLock.Exclusive(fs, file, 60_000);
    assertFalse(fresh.acquire(System.nanoTime() + 300 * MS, () -> { }), "recent: held");
    Files.setLastModifiedTime(dir.resolve("c.lock"), java.nio.file.attribute.FileTime
        .fromMillis(System.currentTimeMillis() - 120_000));
    assertTrue(fresh.acquire(System.nanoTime(), () -> { }), "older than the limit: stale");
    fresh.close();
  }

  @Test
  void removingPartialsLeavesThemWhileAnotherDownloadHoldsALock() throws Exception {
    org.apache.hadoop.fs.Path dest = new org.apache.hadoop.fs.Path(dir.toUri());
    FileSystem fs = HadoopFiles.fileSystem(new Configuration(), dest);
    Path partial = dir.resolve(PartFile.PARTIAL_DIR);
    Files.createDirectories(partial.resolve("sub"));
    Files.writeString(partial.resolve("sub/a.txt.0123456789ab.part"), "abandoned");
    Files.writeString(partial.resolve("b.txt.0123456789ab.part"), "being written");
    PartLock held = new PartLock.Local(partial.resolve("b.txt.0123456789ab.part.lock"));
    assertTrue(held.acquire(System.nanoTime(), () -> { }));
    assertFalse(PartFile.removePartials(fs, dest, 60_000));
    assertTrue(Files.exists(partial.resolve("sub/a.txt.0123456789ab.part")));
    held.close();
    assertTrue(PartFile.removePartials(fs, dest, 60_000));
    assertFalse(Files.exists(partial));
  }
}
