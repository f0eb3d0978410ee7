package flashlm.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LockFileTest {
  @TempDir Path dir;

  private final Configuration conf = new Configuration();
  private final List<String> warnings = new ArrayList<>();

  private LockFile take(Path lock) {
    return LockFile.acquire(conf, lock.toString(), "checkpoint.dir " + dir, warnings::add);
  }

  @Test
  void aSecondOwnerIsRefusedNamingTheFirstUntilItReleases() {
    Path lock = dir.resolve("run/_trainer.lock");
    LockFile first = take(lock);
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> take(lock));
    String m = e.getMessage();
    assertTrue(m.contains("checkpoint.dir " + dir + " is in use") && m.contains(lock.toString())
        && m.contains("host " + LockFile.hostName() + ", pid " + ProcessHandle.current().pid())
        && m.contains("which is running"), m);
    first.check();
    first.close();
    first.close();
    assertFalse(Files.exists(lock));
    take(lock).close();
    assertEquals(List.of(), warnings);
  }

  @Test
  void aLockOfThisHostWhoseProcessIsGoneIsTakenOverWithAWarning() throws Exception {
    Path lock = dir.resolve("_trainer.lock");
    long gone = Integer.MAX_VALUE; // above any pid_max
    write(lock, new LockFile.Owner(LockFile.hostName(), gone, null, "2020-01-01T00:00:00Z", "n"));
    try (LockFile l = take(lock)) {
      l.check();
      assertEquals(1, warnings.size(), warnings.toString());
      assertTrue(warnings.get(0).contains("pid " + gone) && warnings.get(0).contains(
          "no longer running on this host"), warnings.get(0));
    }
    // this very process under a reused pid: its start time differs from the lock's
    ProcessHandle me = ProcessHandle.current();
    write(lock, new LockFile.Owner(LockFile.hostName(), me.pid(), "1999-01-01T00:00:00Z",
        "1999-01-01T00:00:00Z", "n"));
    take(lock).close();
    assertEquals(2, warnings.size(), warnings.toString());
  }

  @Test
  void aLockOfAnotherHostIsRefusedWithHowToRemoveIt() throws Exception {
    Path lock = dir.resolve("_trainer.lock");
    write(lock, new LockFile.Owner("node-7.cluster", 4242, null, "2026-01-01T00:00:00Z", "n"));
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> take(lock));
    assertTrue(e.getMessage().contains("host node-7.cluster, pid 4242")
        && e.getMessage().contains("remove the lock: rm " + lock), e.getMessage());
    Files.writeString(lock, "");
    e = assertThrows(IllegalStateException.class, () -> take(lock));
    assertTrue(e.getMessage().contains("empty or unreadable"), e.getMessage());
  }

  @Test
  void checkFailsOnceTheLockIsGoneOrSomeoneElses() throws Exception {
    Path lock = dir.resolve("_trainer.lock");
    LockFile mine = take(lock);
    write(lock, new LockFile.Owner("node-7.cluster", 4242, null, Instant.now().toString(), "x"));
    IllegalStateException e = assertThrows(IllegalStateException.class, mine::check);
    assertTrue(e.getMessage().contains("lost the lock") && e.getMessage().contains("node-7"),
        e.getMessage());
    mine.close();
    assertTrue(Files.exists(lock), "another owner's lock is not removed");
    Files.delete(lock);
    assertThrows(IllegalStateException.class, mine::check);
  }

  private static void write(Path lock, LockFile.Owner owner) throws Exception {
    Files.createDirectories(lock.getParent());
    Files.write(lock, new ObjectMapper().writeValueAsBytes(owner));
  }
}
