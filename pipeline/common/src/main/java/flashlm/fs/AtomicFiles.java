package flashlm.fs;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.CommonPathCapabilities;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.StreamCapabilities;

/**
 * The one way FlashLM publishes a file (checkpoints, exports, tokenizer files, manifests): a
 * reader sees the whole old file, or the whole new one, or (for an instant on some filesystems)
 * none, never part of one; and once a write returns, the file survives a power cut. How depends
 * on what the filesystem promises:
 *
 * <ul>
 *   <li><b>Object stores</b> (s3a, and any filesystem whose output streams can be aborted,
 *       {@link CommonPathCapabilities#ABORTABLE_STREAM}): an object appears only when its stream
 *       is closed (one PUT, or a multipart upload completed), whole and durable, replacing an old
 *       one in one step. So the final name is written directly, and on failure the stream is
 *       aborted, not closed: closing would publish the partial data. A temporary name and a
 *       rename would be worse there: a rename is a copy of the whole object plus a delete. A
 *       process killed mid-write leaves at most an unfinished multipart upload, which no reader
 *       sees (a bucket lifecycle rule or {@code hadoop s3guard uploads -abort} removes it).
 *   <li><b>The local filesystem</b>: the data goes to {@code _tmp.NAME.N} beside the target, is
 *       flushed and {@code fsync}ed, then renamed over the target ({@code rename(2)} replaces it
 *       atomically), and the directory is {@code fsync}ed so that the rename itself survives a
 *       power cut. Without the first fsync, a filesystem with delayed allocation (ext4, xfs) may
 *       commit the rename before the data, and after a crash the file has its full length but
 *       zeros inside. Written with java.nio, not Hadoop's checksummed local filesystem: no
 *       {@code .crc} side file (a stale one beside the target is removed first, or Hadoop's
 *       reader would reject the new bytes).
 *   <li><b>Other filesystems</b> (HDFS): the same temporary name, {@code hsync} (the data is on
 *       the datanodes' disks), close, and a rename, which the namenode logs durably before it
 *       returns. HDFS's rename does not replace a file, so an old target is deleted first: in
 *       between, readers see no file, never a partial one.
 * </ul>
 *
 * <p>A writer killed mid-write on a filesystem leaves a {@code _tmp.*} file, which readers never
 * open (Hadoop and Spark skip names starting with {@code _}); its owner may delete it.
 *
 * <p>{@link #writeSet} publishes a file with companions that describe it (a tokenizer.json and
 * its checksum; model.safetensors and config.json) so that a reader who finds the primary file
 * finds its own companions beside it.
 */
public final class AtomicFiles {
  /** Prefix of the temporary files of writes in progress (or of writers that died). */
  public static final String TMP_PREFIX = "_tmp.";

  /** What goes into a file. It must not close the stream (closing is ignored). */
  @FunctionalInterface
  public interface Body {
    void write(OutputStream out) throws IOException;
  }

  /** Called after every step of {@link #writeSet} that readers can see; tests only, else null. */
  interface Step {
    void after(String step) throws IOException;
  }

  static volatile Step afterStep;

  private AtomicFiles() {}

  /** Writes {@code bytes} to {@code path} atomically and durably. */
  public static void write(Configuration conf, String path, byte[] bytes) {
    write(conf, path, out -> out.write(bytes));
  }

  /**
   * Writes {@code path} atomically and durably (see the class comment).
   *
   * @throws UncheckedIOException naming the path when the write fails; nothing is published then
   */
  public static void write(Configuration conf, String path, Body body) {
    try {
      Staged staged = stage(conf, new Path(path), body);
      try {
        staged.publish();
      } catch (IOException | RuntimeException e) {
        staged.abort(e);
        throw e;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + path + ": " + e.getMessage(), e);
    }
  }

