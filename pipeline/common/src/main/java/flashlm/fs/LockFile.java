package flashlm.fs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.CommonPathCapabilities;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;

/**
 * A lock file that says who owns a directory: one JSON object with the owner's host, process id,
 * process start time and a random nonce, created only if absent. Another process that finds it
 * refuses, naming the owner; a lock of this host whose process is gone (or is another process
 * with a reused id) is stale and taken over with a warning. A lock of another host cannot be
 * judged from here, so the message says how to remove it.
 *
 * <p>Creation is atomic on the local disk ({@code O_EXCL}) and on HDFS (the namenode). On object
 * stores S3A checks and writes in two requests, so two owners starting in the same instant can
 * both believe they won; the lock is therefore read back after creating it, and owners call
 * {@link #check} before each write that matters, so the loser stops at its first one.
 */
public final class LockFile implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * What a lock file holds.
   *
   * @param host host name of the owner
   * @param pid its process id
   * @param started when that process started (ISO-8601), to tell a reused pid; may be null
   * @param since when it took the lock
   * @param nonce random, to tell this lock from a later one of the same process
   */
  public record Owner(String host, long pid, String started, String since, String nonce) {
    /** {@code host H, pid P, since T}. */
    String describe() {
      return "host " + host + ", pid " + pid + ", since " + since;
    }
  }

  private final Configuration conf;
  private final Path path;
  private final String what;
  private final Owner owner;
  private boolean released;

  private LockFile(Configuration conf, Path path, String what, Owner owner) {
    this.conf = conf;
    this.path = path;
    this.what = what;
    this.owner = owner;
  }

  /**
   * Takes the lock at {@code path} for this process.
   *
   * @param what what the lock guards, for messages ("checkpoint.dir s3a://b/run")
   * @param warn receives a line when a stale lock is taken over
   * @throws IllegalStateException naming the owner and what to do when another process holds it
   */
  public static LockFile acquire(Configuration conf, String path, String what,
      Consumer<String> warn) {
    Path p = new Path(path);
    ProcessHandle self = ProcessHandle.current();
    Owner me = new Owner(hostName(), self.pid(), startOf(self), Instant.now().toString(),
        UUID.randomUUID().toString());
    try {
      for (int attempt = 0; attempt < 3; attempt++) {
        if (createIfAbsent(conf, p, JSON.writeValueAsBytes(me))) {
          Optional<Owner> back = read(conf, p);
          if (back.isPresent() && back.get().nonce().equals(me.nonce())) {
            return new LockFile(conf, p, what, me);
          }
          throw taken(p, what, back.orElse(null), "took it in the same instant");
        }
        Optional<Owner> other = read(conf, p);
        if (other.isEmpty() && !HadoopFiles.exists(conf, path)) {
          continue; // released in between
        }
        if (other.isPresent() && stale(other.get())) {
          warn.accept("warning: " + what + " was locked by " + other.get().describe()
              + ", a process that is no longer running on this host; taking the lock over ("
              + path + ")");
          HadoopFiles.fileSystem(conf, p).delete(p, false);
          continue;
        }
        throw taken(p, what, other.orElse(null), null);
      }
      throw taken(p, what, read(conf, p).orElse(null), "kept changing hands");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot take the lock " + path + ": " + e.getMessage(), e);
    }
  }

  /**
   * Checks that the lock is still this one.
   *
   * @throws IllegalStateException when it was removed or another process holds it now
   */
  public void check() {
    Optional<Owner> now;
    try {
      now = read(conf, path);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the lock " + path + ": " + e.getMessage(), e);
    }
    if (now.isEmpty() || !now.get().nonce().equals(owner.nonce())) {
      throw new IllegalStateException("lost the lock on " + what + ": " + path + (now.isEmpty()
          ? " was removed" : " is now held by " + now.get().describe()) + "; stopping before"
          + " writing there, so that two processes do not overwrite each other's files");
    }
  }

  /** The owner this lock records. */
  public Owner owner() {
    return owner;
  }

  /** Removes the lock if it is still this one; idempotent. */
  @Override
  public void close() {
    if (released) {
      return;
    }
    released = true;
    try {
      Optional<Owner> now = read(conf, path);
      if (now.isPresent() && now.get().nonce().equals(owner.nonce())) {
        HadoopFiles.fileSystem(conf, path).delete(path, false);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove the lock " + path + ": " + e.getMessage(), e);
    }
  }

  private static IllegalStateException taken(Path path, String what, Owner owner, String how) {
    String rm = "local".equals(scheme(path)) ? "rm " + Path.getPathWithoutSchemeAndAuthority(path)
        : "hadoop fs -rm " + path;
    String who = owner == null ? "a process that left it empty or unreadable"
        : "a process on " + owner.describe()
            + (owner.host().equals(hostName()) ? ", which is running" : "");
    return new IllegalStateException(what + " is in use: its lock file " + path + " is held by "
        + who + (how == null ? "" : " (" + how + ")") + ". Two writers would overwrite each"
        + " other's files. If that process is still running, stop it or choose another"
        + " directory; if it is not (killed, or its machine lost), remove the lock: " + rm);
  }

  private static String scheme(Path path) {
    String s = path.toUri().getScheme();
    return s == null || s.equals("file") ? "local" : s;
  }

  /** A lock of this host whose process is gone, or whose pid now names another process. */
  static boolean stale(Owner o) {
    if (!o.host().equals(hostName())) {
      return false;
    }
    Optional<ProcessHandle> p = ProcessHandle.of(o.pid());
    if (p.isEmpty() || !p.get().isAlive()) {
      return true;
    }
    String started = startOf(p.get());
    return o.started() != null && started != null && !o.started().equals(started);
  }

  private static String startOf(ProcessHandle p) {
    return p.info().startInstant().map(Instant::toString).orElse(null);
  }

  /** This machine's name (for the lock's owner); the OS's, or "unknown-host". */
  static String hostName() {
    return Host.NAME;
  }

  /** Looked up once, when first needed: the lookup may ask a name service. */
  private static final class Host {
    static final String NAME = lookUp();

    private static String lookUp() {
      try {
        return InetAddress.getLocalHost().getHostName();
      } catch (IOException e) {
        String env = System.getenv("HOSTNAME");
        return env == null || env.isBlank() ? "unknown-host" : env;
      }
    }
  }

  /** Creates {@code path} holding {@code bytes} unless it exists; false when it does. */
  private static boolean createIfAbsent(Configuration conf, Path path, byte[] bytes)
      throws IOException {
    FileSystem fs = path.getFileSystem(conf);
    if (fs instanceof LocalFileSystem || fs instanceof RawLocalFileSystem) {
      java.nio.file.Path file = ((RawLocalFileSystem) HadoopFiles.fileSystem(conf, path))
          .pathToFile(path).toPath().toAbsolutePath();
      AtomicFiles.LocalDirs.create(file.getParent());
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW,
          StandardOpenOption.WRITE)) {
        OutputStream out = Channels.newOutputStream(ch);
        out.write(bytes);
        ch.force(true);
      } catch (FileAlreadyExistsException e) {
        return false;
      }
      AtomicFiles.LocalDirs.fsync(file.getParent());
      return true;
    }
    if (fs.exists(path)) {
      return false;
    }
    FSDataOutputStream out;
    try {
      out = fs.create(path, false);
    } catch (org.apache.hadoop.fs.FileAlreadyExistsException e) {
      return false;
    }
    try {
      out.write(bytes);
    } catch (IOException | RuntimeException e) {
      // on an object store close() would publish a partial lock: abort the upload instead
      if (fs.hasPathCapability(path, CommonPathCapabilities.ABORTABLE_STREAM)) {
        out.abort();
      } else {
        out.close();
        fs.delete(path, false);
      }
      throw e;
    }
    out.close();
    return true;
  }

  /** The owner in the lock file; empty when there is none, or it is empty or unreadable. */
  private static Optional<Owner> read(Configuration conf, Path path) throws IOException {
    byte[] bytes;
    try {
      bytes = HadoopFiles.readAll(conf, path.toString());
    } catch (FileNotFoundException e) {
      return Optional.empty();
    }
    try {
      Owner o = JSON.readValue(bytes, Owner.class);
      return o.host() == null || o.nonce() == null ? Optional.empty() : Optional.of(o);
    } catch (JsonProcessingException e) {
      return Optional.empty();
    }
  }
}
