package flashlm.jni;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Extraction into a content-addressed cache that only this user can write, the checks before
 * loading, and the errors when the library is missing.
 */
class NativeLoaderTest {
  private static final Set<PosixFilePermission> PRIVATE =
      PosixFilePermissions.fromString("rwx------");

  @TempDir
  Path cache;

  @Test
  void extractsOnceIntoADirectoryNamedByContent() throws IOException {
    String resource = NativeLoader.resourceName();
    Path lib = NativeLoader.extract(resource, cache);
    assertEquals("libflashlm.so", lib.getFileName().toString());
    assertEquals(16, lib.getParent().getFileName().toString().length());
    byte[] want;
    try (InputStream in = getClass().getClassLoader().getResourceAsStream(resource)) {
      want = in.readAllBytes();
    }
    assertArrayEquals(want, Files.readAllBytes(lib));
    long modified = Files.getLastModifiedTime(lib).toMillis();
    assertEquals(lib, NativeLoader.extract(resource, cache));
    assertEquals(modified, Files.getLastModifiedTime(lib).toMillis(),
        "an identical file is reused");
    Files.write(lib, new byte[] {1, 2, 3}); // a damaged copy is replaced
    assertArrayEquals(want, Files.readAllBytes(NativeLoader.extract(resource, cache)));
  }

