package flashlm.pipeline.hub;

import flashlm.fs.HadoopFiles;
import flashlm.hash.Sha256;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.UUID;
import org.apache.hadoop.fs.CommonPathCapabilities;
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
 *       a file under the executor's {@code java.io.tmpdir}, uploaded in one go once verified (an
 *       S3 object appears whole or not at all). Resuming works across retries in the task and in
 *       later runs on the same host; a part left on another host is fetched again. Staging
 *       locally rather than writing one object per response keeps the upload to one copy of the
 *       bytes, since object stores cannot concatenate or rename without copying.
 * </ul>
 * The commit is part of the part's name, so bytes of another revision are never resumed.
 */
abstract sealed class PartFile permits PartFile.InPlace, PartFile.Staged {
  /** The hidden folder of in-place parts under the destination ({@code _} hides it from Spark). */
  static final String PARTIAL_DIR = "_flashlm_partial";

  /** The part for {@code repoPath} at {@code commit}, which will become {@code target}. */
  static PartFile forTarget(FileSystem fs, Path dest, Path target, String repoPath, String commit)
      throws IOException {
    String suffix = "." + commit.substring(0, Math.min(12, commit.length())) + ".part";
    Path inPlace = new Path(new Path(dest, PARTIAL_DIR), repoPath + suffix);
    if (!HadoopFiles.isObjectStore(fs)
        && fs.hasPathCapability(inPlace, CommonPathCapabilities.FS_APPEND)) {
      return new InPlace(fs, inPlace, target);
    }
    String key = Sha256.hex(target + "\n" + commit).substring(0, 16);
    java.nio.file.Path local = java.nio.file.Path.of(System.getProperty("java.io.tmpdir"),
        "flashlm-download", key + "-" + target.getName() + suffix);
    return new Staged(fs, local, target);
  }

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
    String location() {
      return part.toString();
    }
  }

  /** A part on the executor's local disk, uploaded when verified. */
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
      return Files.exists(part) ? Files.size(part) : 0;
    }

    @Override
    InputStream openRead() throws IOException {
      return Files.newInputStream(part);
    }

    @Override
    OutputStream openAppend() throws IOException {
      Files.createDirectories(part.getParent());
      return Files.newOutputStream(part, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
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
    String location() {
      return part.toString();
    }
  }
}
