package flashlm.train;

import flashlm.fs.AtomicFiles;
import flashlm.fs.LockFile;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A run's checkpoint directory (local or any Hadoop filesystem URI, such as {@code s3a://}):
 *
 * <pre>
 * DIR/config.json                  the resolved training config of the run
 * DIR/metrics.jsonl                the run's metrics, unless log.metrics names another file
 * DIR/ckpt-0000001000.flm          checkpoint after 1000 updates ({@link Checkpoint} format)
 * DIR/_trainer.lock                the running trainer's host and pid ({@link #lock})
 * DIR/_tmp.*                       a file being written on a filesystem (never read)
 * DIR/ckpt-0000001200.flm.incomplete.T   a damaged checkpoint that --resume set aside
 * </pre>
 *
 * <p>One run writes a directory at a time (rank 0 of one job): a fresh run refuses a directory
 * that holds checkpoints, and a second trainer refuses a directory whose lock another one holds.
 * Every file is written with {@link AtomicFiles}.
 */
public final class CheckpointDir {
  public static final String CONFIG = "config.json";
  /** The metrics file's name (see {@link MetricsFile}). */
  public static final String METRICS = "metrics.jsonl";
  private static final Pattern NAME = Pattern.compile("ckpt-(\\d{10})\\.flm");
  /** The lock file's name. */
  public static final String LOCK = "_trainer.lock";
  private static final String TMP = AtomicFiles.TMP_PREFIX;

  /**
   * A file with a checkpoint's name that is not a complete checkpoint, and why.
   *
   * @param path the file
   * @param reason what is wrong, such as its length against the one its header implies
   */
  public record Incomplete(String path, String reason) {}

  private final Configuration conf;
  private final Path dir;

  public CheckpointDir(Configuration conf, String dir) {
    this.conf = conf;
    Path p = new Path(dir);
    try {
      this.dir = p.getFileSystem(conf).makeQualified(p); // listings return qualified paths
    } catch (IOException e) {
      throw new UncheckedIOException(
          "no filesystem for checkpoint.dir " + dir + ": " + e.getMessage(), e);
    }
  }

  /** The file of the checkpoint after {@code step} updates. */
  public String path(long step) {
    return new Path(dir, String.format("ckpt-%010d.flm", step)).toString();
  }

  /** The default metrics file of the run, {@code DIR/metrics.jsonl}. */
  public String metricsPath() {
    return new Path(dir, METRICS).toString();
  }

  /** The step of a checkpoint file {@link #path} names. */
  static long stepOf(String path) {
    Matcher m = NAME.matcher(new Path(path).getName());
    if (!m.matches()) {
      throw new IllegalArgumentException(path + " is not named like a checkpoint (ckpt-N.flm)");
    }
    return Long.parseLong(m.group(1));
  }

  /** Files with a checkpoint's name, complete or not, oldest first. */
  public List<String> list() {
    List<FileStatus> found = new ArrayList<>();
    for (FileStatus st : listAll()) {
      if (NAME.matcher(st.getPath().getName()).matches()) {
        found.add(st);
      }
    }
    found.sort(Comparator.comparingLong(CheckpointDir::step));
    return found.stream().map(st -> st.getPath().toString()).toList();
  }

  /**
   * The newest complete checkpoint (see {@link Checkpoint}), if any. Newer files with a
   * checkpoint's name that are not complete (cut short by an interrupted copy, or written by
   * something that is not atomic) go to {@code skipped}, newest first, and the previous complete
   * checkpoint wins: a job that a cluster manager restarts with {@code --resume} goes on from
   * there, and the steps it repeats come out bit for bit the same. Only the header and the length
   * of each candidate are read; nothing is changed here.
   */
  public Optional<String> latest(Consumer<Incomplete> skipped) {
    List<String> all = list();
    for (int i = all.size() - 1; i >= 0; i--) {
      String reason = Checkpoint.incomplete(conf, all.get(i));
      if (reason == null) {
        return Optional.of(all.get(i));
      }
      skipped.accept(new Incomplete(all.get(i), reason));
    }
    return Optional.empty();
  }

  /**
   * A checkpoint file as given, or the newest complete one of a checkpoint directory (newer
   * incomplete files go to {@code skipped}, as {@link #latest} says).
   *
   * @throws IllegalArgumentException when {@code checkpoint} does not exist, or is a directory
   *     without a complete checkpoint
   */
  public static String resolve(Configuration conf, String checkpoint, List<String> skipped) {
    Path p = new Path(checkpoint);
    try {
      if (p.getFileSystem(conf).getFileStatus(p).isDirectory()) {
        return new CheckpointDir(conf, checkpoint)
            .latest(bad -> skipped.add(bad.path() + ": " + bad.reason()))
            .orElseThrow(() -> new IllegalArgumentException("no complete checkpoint (ckpt-*.flm)"
                + " in " + checkpoint + (skipped.isEmpty() ? "" : "; incomplete: " + skipped)));
      }
      return checkpoint;
    } catch (FileNotFoundException e) {
      throw new IllegalArgumentException("checkpoint not found: " + checkpoint, e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + checkpoint + ": " + e.getMessage(), e);
    }
  }

  /**
   * Renames an incomplete checkpoint to {@code NAME.incomplete.MILLIS}, out of listings and
   * {@link #prune} (which would otherwise count it among the newest and delete complete ones),
   * kept for inspection; returns the new path.
   */
  public String setAside(Incomplete c) {
    Path from = new Path(c.path());
    Path to =
        new Path(from.getParent(), from.getName() + ".incomplete." + System.currentTimeMillis());
    try {
      if (!from.getFileSystem(conf).rename(from, to)) {
        throw new IOException("rename to " + to + " failed");
      }
      return to.toString();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot set aside " + c.path() + ": " + e.getMessage(), e);
    }
  }

  /**
   * Deletes all but the newest {@code keep} checkpoints, and temporaries of checkpoints that a
   * writer which died left behind (there is one writer, and it has just finished its file).
   */
  public void prune(int keep) {
    List<String> all = list();
    try {
      FileSystem fs = dir.getFileSystem(conf);
      for (int i = 0; i < all.size() - keep; i++) {
        fs.delete(new Path(all.get(i)), false);
      }
      for (FileStatus st : listAll()) {
        if (st.getPath().getName().startsWith(TMP + "ckpt-")) {
          fs.delete(st.getPath(), false);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot delete old checkpoints in " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Writes {@code DIR/config.json} atomically. */
  public void writeConfig(String json) {
    AtomicFiles.write(conf, new Path(dir, CONFIG).toString(),
        json.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Takes {@code DIR/_trainer.lock} for this process (see {@link LockFile}): a second trainer on
   * the directory refuses, naming the first one's host and pid; a lock left by a process of this
   * host that is gone is taken over, with a line to {@code warn}.
   *
   * @throws IllegalStateException when another trainer holds it, saying how to remove a lock
   *     whose owner is gone
   */
  public LockFile lock(Consumer<String> warn) {
    return LockFile.acquire(conf, new Path(dir, LOCK).toString(), "checkpoint.dir " + dir, warn);
  }

  private List<FileStatus> listAll() {
    try {
      return List.of(dir.getFileSystem(conf).listStatus(dir));
    } catch (FileNotFoundException e) {
      return List.of();
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot list checkpoints in " + dir + ": " + e.getMessage(), e);
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