  /**
   * Publishes {@code primary} with {@code companions} (file names in the same directory, written
   * in map order) so that whoever finds the primary file finds its own companions: every file is
   * written first (the long part, while the old set stays whole); then the old primary is
   * removed, then the old companions, then the new companions are published, the primary last.
   * A reader therefore sees the old set, or the new set, or no primary (for the few
   * milliseconds of the swap, or after a crash in it: run the writer again); never a primary
   * with a companion of another version. Companions without a primary are all of one version.
   * Readers look a set up through its primary file.
   *
   * @throws UncheckedIOException naming the file when a write fails before the swap (the old set
   *     is untouched then) or during it
   */
  public static void writeSet(Configuration conf, String primary, Body primaryBody,
      Map<String, Body> companions) {
    Path main = new Path(primary);
    List<Path> names = new ArrayList<>();
    for (String name : companions.keySet()) {
      if (name.isEmpty() || name.contains("/")) {
        throw new IllegalArgumentException("a companion is a file name, not " + name);
      }
      names.add(new Path(main.getParent(), name));
    }
    List<Staged> pending = new ArrayList<>(); // staged, not yet published: aborted on failure
    String current = primary;
    try {
      Staged head = stage(conf, main, primaryBody);
      pending.add(head);
      List<Staged> rest = new ArrayList<>();
      for (Path p : names) {
        current = p.toString();
        Staged s = stage(conf, p, companions.get(p.getName()));
        pending.add(s);
        rest.add(s);
      }
      current = primary;
      head.withdraw();
      step("withdrew " + main.getName());
      for (Staged s : rest) {
        current = s.target.toString();
        s.withdraw();
        step("withdrew " + s.target.getName());
      }
      for (Staged s : rest) {
        current = s.target.toString();
        s.publish();
        pending.remove(s);
        step("published " + s.target.getName());
      }
      current = primary;
      head.publish();
      pending.remove(head);
      step("published " + main.getName());
    } catch (IOException e) {
      abort(pending, e);
      throw new UncheckedIOException("cannot write " + current + ": " + e.getMessage(), e);
    } catch (RuntimeException | Error e) {
      abort(pending, e);
      throw e;
    }
  }

  private static void abort(List<Staged> pending, Throwable cause) {
    for (Staged s : pending) {
      s.abort(cause);
    }
  }

  private static void step(String what) throws IOException {
    Step s = afterStep;
    if (s != null) {
      s.after(what);
    }
  }

  /** Writes {@code body} where readers do not see it yet; on failure nothing is left. */
  private static Staged stage(Configuration conf, Path target, Body body) throws IOException {
    FileSystem fs = target.getFileSystem(conf);
    if (fs instanceof LocalFileSystem || fs instanceof RawLocalFileSystem) {
      RawLocalFileSystem raw = (RawLocalFileSystem) HadoopFiles.fileSystem(conf, target);
      return LocalStaged.write(raw.pathToFile(target).toPath().toAbsolutePath(), target, body);
    }
    if (fs.hasPathCapability(target, CommonPathCapabilities.ABORTABLE_STREAM)) {
      return ObjectStaged.write(fs, target, body);
    }
    return HadoopStaged.write(fs, target, body);
  }

  /** A file written but not yet visible under its name. */
  private abstract static class Staged {
    final Path target;

    Staged(Path target) {
      this.target = target;
    }

    /** Makes the file visible under its name, replacing an old one. */
    abstract void publish() throws IOException;

    /** Removes the file now under the target's name, if any. */
    abstract void withdraw() throws IOException;

    /** Drops the unpublished data; failures are added to {@code cause}. */
    abstract void abort(Throwable cause);
  }

  /** Local disk: a temporary file beside the target, fsynced, renamed, directory fsynced. */
  private static final class LocalStaged extends Staged {
    private final java.nio.file.Path file;
    private final java.nio.file.Path tmp;

    private LocalStaged(Path target, java.nio.file.Path file, java.nio.file.Path tmp) {
      super(target);
      this.file = file;
      this.tmp = tmp;
    }

