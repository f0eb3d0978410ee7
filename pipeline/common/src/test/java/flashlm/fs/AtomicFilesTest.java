package flashlm.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
  private static final String PRIMARY = "model.bin";
  private static final List<String> COMPANIONS = List.of("config.json", "model.bin.sha256");
  /** Steps of a set of one primary and two companions: withdraw 3, publish 3. */
  private static final int SET_STEPS = 6;

  @TempDir Path dir;

  private final Configuration conf = new Configuration();

  @AfterEach
  void noHook() {
    AtomicFiles.afterStep = null;
  }

  @Test
  void writeReplacesTheFileWholeAndLeavesNoTemporaryOrStaleChecksum() throws IOException {
    Path file = dir.resolve("sub/dir/a.json");
    AtomicFiles.write(conf, file.toString(), "old".getBytes(StandardCharsets.UTF_8));
    // as Hadoop's checksummed local filesystem leaves beside a file it wrote
    Files.writeString(dir.resolve("sub/dir/.a.json.crc"), "stale");
    AtomicFiles.write(conf, file.toUri().toString(), out -> {
      out.write("new".getBytes(StandardCharsets.UTF_8));
      out.close(); // a body that closes its stream publishes nothing early
    });
    assertEquals("new", Files.readString(file));
    assertEquals(List.of("a.json"), names(file.getParent()));
    assertArrayEquals("new".getBytes(StandardCharsets.UTF_8),
        HadoopFiles.readAll(conf, file.toString()), "Hadoop's reader finds no stale checksum");
  }

  @Test
  void aWriteThatFailsPublishesNothingAndLeavesNoTemporary() throws IOException {
    Path file = dir.resolve("a.bin");
    AtomicFiles.write(conf, file.toString(), new byte[] {1, 2, 3});
    UncheckedIOException e = assertThrows(UncheckedIOException.class,
        () -> AtomicFiles.write(conf, file.toString(), out -> {
          out.write(new byte[1 << 20]);
          throw new IOException("disk gone");
        }));
    assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("disk gone"),
        e.getMessage());
    assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(file));
    assertEquals(List.of("a.bin"), names(dir));
  }

  /**
   * A set publish stopped after each of its steps in turn (as a crash would stop it), or not at
   * all, and
   * watched at every step: whenever the primary file is there, its companions are its own; the
   * companions present are of one version; and the untouched old set survives a failure before
   * the swap.
   */
  @Test
  void aSetPublishInterruptedBetweenFilesShowsTheOldSetOrTheNewSetNeverAMix() throws IOException {
    for (int crashAfter = 1; crashAfter <= SET_STEPS + 1; crashAfter++) {
      Path d = Files.createDirectories(dir.resolve("run" + crashAfter));
      publish(d, "v1", null);
      Files.writeString(d.resolve("README.md"), "not part of the set");
      List<Map<String, String>> seen = new ArrayList<>();
      int stopAt = crashAfter;
      AtomicFiles.afterStep = step -> {
        seen.add(snapshot(d));
        if (seen.size() == stopAt) {
          throw new IOException("crash after " + step);
        }
      };
      if (crashAfter > SET_STEPS) {
        publish(d, "v2", null);
      } else {
        assertThrows(UncheckedIOException.class, () -> publish(d, "v2", null));
      }
      AtomicFiles.afterStep = null;
      seen.add(snapshot(d));
      for (Map<String, String> s : seen) {
        assertConsistent(s, "stopped after step " + crashAfter + ": " + seen);
      }
      assertEquals(crashAfter >= SET_STEPS ? "v2" : null, seen.get(seen.size() - 1).get(PRIMARY));
      assertTrue(Files.exists(d.resolve("README.md")), "other files stay");
      assertTrue(names(d).stream().noneMatch(n -> n.startsWith(AtomicFiles.TMP_PREFIX)),
          "no temporaries left: " + names(d));
    }
    Path d = Files.createDirectories(dir.resolve("early"));
    publish(d, "v1", null);
    assertThrows(UncheckedIOException.class, () -> publish(d, "v2", "config.json"));
    assertEquals(Map.of(PRIMARY, "v1", "config.json", "v1", "model.bin.sha256", "v1"),
        snapshot(d), "a companion that fails to write leaves the old set whole");
    assertEquals(3, names(d).size(), names(d).toString());
  }

  /** Writes the set with every file saying {@code version}; {@code failing} throws mid-write. */
  private void publish(Path d, String version, String failing) {
    Map<String, AtomicFiles.Body> companions = new LinkedHashMap<>();
    for (String c : COMPANIONS) {
      companions.put(c, out -> {
        out.write(version.getBytes(StandardCharsets.UTF_8));
        if (c.equals(failing)) {
          throw new IOException("disk gone");
        }
      });
    }
    AtomicFiles.writeSet(conf, d.resolve(PRIMARY).toString(),
        out -> out.write(version.getBytes(StandardCharsets.UTF_8)), companions);
  }

  /** The set's files a reader finds now, by name. */
  private static Map<String, String> snapshot(Path d) throws IOException {
    Map<String, String> out = new TreeMap<>();
    for (String n : Stream.concat(Stream.of(PRIMARY), COMPANIONS.stream()).toList()) {
      if (Files.exists(d.resolve(n))) {
        out.put(n, Files.readString(d.resolve(n)));
      }
    }
    return out;
  }

  private static void assertConsistent(Map<String, String> s, String what) {
    assertTrue(s.values().stream().distinct().count() <= 1, "mixed versions, " + what);
    if (s.containsKey(PRIMARY)) {
      assertEquals(1 + COMPANIONS.size(), s.size(), "a primary without its companions, " + what);
    }
  }

  private static List<String> names(Path d) throws IOException {
    try (Stream<Path> files = Files.list(d)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void aCompanionIsAFileNameBesideThePrimary() {
    assertThrows(IllegalArgumentException.class, () -> AtomicFiles.writeSet(conf,
        dir.resolve(PRIMARY).toString(), out -> {}, Map.of("../x", out -> {})));
    assertFalse(Files.exists(dir.resolve(PRIMARY)));
  }
}
