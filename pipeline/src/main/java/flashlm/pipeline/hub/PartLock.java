package flashlm.pipeline.hub;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A claim on one part, {@code PART.lock} beside it, so that two downloads into one destination
 * never write the same part together (their bytes would interleave). The second one waits for
 * the first, then finds the file in place.
 *
 * <ul>
 *   <li>{@link Local}, for parts on a local disk: an OS file lock ({@code fcntl}), released when
 *       the process dies, so a crashed download never blocks the next one; the lock file is
 *       removed on release.
 *   <li>{@link Exclusive}, for other filesystems (HDFS): the lock file created exclusively, with
 *       the owner and time in it, removed on release; one older than the longest a holder may
 *       hold it (its file deadline) is stale and taken over.
 * </ul>
 * Within one JVM a set of held lock paths decides first: POSIX locks belong to the process, so a
 * second channel on the same file would not be refused, and closing it would release the first.
 */
abstract sealed class PartLock implements AutoCloseable permits PartLock.Local, PartLock.Exclusive {
  /** How often a waiting download tries again. */
  static final long POLL_MS = 200;
  private static final Set<String> HELD_IN_THIS_JVM = ConcurrentHashMap.newKeySet();
  private boolean held;
  private boolean waited;

  /** One attempt; true when this claim now holds the lock. */
  abstract boolean tryLock() throws IOException;

  /** Releases the lock this claim holds. */
  abstract void unlock() throws IOException;

  /** The lock file, for messages and as the key within this JVM. */
  abstract String location();

  /**
   * Claims the lock, trying every {@link #POLL_MS} until {@code untilNanos}.
   *
   * @param onWait run once, when the first attempt finds the lock held
   * @return whether it is held; false when another still holds it at {@code untilNanos}
   */
  final boolean acquire(long untilNanos, Runnable onWait) throws IOException {
    while (true) {
      if (HELD_IN_THIS_JVM.add(location())) {
        boolean ok = false;
        try {
          ok = tryLock();
        } finally {
          if (!ok) {
            HELD_IN_THIS_JVM.remove(location());
          }
        }
        if (ok) {
          held = true;
          return true;
        }
      }
      if (System.nanoTime() - untilNanos >= 0) {
        return false;
      }
      if (!waited) {
        waited = true;
        onWait.run();
      }
      Backoff.sleep(POLL_MS);
    }
  }

  /** Whether {@link #acquire} had to wait: another download may have fetched the file since. */
  final boolean waited() {
    return waited;
  }

  /** Releases the lock when held; idempotent. */
  @Override
  public final void close() throws IOException {
    if (!held) {
      return;
    }
    held = false;
    try {
      unlock();
    } finally {
      HELD_IN_THIS_JVM.remove(location());
    }
  }

  /**
   * How old a lock file without an OS lock must be to count as abandoned: older than the longest
   * its holder may hold it (the file deadline, and a read timeout past it) and a minute more.
   */
  static long staleAfterMs(DownloadConfig cfg) {
    return (cfg.fileDeadlineSeconds() + 2L * cfg.timeoutSeconds() + 60) * 1000;
  }

  /** "host pid time": who holds a lock, written into the lock file for whoever finds it. */
  static String owner() {
    return ManagementFactory.getRuntimeMXBean().getName() + " " + Instant.now();
  }

  /** An OS lock on a local lock file. */
  static final class Local extends PartLock {
    private final java.nio.file.Path file;
    private FileChannel channel;
    private FileLock lock;

    Local(java.nio.file.Path file) {
      this.file = file;
    }

    /**
     * Locks what is at the path. A holder removes the lock file before it releases the lock (as
     * does the cleanup that removes a whole part folder): a waiter that opened the file just
     * before would then lock a file no longer at the path, so the file at the path must be the
     * same one before opening, after opening and after locking.
     */
    @Override
    boolean tryLock() throws IOException {
      Files.createDirectories(file.getParent());
      Object existing = fileKey();
      FileChannel ch = FileChannel.open(file, Set.of(StandardOpenOption.CREATE,
          StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS), StagingDir.privateFile(file));
      Object opened = fileKey();
      FileLock l;
      try {
        l = ch.tryLock();
      } catch (OverlappingFileLockException e) {
        l = null;
      }
      boolean same = opened != null && (existing == null || existing.equals(opened))
          && opened.equals(fileKey());
      if (l == null || !same) {
        ch.close(); // also releases l, a lock on a file that left the path
        return false;
      }
      byte[] who = (owner() + "\n").getBytes(StandardCharsets.UTF_8);
      ch.truncate(0);
      ch.write(ByteBuffer.wrap(who), 0);
      channel = ch;
      lock = l;
      return true;
    }

    private Object fileKey() throws IOException {
      try {
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class,
            LinkOption.NOFOLLOW_LINKS);
        return a.fileKey() != null ? a.fileKey() : a.creationTime();
      } catch (NoSuchFileException e) {
        return null;
      }
    }

    @Override
    void unlock() throws IOException {
      try {
        Files.deleteIfExists(file);
        lock.release();
      } finally {
        channel.close();
      }
    }

    @Override
    String location() {
      return file.toAbsolutePath().toString();
    }
  }

  /** A lock file created exclusively on a Hadoop filesystem, removed on release. */
  static final class Exclusive extends PartLock {
    private final FileSystem fs;
    private final Path file;
    private final long staleAfterMs;

    Exclusive(FileSystem fs, Path file, long staleAfterMs) {
      this.fs = fs;
      this.file = file;
      this.staleAfterMs = staleAfterMs;
    }

    @Override
    boolean tryLock() throws IOException {
      if (create()) {
        return true;
      }
      long age;
      try {
        age = System.currentTimeMillis() - fs.getFileStatus(file).getModificationTime();
      } catch (java.io.FileNotFoundException released) {
        return create();
      }
      if (age <= staleAfterMs) {
        return false;
      }
      Console.line("taking over the stale lock " + file + " (" + age / 1000 + " s old)");
      fs.delete(file, false);
      return create();
    }

    private boolean create() throws IOException {
      try (OutputStream out = fs.create(file, false)) {
        out.write((owner() + "\n").getBytes(StandardCharsets.UTF_8));
        return true;
      } catch (FileAlreadyExistsException e) {
        return false;
      } catch (IOException e) {
        if (fs.exists(file)) {
          return false; // filesystems that say "already exists" with a plain IOException
        }
        throw e;
      }
    }

    @Override
    void unlock() throws IOException {
      fs.delete(file, false);
    }

    @Override
    String location() {
      return fs.makeQualified(file).toString();
    }
  }
}
