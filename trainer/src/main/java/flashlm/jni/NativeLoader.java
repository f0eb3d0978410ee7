package flashlm.jni;

import flashlm.hash.Sha256;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Locale;

/**
 * Loads libflashlm once per JVM. The flashlm-native jar carries the library as the classpath
 * resource {@code flashlm/native/<os>-<arch>/libflashlm.so} (e.g. {@code linux-x86_64},
 * {@code linux-aarch64}); it is extracted once into a per-user cache directory named by the
 * SHA-256 of its content ({@code $XDG_CACHE_HOME/flashlm/native/<hash>/}, else {@code
 * ~/.cache/...}, else {@code <java.io.tmpdir>/flashlm-native-<user>/...}), so concurrent JVMs and
 * executors share one file and a new build never reuses a stale one.
 *
 * <p>On a shared host another user must not be able to put code into this JVM, so:
 *
 * <ul>
 *   <li>The cache directory and the hash directory inside it are created 0700. Existing ones
 *       are used only if they are directories (not symbolic links) owned by this user and not
 *       writable by group or others; no directory above them may be writable by others unless
 *       it is sticky (like {@code /tmp}). Anything else is refused with a message naming the
 *       directory and the properties below. (A group-writable directory above is accepted: with
 *       the common umask 002 every directory a user makes is, and the group is the user's own.)
 *   <li>An extracted file is reused only if it is a regular file (not a link) of this user, not
 *       writable by group or others, with the resource's hash; otherwise a fresh copy is written
 *       to a temporary file and renamed over it (replacing a planted link, never following it).
 *   <li>Right before {@code System.load}, the directory checks run again and the file is hashed
 *       again and compared with the resource's hash. Java cannot load a library from an open
 *       descriptor portably (Linux's {@code /proc/self/fd/N} needs the descriptor number, which
 *       no public API gives), so the guarantee comes from the directories instead: once the
 *       file is verified, only this user (or root) can replace it before the load, and they can
 *       change this JVM anyway.
 * </ul>
 *
 * <p>System properties: {@code -Dflashlm.native.path=/path/libflashlm.so} loads that file as
 * given (the user vouches for it); {@code -Dflashlm.native.cache=DIR} sets the cache directory.
 */
public final class NativeLoader {
  /** Loads this library file instead of the one inside the jar. */
  public static final String PATH_PROPERTY = "flashlm.native.path";
  /** The directory the library is extracted into. */
  public static final String CACHE_PROPERTY = "flashlm.native.cache";

  private static final String LIB = "libflashlm.so";
  /** st_mode bits: sticky, group or others write, others write. */
  private static final int STICKY = 01000;
  private static final int GROUP_OTHERS_WRITE = 0022;
  private static final int OTHERS_WRITE = 0002;

  private static Path loaded;

  private NativeLoader() {}

  /**
   * Loads the library if this JVM has not yet, and returns the file loaded.
   *
   * @throws UnsatisfiedLinkError naming the platform and what is missing, or the directory that
   *     is not private and what to do
   */
  public static synchronized Path load() {
    if (loaded != null) {
      return loaded;
    }
    String override = System.getProperty(PATH_PROPERTY);
    Path lib;
    if (override != null && !override.isBlank()) {
      lib = Path.of(override).toAbsolutePath();
      if (!Files.isRegularFile(lib)) {
        throw new UnsatisfiedLinkError("-D" + PATH_PROPERTY + "=" + override + ": no such file");
      }
    } else {
      String resource = resourceName();
      byte[] bytes = readResource(resource);
      String hash = Sha256.hex(bytes);
      lib = install(resource, bytes, hash, cacheRoot());
      verifyBeforeLoad(lib, hash);
    }
    try {
      System.load(lib.toString());
    } catch (UnsatisfiedLinkError e) {
      UnsatisfiedLinkError err = new UnsatisfiedLinkError("cannot load " + lib + " on " + platform()
          + " (it needs glibc and libgomp, the GCC OpenMP runtime): " + e.getMessage());
      err.initCause(e);
      throw err;
    }
    loaded = lib;
    return lib;
  }

