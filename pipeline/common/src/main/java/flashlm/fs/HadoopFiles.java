package flashlm.fs;

import flashlm.hash.Sha256;
import java.io.ByteArrayOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Static helpers for small files on any Hadoop filesystem. Locations are Hadoop URIs or paths
 * ({@code /tmp/x}, {@code file:/tmp/x}, {@code s3a://bucket/x}). Files are published with {@link
 * AtomicFiles}.
 */
public final class HadoopFiles {
  /** Schemes whose {@code create()} is already atomic: the object appears only on close. */
  private static final Set<String> OBJECT_STORES = Set.of("s3a", "s3", "s3n", "gs", "abfs",
      "abfss", "wasb", "wasbs", "oss", "cos", "obs");

  private HadoopFiles() {}

  /**
   * Renames {@code src} to {@code dst}, replacing an existing file. Hadoop's {@code rename}
   * refuses an existing target on most filesystems, so the target is deleted first when needed;
   * a reader may briefly see no file, never a partial one.
   */
  public static void renameReplacing(FileSystem fs, Path src, Path dst) throws IOException {
    if (dst.getParent() != null) {
      fs.mkdirs(dst.getParent());
    }
    if (fs.rename(src, dst)) {
      return;
    }
    if (fs.exists(dst)) {
      fs.delete(dst, false);
      if (fs.rename(src, dst)) {
        return;
      }
    }
    throw new IOException("cannot rename " + src + " to " + dst);
  }

  /** Reads a whole (small) file. */
  public static byte[] readAll(Configuration conf, String location) throws IOException {
    Path path = new Path(location);
    try (InputStream in = fileSystem(conf, path).open(path)) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      in.transferTo(out);
      return out.toByteArray();
    }
  }

  /** Whether {@code location} exists (file or directory). */
  public static boolean exists(Configuration conf, String location) throws IOException {
    Path path = new Path(location);
    return fileSystem(conf, path).exists(path);
  }

  /** Length of a file, or -1 when it does not exist. */
  public static long length(Configuration conf, String location) throws IOException {
    Path path = new Path(location);
    try {
      return fileSystem(conf, path).getFileStatus(path).getLen();
    } catch (FileNotFoundException e) {
      return -1;
    }
  }

  /** Lower-case hex sha256 of a file's bytes, streamed. */
  public static String sha256(Configuration conf, String location) throws IOException {
    Path path = new Path(location);
    try (InputStream in = fileSystem(conf, path).open(path)) {
      return Sha256.hex(in);
    }
  }

  /** The fully qualified URI string of {@code location} ({@code file:/...}, {@code s3a://...}). */
  public static String qualify(Configuration conf, String location) {
    Path path = new Path(location);
    try {
      return path.getFileSystem(conf).makeQualified(path).toString();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot resolve the filesystem of " + location, e);
    }
  }

  /**
   * The filesystem of {@code path}; for local paths the raw one, which appends and writes no
   * {@code .crc} side files (Hadoop's checksummed local filesystem cannot append).
   */
  public static FileSystem fileSystem(Configuration conf, Path path) throws IOException {
    FileSystem fs = path.getFileSystem(conf);
    return fs instanceof LocalFileSystem local ? local.getRaw() : fs;
  }

  /** Whether {@code fs} is an object store, where a rename is a copy and create() is atomic. */
  public static boolean isObjectStore(FileSystem fs) {
    return OBJECT_STORES.contains(fs.getUri().getScheme()); // RawLocalFileSystem has no getScheme()
  }
}
