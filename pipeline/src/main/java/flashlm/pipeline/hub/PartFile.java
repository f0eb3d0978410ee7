package flashlm.pipeline.hub;

import flashlm.fs.HadoopFiles;
import flashlm.hash.Sha256;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.apache.hadoop.fs.CommonPathCapabilities;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Where the bytes of one file collect until they are verified; only then do they appear at the
 * final path, so a reader never sees a partial or unverified file there.
 *
 * <p>Two places, chosen by what the destination filesystem can do:
 * <ul>
 *   <li>{@link InPlace}, for filesystems that append (local disk, HDFS): {@code
 *       DEST/_flashlm_partial/PATH.COMMIT.part}, appended to by each response and renamed to
 *       {@code DEST/PATH} when verified. A part survives the task, the executor and the job, so
 *       any later run resumes it.
 *   <li>{@link Staged}, for object stores ({@code s3a://}) and anything else that cannot append:
 *       a file in this user's private {@link StagingDir} on the executor's local disk, uploaded
 *       in one go once verified (an S3 object appears whole or not at all), and removed once
 *       uploaded or when the file fails. Resuming works across retries in the task. Staging
 *       locally rather than writing one object per response keeps the upload to one copy of the
 *       bytes, since object stores cannot concatenate or rename without copying.
 * </ul>
 * The commit is part of the part's name, so bytes of another revision are never resumed. A
 * download {@link #claim claims} a part before it touches it, so that two downloads into one
 * destination never write one part together.
 */
abstract sealed class PartFile permits PartFile.InPlace, PartFile.Staged {
  /** The hidden folder of in-place parts under the destination ({@code _} hides it from Spark). */
  static final String PARTIAL_DIR = "_flashlm_partial";
  /** What a part's lock file adds to the part's name. */
  static final String LOCK_SUFFIX = ".lock";

  /**
   * The part for {@code repoPath} at {@code commit}, which will become {@code target}; a staged
   * one goes to {@link StagingDir#forThisUser()}.
   */
  static PartFile forTarget(FileSystem fs, Path dest, Path target, String repoPath, String commit)
      throws IOException {
    String suffix = "." + commit.substring(0, Math.min(12, commit.length())) + ".part";
    Path inPlace = new Path(new Path(dest, PARTIAL_DIR), repoPath + suffix);
    if (!HadoopFiles.isObjectStore(fs)
        && fs.hasPathCapability(inPlace, CommonPathCapabilities.FS_APPEND)) {
      return new InPlace(fs, inPlace, target);
    }
    return staged(fs, StagingDir.forThisUser(), target, commit);
  }

  /** The part of {@code target} at {@code commit} staged in {@code dir}. */
  static Staged staged(FileSystem fs, java.nio.file.Path dir, Path target, String commit) {
    String suffix = "." + commit.substring(0, Math.min(12, commit.length())) + ".part";
    String key = Sha256.hex(target + "\n" + commit).substring(0, 16);
    return new Staged(fs, dir.resolve(key + "-" + target.getName() + suffix), target);
  }

  /**
   * The lock of this part, not yet acquired; {@code staleAfterMs} is how old a lock file on a
   * filesystem without OS locks must be to count as abandoned.
   */
  abstract PartLock claim(long staleAfterMs);

  /** What the part becomes when the file fails: kept to resume, or removed. */
  abstract void abandon() throws IOException;

  /** Bytes already in the part (0 when there is none). */
  abstract long length() throws IOException;

  /** The part's bytes from the start. */
  abstract InputStream openRead() throws IOException;

  /** A stream appending to the part, created when absent. */
  abstract OutputStream openAppend() throws IOException;

  /** Removes the part; no error when there is none. */
  abstract void delete() throws IOException;

  /** Moves the verified part to the target, replacing a file already there. */
  abstract void commit() throws IOException;

  /** Where the part is, for messages. */
  abstract String location();

  /**
   * Removes {@code DEST/_flashlm_partial} once every lock in it can be taken at once: parts
   * that another download into the same destination is still writing are left alone.
   *
   * @return whether it is gone
   */
  static boolean removePartials(FileSystem fs, Path dest, long staleAfterMs) throws IOException {
    Path partial = new Path(dest, PARTIAL_DIR);
    if (!fs.exists(partial)) {
      return true;
    }
    Set<Path> locks = new LinkedHashSet<>();
    collectLocks(fs, partial, locks);
    List<PartLock> held = new ArrayList<>();
    try {
      for (Path lock : locks) {
        PartLock l = InPlace.lockOf(fs, lock, staleAfterMs);
        if (!l.acquire(System.nanoTime(), () -> { })) {
          return false;
        }
        held.add(l);
      }
      return fs.delete(partial, true);
    } finally {
      for (PartLock l : held) {
        l.close();
      }
    }
  }

  /**
   * The lock files of the parts under {@code dir}. A download running beside this one may remove
   * its files while they are listed: what vanished needs no lock. ({@code listStatus}, not {@code
   * listFiles}, which asks every file for its permissions and fails on one that vanished.)
   */
  private static void collectLocks(FileSystem fs, Path dir, Set<Path> locks) throws IOException {
    FileStatus[] entries;
    try {
      entries = fs.listStatus(dir);
    } catch (FileNotFoundException e) {
      return;
    }
    for (FileStatus st : entries) {
      Path p = st.getPath();
      String name = p.getName();
      if (st.isDirectory()) {
        collectLocks(fs, p, locks);
      } else if (name.endsWith(".part")) {
        locks.add(p.suffix(LOCK_SUFFIX));
      } else if (name.endsWith(".part" + LOCK_SUFFIX)) {
        locks.add(p);
      }
    }
  }

  /** A part beside the destination, on a filesystem that appends. */
  static final class InPlace extends PartFile {
    private final FileSystem fs;
    private final Path part;
    private final Path target;

    InPlace(FileSystem fs, Path part, Path target) {
      this.fs = fs;
      this.part = part;
      this.target = target;
    }

    @Override
    long length() throws IOException {
      return fs.exists(part) ? fs.getFileStatus(part).getLen() : 0;
    }

    @Override
    InputStream openRead() throws IOException {
      return fs.open(part);
    }

    @Override
    OutputStream openAppend() throws IOException {
      if (fs.exists(part)) {
        return fs.append(part);
      }
      fs.mkdirs(part.getParent());
      return fs.create(part, false);
    }

    @Override
    void delete() throws IOException {
      fs.delete(part, false);
    }

    @Override
    void commit() throws IOException {
      HadoopFiles.renameReplacing(fs, part, target);
    }

    @Override
    PartLock claim(long staleAfterMs) {
      return lockOf(fs, part.suffix(LOCK_SUFFIX), staleAfterMs);
    }

    @Override
    void abandon() {
      // kept: a later run resumes it
    }

    /** An OS lock where the filesystem is the local disk, an exclusive lock file elsewhere. */
    static PartLock lockOf(FileSystem fs, Path lock, long staleAfterMs) {
      if ("file".equals(fs.getUri().getScheme())) {
        return new PartLock.Local(java.nio.file.Path.of(fs.makeQualified(lock).toUri()));
      }
      return new PartLock.Exclusive(fs, lock, staleAfterMs);
    }

    @Override
    String location() {
      return part.toString();
    }
  }

  /** A part in the executor's private staging directory, uploaded when verified. */
  static final class Staged extends PartFile {
    private final FileSystem fs;
    private final java.nio.file.Path part;
    private final Path target;

    Staged(FileSystem fs, java.nio.file.Path part, Path target) {
      this.fs = fs;
      this.part = part;
      this.target = target;
    }

    @Override
    long length() throws IOException {
      BasicFileAttributes a;
      try {
        a = Files.readAttributes(part, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      } catch (NoSuchFileException e) {
        return 0;
      }
      if (!a.isRegularFile()) {
        throw unsafe();
      }
      return a.size();
    }

    @Override
    InputStream openRead() throws IOException {
      try {
        return Files.newInputStream(part, LinkOption.NOFOLLOW_LINKS);
      } catch (IOException e) {
        throw Files.isSymbolicLink(part) ? unsafe() : e; // ELOOP is a plain IOException
      }
    }

    /** Opens (or creates {@code 0600}) the part without following a link at its path. */
    @Override
    OutputStream openAppend() throws IOException {
      Files.createDirectories(part.getParent()); // the staging folder: there already
      try {
        return Channels.newOutputStream(Files.newByteChannel(part, Set.of(
            StandardOpenOption.CREATE, StandardOpenOption.APPEND, LinkOption.NOFOLLOW_LINKS),
            StagingDir.privateFile(part)));
      } catch (IOException e) {
        throw Files.isSymbolicLink(part) ? unsafe() : e;
      }
    }

    private UnsafePart unsafe() {
      return new UnsafePart("the staged part " + part + " is a symbolic link or not a regular"
          + " file; refusing to follow it. Nothing but this download writes there: remove it"
          + " and look into who made it");
    }

    @Override
    void delete() throws IOException {
      Files.deleteIfExists(part);
    }

    @Override
    void commit() throws IOException {
      Path local = new Path(part.toUri());
      if (HadoopFiles.isObjectStore(fs)) {
        fs.copyFromLocalFile(true, true, local, target); // one PUT or multipart upload: atomic
        return;
      }
      Path tmp = new Path(target.getParent(), "." + target.getName() + "." + UUID.randomUUID()
          + ".tmp");
      try {
        fs.copyFromLocalFile(false, true, local, tmp);
        HadoopFiles.renameReplacing(fs, tmp, target);
      } finally {
        fs.delete(tmp, false);
      }
      delete();
    }

    @Override
    PartLock claim(long staleAfterMs) {
      return new PartLock.Local(part.resolveSibling(part.getFileName() + LOCK_SUFFIX));
    }

    @Override
    void abandon() throws IOException {
      delete(); // parts on an executor's disk do not outlive the job that failed
    }

    @Override
    String location() {
      return part.toString();
    }
  }

  /** A part, or the folder it goes in, that must not be used: nothing would fix it on retry. */
  static final class UnsafePart extends IOException {
    private static final long serialVersionUID = 1L;

    UnsafePart(String message) {
      super(message);
    }
  }
}