  /** {@code <os>-<arch>} of this JVM as the jar names it, e.g. {@code linux-x86_64}. */
  public static String platform() {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
    String o = os.startsWith("linux") ? "linux"
        : os.startsWith("mac") ? "macos"
        : os.replaceAll("[^a-z0-9]", "");
    String a = switch (arch) {
      case "amd64", "x86_64", "x64" -> "x86_64";
      case "aarch64", "arm64" -> "aarch64";
      default -> arch;
    };
    return o + "-" + a;
  }

  /** The classpath resource holding the library for this platform. */
  public static String resourceName() {
    return "flashlm/native/" + platform() + "/" + LIB;
  }

  /**
   * Copies {@code resource} to {@code root/<sha256 prefix>/libflashlm.so} unless an identical
   * file of this user is already there (see the class comment for the checks).
   */
  static Path extract(String resource, Path root) {
    byte[] bytes = readResource(resource);
    return install(resource, bytes, Sha256.hex(bytes), root);
  }

  private static byte[] readResource(String resource) {
    try (InputStream in = NativeLoader.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new UnsatisfiedLinkError("no libflashlm for " + platform() + " (os.name="
            + System.getProperty("os.name") + ", os.arch=" + System.getProperty("os.arch")
            + "): the classpath has no resource " + resource + ". The flashlm-native jar carries "
            + "the platforms it was built on (linux-x86_64, linux-aarch64); build it here with "
            + "`mvn -pl native package` (needs gcc), or set -D" + PATH_PROPERTY
            + "=/path/libflashlm.so");
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw linkError("cannot read the classpath resource " + resource, e);
    }
  }

  private static Path install(String resource, byte[] bytes, String hash, Path root) {
    Path dir = root.resolve(hash.substring(0, 16));
    try {
      dir = privateDir(privateDir(root).resolve(dir.getFileName()));
      Path lib = dir.resolve(LIB);
      if (ownFile(lib) && Files.size(lib) == bytes.length
          && Sha256.hex(Files.readAllBytes(lib)).equals(hash)) {
        return lib;
      }
      Path tmp = Files.createTempFile(dir, "libflashlm", ".tmp"); // 0600
      try {
        Files.write(tmp, bytes);
        Files.move(tmp, lib, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } finally {
        Files.deleteIfExists(tmp);
      }
      return lib;
    } catch (IOException e) {
      throw linkError("cannot extract " + resource + " into " + dir + " (set -D" + CACHE_PROPERTY
          + "=DIR to a writable directory, or -D" + PATH_PROPERTY + ")", e);
    }
  }

  /**
   * Checks, right before loading, that {@code lib} still sits in private directories, is a
   * regular file of this user that only this user can write, and has the SHA-256 {@code hash}.
   */
  static void verifyBeforeLoad(Path lib, String hash) {
    try {
      privateDir(lib.getParent().getParent());
      privateDir(lib.getParent());
      if (!ownFile(lib)) {
        throw new UnsatisfiedLinkError(lib + " is not a regular file of this user that only this "
            + "user can write; remove it and load again");
      }
      if (!Sha256.hex(Files.readAllBytes(lib)).equals(hash)) {
        throw new UnsatisfiedLinkError(lib + " changed after extraction (its SHA-256 is not the "
            + "jar's " + hash + "); remove it and load again");
      }
    } catch (IOException e) {
      throw linkError("cannot check " + lib + " before loading it", e);
    }
  }

  /**
   * Creates {@code dir} (0700) if missing, with any missing parents, then refuses it unless it is
   * a directory, not a link, owned by this user and not writable by group or others, and no
   * directory above it is writable by others without the sticky bit (else anyone could rename
   * {@code dir} away and put their own in its place).
   *
   * @return {@code dir} below the real path of its parent, so the path later loaded goes through
   *     no link and only through the directories checked here
   */
  static Path privateDir(Path dir) throws IOException {
    dir = dir.toAbsolutePath().normalize();
    if (dir.getParent() == null) {
      throw notPrivate(dir, "the file system root is no place for the library");
    }
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      Files.createDirectories(dir.getParent());
      try {
        Files.createDirectory(dir,
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      } catch (FileAlreadyExistsException e) {
        // another JVM made it at the same moment: checked like any existing directory
      }
    }
    dir = dir.getParent().toRealPath().resolve(dir.getFileName());
    int uid = currentUid();
    if (Files.isSymbolicLink(dir)) {
      throw notPrivate(dir, dir + " is a symbolic link");
    }
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      throw notPrivate(dir, dir + " is not a directory");
    }
    int owner = (Integer) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    int mode = (Integer) Files.getAttribute(dir, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    if (owner != uid) {
      throw notPrivate(dir, dir + " is owned by uid " + owner + ", not by this user (uid " + uid
          + ")");
    }
    if ((mode & GROUP_OTHERS_WRITE) != 0) {
      throw notPrivate(dir, dir + " is writable by group or others (mode "
          + Integer.toOctalString(mode & 07777) + "), so another user could replace the library");
    }
    for (Path up = dir.getParent(); up != null; up = up.getParent()) { // a real path: no links
      int m = (Integer) Files.getAttribute(up, "unix:mode");
      if ((m & OTHERS_WRITE) != 0 && (m & STICKY) == 0) {
        throw notPrivate(dir, "the directory " + up + " above it is writable by others without "
            + "the sticky bit (mode " + Integer.toOctalString(m & 07777) + "), so anyone could "
            + "put a directory of their own in its place");
      }
    }
    return dir;
  }

  /** A regular file (not a link) owned by this user and not writable by group or others. */
  private static boolean ownFile(Path f) throws IOException {
    return Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)
        && (Integer) Files.getAttribute(f, "unix:uid", LinkOption.NOFOLLOW_LINKS) == currentUid()
        && ((Integer) Files.getAttribute(f, "unix:mode", LinkOption.NOFOLLOW_LINKS)
            & GROUP_OTHERS_WRITE) == 0;
  }