    static LocalStaged write(java.nio.file.Path file, Path target, Body body) throws IOException {
      LocalDirs.create(file.getParent());
      java.nio.file.Path tmp = file.resolveSibling(TMP_PREFIX + file.getFileName() + "."
          + System.nanoTime());
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW,
          StandardOpenOption.WRITE)) {
        OutputStream out = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 16);
        body.write(unclosable(out));
        out.flush();
        ch.force(true);
      } catch (IOException | RuntimeException | Error e) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException suppressed) {
          e.addSuppressed(suppressed);
        }
        throw e;
      }
      return new LocalStaged(target, file, tmp);
    }

    @Override
    void publish() throws IOException {
      Files.deleteIfExists(crc(file)); // before the new bytes appear: Hadoop would check them
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      LocalDirs.fsync(file.getParent());
    }

    @Override
    void withdraw() throws IOException {
      boolean removed = Files.deleteIfExists(file);
      Files.deleteIfExists(crc(file));
      if (removed) {
        LocalDirs.fsync(file.getParent());
      }
    }

    @Override
    void abort(Throwable cause) {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException e) {
        cause.addSuppressed(e);
      }
    }

    private static java.nio.file.Path crc(java.nio.file.Path file) {
      return file.resolveSibling("." + file.getFileName() + ".crc");
    }
  }

  /** An object store: the final name, published by close(), aborted on failure. */
  private static final class ObjectStaged extends Staged {
    private final FileSystem fs;
    private final FSDataOutputStream out;

    private ObjectStaged(FileSystem fs, Path target, FSDataOutputStream out) {
      super(target);
      this.fs = fs;
      this.out = out;
    }

    static ObjectStaged write(FileSystem fs, Path target, Body body) throws IOException {
      FSDataOutputStream out = fs.create(target, true);
      ObjectStaged staged = new ObjectStaged(fs, target, out);
      try {
        body.write(unclosable(out));
      } catch (IOException | RuntimeException | Error e) {
        staged.abort(e);
        throw e;
      }
      return staged;
    }

    @Override
    void publish() throws IOException {
      out.close(); // completes the upload: the object appears whole
    }

    @Override
    void withdraw() throws IOException {
      fs.delete(target, false);
    }

    @Override
    void abort(Throwable cause) {
      try {
        out.abort(); // never close(): that would publish the partial data
      } catch (RuntimeException | Error e) {
        cause.addSuppressed(e);
      }
    }
  }

  /** HDFS and the rest: a temporary file, hsync, close, rename. */
  private static final class HadoopStaged extends Staged {
    private final FileSystem fs;
    private final Path tmp;

    private HadoopStaged(FileSystem fs, Path target, Path tmp) {
      super(target);
      this.fs = fs;
      this.tmp = tmp;
    }

    static HadoopStaged write(FileSystem fs, Path target, Body body) throws IOException {
      Path tmp = new Path(target.getParent(), TMP_PREFIX + target.getName() + "."
          + System.nanoTime());
      HadoopStaged staged = new HadoopStaged(fs, target, tmp);
      try (FSDataOutputStream out = fs.create(tmp, false)) {
        body.write(unclosable(out));
        if (out.hasCapability(StreamCapabilities.HSYNC)) {
          out.hsync();
        } else {
          out.hflush();
        }
      } catch (IOException | RuntimeException | Error e) {
        staged.abort(e);
        throw e;
      }
      return staged;
    }

    @Override
    void publish() throws IOException {
      if (fs.exists(target)) {
        fs.delete(target, false);
      }
      if (!fs.rename(tmp, target)) {
        throw new IOException("rename of " + tmp + " to " + target + " failed");
      }
    }

    @Override
    void withdraw() throws IOException {
      fs.delete(target, false);
    }

    @Override
    void abort(Throwable cause) {
      try {
        fs.delete(tmp, false);
      } catch (IOException e) {
        cause.addSuppressed(e);
      }
    }
  }

  /** {@code out} with close() reduced to flush(): publishing is ours to do, not the body's. */
  private static OutputStream unclosable(OutputStream out) {
    return new FilterOutputStream(out) {
      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
      }

      @Override
      public void close() throws IOException {
        out.flush();
      }
    };
  }

  /** Directories on the local disk, created and synced so that a power cut keeps them. */
  static final class LocalDirs {
    private LocalDirs() {}

    /** Creates {@code dir} and missing parents, syncing each parent that gained an entry. */
    static void create(java.nio.file.Path dir) throws IOException {
      if (dir == null || Files.isDirectory(dir)) {
        return;
      }
      create(dir.getParent());
      try {
        Files.createDirectory(dir);
      } catch (FileAlreadyExistsException e) {
        if (!Files.isDirectory(dir)) {
          throw e;
        }
        return;
      }
      fsync(dir.getParent());
    }

    /**
     * Syncs a directory's entries (a rename, create or delete in it) to the disk. Best effort:
     * some platforms (Windows) and some network filesystems cannot open or sync a directory, and
     * there the entry is as durable as the filesystem makes it.
     */
    static void fsync(java.nio.file.Path dir) {
      try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
        ch.force(true);
      } catch (IOException e) {
        // see above: nothing more can be done here
      }
    }
  }
}
