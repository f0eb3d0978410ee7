package flashlm.jni;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/**
 * Loads libflashlm once per JVM. The flashlm-native jar carries the library as the classpath
 * resource {@code flashlm/native/<os>-<arch>/libflashlm.so} (e.g. {@code linux-x86_64},
 * {@code linux-aarch64}); it is extracted once into a per-user cache directory named by the
 * SHA-256 of its content ({@code $XDG_CACHE_HOME/flashlm/native/<hash>/}, else {@code
 * ~/.cache/...}, else {@code <java.io.tmpdir>/flashlm-native-<user>/...}), so concurrent JVMs and
 * executors share one file and a new build never reuses a stale one.
 *
 * <p>System properties: {@code -Dflashlm.native.path=/path/libflashlm.so} loads that file
 * instead; {@code -Dflashlm.native.cache=DIR} sets the cache directory.
 */
public final class NativeLoader {
  /** Loads this library file instead of the one inside the jar. */
  public static final String PATH_PROPERTY = "flashlm.native.path";
  /** The directory the library is extracted into. */
  public static final String CACHE_PROPERTY = "flashlm.native.cache";

  private static Path loaded;

  private NativeLoader() {}

  /**
   * Loads the library if this JVM has not yet, and returns the file loaded.
   *
   * @throws UnsatisfiedLinkError naming the platform and what is missing
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
      lib = extract(resourceName(), cacheRoot());
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
    return "flashlm/native/" + platform() + "/libflashlm.so";
  }

  /**
   * Copies {@code resource} to {@code root/<sha256 prefix>/libflashlm.so} unless an identical
   * file is already there; the copy is written to a temporary file and renamed into place.
   */
  static Path extract(String resource, Path root) {
    byte[] bytes;
    try (InputStream in = NativeLoader.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new UnsatisfiedLinkError("no libflashlm for " + platform() + " (os.name="
            + System.getProperty("os.name") + ", os.arch=" + System.getProperty("os.arch")
            + "): the classpath has no resource " + resource + ". The flashlm-native jar carries "
            + "the platforms it was built on (linux-x86_64, linux-aarch64); build it here with "
            + "`mvn -pl native package` (needs gcc), or set -D" + PATH_PROPERTY
            + "=/path/libflashlm.so");
      }
      bytes = in.readAllBytes();
    } catch (IOException e) {
      throw linkError("cannot read the classpath resource " + resource, e);
    }
    String hash = sha256(bytes);
    Path dir = root.resolve(hash.substring(0, 16));
    Path lib = dir.resolve("libflashlm.so");
    try {
      if (Files.isRegularFile(lib) && Files.size(lib) == bytes.length
          && sha256(Files.readAllBytes(lib)).equals(hash)) {
        return lib;
      }
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, "libflashlm", ".tmp");
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

  /** The cache root: the property, else the user's cache directory if writable, else tmpdir. */
  static Path cacheRoot() {
    String prop = System.getProperty(CACHE_PROPERTY);
    if (prop != null && !prop.isBlank()) {
      return Path.of(prop);
    }
    String xdg = System.getenv("XDG_CACHE_HOME");
    Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg)
        : Path.of(System.getProperty("user.home", "."), ".cache");
    Path root = base.resolve("flashlm").resolve("native");
    try {
      Files.createDirectories(root);
      if (Files.isWritable(root)) {
        return root;
      }
    } catch (IOException e) {
      // a read-only or missing home: use tmpdir
    }
    String user = System.getProperty("user.name", "user").replaceAll("[^A-Za-z0-9._-]", "_");
    return Path.of(System.getProperty("java.io.tmpdir"), "flashlm-native-" + user);
  }

  private static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  private static UnsatisfiedLinkError linkError(String message, Exception cause) {
    UnsatisfiedLinkError err = new UnsatisfiedLinkError(message + ": " + cause);
    err.initCause(cause);
    return err;
  }
}