  /**
   * The uid that owns the files this process creates: Linux's filesystem uid (the fourth number
   * of "Uid:" in /proc/self/status), elsewhere the owner of a fresh temporary file. (Neither
   * {@code user.name}, which may be "?" in a container, nor a user name lookup is reliable.)
   */
  static int currentUid() throws IOException {
    Path status = Path.of("/proc/self/status");
    if (Files.isReadable(status)) {
      List<String> uid = Files.readAllLines(status).stream().filter(l -> l.startsWith("Uid:"))
          .map(l -> l.substring(4).trim()).toList();
      if (uid.size() == 1) {
        String[] ids = uid.get(0).split("\\s+");
        return Integer.parseInt(ids[ids.length - 1]);
      }
    }
    Path probe = Files.createTempFile("flashlm-uid", ".tmp");
    try {
      return (Integer) Files.getAttribute(probe, "unix:uid");
    } finally {
      Files.delete(probe);
    }
  }

  private static UnsatisfiedLinkError notPrivate(Path dir, String problem) {
    return new UnsatisfiedLinkError("refusing to extract or load libflashlm in " + dir + ": "
        + problem + ". Make it private to you (chmod 700, owned by you) or remove it, or set -D"
        + CACHE_PROPERTY + "=DIR to a directory only you can write (or -D" + PATH_PROPERTY
        + "=/path/libflashlm.so to load a file you trust)");
  }

  /**
   * The cache root: the property, else the user's cache directory if usable, else tmpdir. A
   * relative XDG_CACHE_HOME (invalid by its spec) or user.home (the JVM sets "?" for a uid
   * without a passwd entry, common in containers) is skipped: it would put the cache under the
   * working directory.
   */
  static Path cacheRoot() {
    String prop = System.getProperty(CACHE_PROPERTY);
    if (prop != null && !prop.isBlank()) {
      return Path.of(prop);
    }
    String xdg = System.getenv("XDG_CACHE_HOME");
    Path home = Path.of(System.getProperty("user.home", "?"));
    Path base = xdg != null && Path.of(xdg).isAbsolute() ? Path.of(xdg)
        : home.isAbsolute() ? home.resolve(".cache") : null;
    if (base != null) {
      Path root = base.resolve("flashlm").resolve("native");
      try {
        Files.createDirectories(root.getParent());
        if (Files.isWritable(root.getParent())) {
          return root;
        }
      } catch (IOException e) {
        // a read-only or missing home: use tmpdir
      }
    }
    String user = System.getProperty("user.name", "user").replaceAll("[^A-Za-z0-9._-]", "_");
    return Path.of(System.getProperty("java.io.tmpdir"), "flashlm-native-" + user).toAbsolutePath();
  }

  private static UnsatisfiedLinkError linkError(String message, Exception cause) {
    UnsatisfiedLinkError err = new UnsatisfiedLinkError(message + ": " + cause);
    err.initCause(cause);
    return err;
  }
}
