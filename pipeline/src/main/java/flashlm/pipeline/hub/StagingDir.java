package flashlm.pipeline.hub;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;

/**
 * The directory where parts for object-store destinations are staged on an executor's local
 * disk: {@code BASE/flashlm-download-USER}, {@code BASE} being {@code java.io.tmpdir}.
 *
 * <p>{@code /tmp} is shared by every user of the host. A directory another user created, or one
 * they can write to, would let them plant a symbolic link where a part goes (the download would
 * then write through it into any file this user may write) or change a part's bytes after they
 * were hashed and before they are uploaded. So the directory is created {@code 0700}, and one
 * that already exists is used only when it is a real directory (not a link) owned by this user
 * with no access for group or others; anything else is refused with a message. Parts in it are
 * created {@code 0600} and opened without following links.
 */
final class StagingDir {
  /** The permissions of the directory when created: {@code rwx------}. */
  static final Set<PosixFilePermission> DIR_PERMISSIONS = PosixFilePermissions.fromString(
      "rwx------");
  /** The permissions of a part or lock file when created: {@code rw-------}. */
  static final Set<PosixFilePermission> FILE_PERMISSIONS = PosixFilePermissions.fromString(
      "rw-------");
  private static final Set<PosixFilePermission> GROUP_OR_OTHERS = EnumSet.of(
      PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
      PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_READ,
      PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);

  private StagingDir() {}

  /** This user's staging directory under {@code java.io.tmpdir}, created or checked. */
  static Path forThisUser() throws IOException {
    return under(Path.of(System.getProperty("java.io.tmpdir")));
  }

  /**
   * This user's staging directory under {@code base}, created {@code 0700} when absent.
   *
   * @throws PartFile.UnsafePart when it exists and is not a private directory of this user
   */
  static Path under(Path base) throws IOException {
    String user = System.getProperty("user.name", "user").replaceAll("[^A-Za-z0-9._-]", "_");
    Path dir = base.resolve("flashlm-download-" + user);
    boolean posix = posix(dir);
    Files.createDirectories(base);
    try {
      if (posix) {
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(DIR_PERMISSIONS));
      } else {
        Files.createDirectory(dir);
      }
    } catch (FileAlreadyExistsException exists) {
      // checked below, as a directory created by someone else would be
    }
    if (posix) {
      check(dir);
    }
    return dir;
  }

  /** The attribute that creates a file {@code 0600} where POSIX permissions exist. */
  static FileAttribute<?>[] privateFile(Path file) {
    return posix(file) ? new FileAttribute<?>[] {
        PosixFilePermissions.asFileAttribute(FILE_PERMISSIONS)} : new FileAttribute<?>[0];
  }

  private static void check(Path dir) throws IOException {
    PosixFileAttributes a = Files.readAttributes(dir, PosixFileAttributes.class,
        LinkOption.NOFOLLOW_LINKS);
    String problem = null;
    if (a.isSymbolicLink()) {
      problem = "is a symbolic link";
    } else if (!a.isDirectory()) {
      problem = "is not a directory";
    } else {
      Object uid = Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
      long mine = new com.sun.security.auth.module.UnixSystem().getUid();
      if (uid instanceof Integer u && u.longValue() != mine) {
        problem = "is owned by " + a.owner().getName() + " (uid " + u + "), not by this user"
            + " (uid " + mine + ")";
      } else if (a.permissions().stream().anyMatch(GROUP_OR_OTHERS::contains)) {
        problem = "has permissions " + PosixFilePermissions.toString(a.permissions())
            + ": group or others may use it";
      }
    }
    if (problem != null) {
      throw new PartFile.UnsafePart("the staging directory for download parts " + dir + " "
          + problem + "; it must be a directory of this user with permissions rwx------."
          + " Remove it (or point java.io.tmpdir at a directory of your own) and run again");
    }
  }

  private static boolean posix(Path p) {
    return p.getFileSystem().supportedFileAttributeViews().contains("posix");
  }
}
