package flashlm.train;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A run's checkpoint directory (local or any Hadoop filesystem URI):
 *
 * <pre>
 * DIR/config.json               the resolved training config of the run
 * DIR/ckpt-0000001000.flm       checkpoint after 1000 updates ({@link Checkpoint} format)
 * DIR/_tmp.*                    a checkpoint being written (never read)
 * </pre>
 */
public final class CheckpointDir {
  public static final String CONFIG = "config.json";
  private static final Pattern NAME = Pattern.compile("ckpt-(\\d{10})\\.flm");

  private final Configuration conf;
  private final Path dir;

  public CheckpointDir(Configuration conf, String dir) {
    this.conf = conf;
    Path p = new Path(dir);
    try {
      this.dir = p.getFileSystem(conf).makeQualified(p); // listings return qualified paths
    } catch (IOException e) {
      throw new UncheckedIOException("no filesystem for checkpoint.dir " + dir + ": " + e.getMessage(),
          e);
    }
  }

  /** The file of the checkpoint after {@code step} updates. */
  public String path(long step) {
    return new Path(dir, String.format("ckpt-%010d.flm", step)).toString();
  }

  /** Checkpoint paths, oldest first. */
  public List<String> list() {
    try {
      FileSystem fs = dir.getFileSystem(conf);
      List<FileStatus> found = new ArrayList<>();
      try {
        for (FileStatus st : fs.listStatus(dir)) {
          if (NAME.matcher(st.getPath().getName()).matches()) {
            found.add(st);
          }
        }
      } catch (FileNotFoundException e) {
        return List.of();
      }
      found.sort(Comparator.comparingLong(CheckpointDir::step));
      return found.stream().map(st -> st.getPath().toString()).toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list checkpoints in " + dir + ": " + e.getMessage(), e);
    }
  }

  /** The newest checkpoint, if any. */
  public Optional<String> latest() {
    List<String> all = list();
    return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
  }

  /** Deletes all but the newest {@code keep} checkpoints. */
  public void prune(int keep) {
    List<String> all = list();
    try {
      FileSystem fs = dir.getFileSystem(conf);
      for (int i = 0; i < all.size() - keep; i++) {
        fs.delete(new Path(all.get(i)), false);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete old checkpoints in " + dir + ": " + e.getMessage(),
          e);
    }
  }

  /** Writes {@code DIR/config.json} atomically. */
  public void writeConfig(String json) {
    writeAtomically(conf, new Path(dir, CONFIG).toString(), json.getBytes(StandardCharsets.UTF_8));
  }

  /** What goes into a file written by {@link #writeAtomically}. */
  public interface Body {
    void write(java.io.OutputStream out) throws IOException;
  }

  /** Writes {@code bytes} to {@code path} through a temporary name and a rename. */
  public static void writeAtomically(Configuration conf, String path, byte[] bytes) {
    writeAtomically(conf, path, out -> out.write(bytes));
  }

  /**
   * Writes {@code path} through a temporary name beside it and a rename, so readers see a whole
   * file or none; on object stores the rename is a copy, and the temporary name is never read.
   */
  public static void writeAtomically(Configuration conf, String path, Body body) {
    Path target = new Path(path);
    Path tmp = new Path(target.getParent(), "_tmp." + target.getName() + "." + System.nanoTime());
    try {
      FileSystem fs = target.getFileSystem(conf);
      try (FSDataOutputStream out = fs.create(tmp, true)) {
        body.write(out);
      } catch (IOException | RuntimeException e) {
        fs.delete(tmp, false);
        throw e;
      }
      if (fs.exists(target)) {
        fs.delete(target, false);
      }
      if (!fs.rename(tmp, target)) {
        throw new IOException("rename of " + tmp + " to " + target + " failed");
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + path + ": " + e.getMessage(), e);
    }
  }

  private static long step(FileStatus st) {
    Matcher m = NAME.matcher(st.getPath().getName());
    return m.matches() ? Long.parseLong(m.group(1)) : -1;
  }

  @Override
  public String toString() {
    return dir.toString();
  }
}