  @Test
  void aMissingPlatformNamesWhatIsMissing() {
    UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class,
        () -> NativeLoader.extract("flashlm/native/plan9-mips/libflashlm.so", cache));
    assertTrue(e.getMessage().contains("flashlm/native/plan9-mips/libflashlm.so"), e.getMessage());
    assertTrue(e.getMessage().contains("os.arch="), e.getMessage());
    assertTrue(e.getMessage().contains(NativeLoader.PATH_PROPERTY), e.getMessage());
  }

  @Test
  void loadsOnceAndNamesThisPlatform() {
    Path first = NativeLoader.load();
    assertEquals(first, NativeLoader.load());
    assertTrue(NativeLoader.platform().matches("[a-z0-9]+-[a-z0-9_]+"), NativeLoader.platform());
  }

  @Test
  void createsTheCacheDirectoriesPrivate() throws IOException {
    Path root = cache.resolve("new").resolve("native");
    Path lib = NativeLoader.extract(NativeLoader.resourceName(), root);
    assertEquals(PRIVATE, Files.getPosixFilePermissions(root));
    assertEquals(PRIVATE, Files.getPosixFilePermissions(lib.getParent()));
  }

  @Test
  void refusesAWorldWritableCacheDirectory() throws IOException {
    Path root = Files.createDirectory(cache.resolve("shared"));
    Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxrwxrwx"));
    UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class,
        () -> NativeLoader.extract(NativeLoader.resourceName(), root));
    assertTrue(e.getMessage().contains(root + " is writable by group or others"), e.getMessage());
    assertTrue(e.getMessage().contains("-D" + NativeLoader.CACHE_PROPERTY + "="), e.getMessage());
    try (Stream<Path> files = Files.list(root)) {
      assertEquals(0, files.count(), "nothing was extracted");
    }
  }

  @Test
  void refusesAGroupWritableLibraryDirectory() throws IOException {
    Path lib = NativeLoader.extract(NativeLoader.resourceName(), cache);
    Files.setPosixFilePermissions(lib.getParent(), PosixFilePermissions.fromString("rwxrwx---"));
    UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class,
        () -> NativeLoader.extract(NativeLoader.resourceName(), cache));
    assertTrue(e.getMessage().contains(lib.getParent() + " is writable by group or others"),
        e.getMessage());
  }

  @Test
  void refusesACacheDirectoryBelowAWorldWritableDirectoryWithoutTheStickyBit()
      throws IOException {
    Path open = Files.createDirectory(cache.resolve("open"));
    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
    UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class,
        () -> NativeLoader.extract(NativeLoader.resourceName(), open.resolve("native")));
    assertTrue(e.getMessage().contains("the directory " + open + " above it is writable by "
        + "others without the sticky bit"), e.getMessage());
    // the same with the sticky bit (like /tmp) or writable by the group only (umask 002) is fine
    Files.setAttribute(open, "unix:mode", 01777);
    NativeLoader.extract(NativeLoader.resourceName(), open.resolve("native"));
    Path team = Files.createDirectory(cache.resolve("team"));
    Files.setPosixFilePermissions(team, PosixFilePermissions.fromString("rwxrwxr-x"));
    NativeLoader.extract(NativeLoader.resourceName(), team.resolve("native"));
  }

  @Test
  void refusesACacheDirectoryOwnedBySomeoneElse() throws IOException {
    Path root;
    if (NativeLoader.currentUid() == 0) { // root can give a directory away
      root = Files.createDirectory(cache.resolve("theirs"));
      Files.setAttribute(root, "unix:uid", 65534);
    } else {
      root = Path.of("/usr"); // owned by root
    }
    UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class,
        () -> NativeLoader.extract(NativeLoader.resourceName(), root));
    assertTrue(e.getMessage().contains(root + " is owned by uid "), e.getMessage());
    assertTrue(e.getMessage().contains(NativeLoader.CACHE_PROPERTY), e.getMessage());
  }

  @Test
  void refusesASymbolicLinkAsTheCacheDirectory() throws IOException {
    Path real = Files.createDirectory(cache.resolve("real"),
        PosixFilePermissions.asFileAttribute(PRIVATE));
    Path link = Files.createSymbolicLink(cache.resolve("link"), real);
    UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class,
        () -> NativeLoader.extract(NativeLoader.resourceName(), link));
    assertTrue(e.getMessage().contains(link + " is a symbolic link"), e.getMessage());
  }

  @Test
  void aSymbolicLinkPlantedAtTheLibraryIsReplacedNotFollowed() throws IOException {
    Path lib = NativeLoader.extract(NativeLoader.resourceName(), cache);
    Path elsewhere = Files.copy(lib, cache.resolve("elsewhere.so"));
    Files.delete(lib);
    Files.createSymbolicLink(lib, elsewhere);
    assertEquals(lib, NativeLoader.extract(NativeLoader.resourceName(), cache));
    assertFalse(Files.isSymbolicLink(lib), "the link was replaced by a file of its own");
    assertTrue(Files.isRegularFile(elsewhere, LinkOption.NOFOLLOW_LINKS));
  }

  @Test
  void aLibraryChangedAfterExtractionIsRefusedAtLoad() throws Exception {
    String resource = NativeLoader.resourceName();
    Path lib = NativeLoader.extract(resource, cache);
    String hash;
    try (InputStream in = getClass().getClassLoader().getResourceAsStream(resource)) {
      hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(in.readAllBytes()));
    }
    NativeLoader.verifyBeforeLoad(lib, hash); // as extracted: fine
    byte[] bytes = Files.readAllBytes(lib);
    bytes[bytes.length / 2] ^= 1;
    Files.write(lib, bytes);
    UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class,
        () -> NativeLoader.verifyBeforeLoad(lib, hash));
    assertTrue(e.getMessage().contains(lib + " changed after extraction"), e.getMessage());
  }

  @Test
  void aRelativeHomeIsNotUsedForTheCache() {
    // a JVM whose uid has no passwd entry (containers) has user.home "?": not a place under cwd
    String home = System.getProperty("user.home");
    String cacheProp = System.clearProperty(NativeLoader.CACHE_PROPERTY);
    System.setProperty("user.home", "?");
    try {
      Path root = NativeLoader.cacheRoot();
      assertTrue(root.isAbsolute(), root.toString());
    } finally {
      System.setProperty("user.home", home);
      if (cacheProp != null) {
        System.setProperty(NativeLoader.CACHE_PROPERTY, cacheProp);
      }
    }
  }
}
