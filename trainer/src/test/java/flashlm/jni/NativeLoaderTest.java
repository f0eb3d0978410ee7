package flashlm.jni;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Extraction into a content-addressed cache and the errors when the library is missing. */
class NativeLoaderTest {
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
}
