package flashlm.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigsTest {
  @TempDir Path dir;

  record Inner(Integer depth, String name) {
    Inner {
      depth = depth == null ? 3 : depth;
      if (depth < 0) {
        throw ConfigException.badValue("inner.depth", depth, "a non-negative integer");
      }
    }
  }

  record Outer(Integer seqLen, List<String> files, Inner inner) {
    Outer {
      seqLen = seqLen == null ? 1024 : seqLen;
      files = files == null ? List.of() : List.copyOf(files);
      inner = inner == null ? new Inner(null, null) : inner;
    }
  }

  private Path write(String name, String text) throws IOException {
    Path p = dir.resolve(name);
    Files.writeString(p, text);
    return p;
  }

  @Test
  void readsYamlWithSnakeCaseKeysAndDefaults() throws IOException {
    Path f = write("a.yaml", "seq_len: 256\ninner:\n  name: x\n");
    Outer o = Configs.load(f, Outer.class, List.of());
    assertEquals(256, o.seqLen());
    assertEquals(3, o.inner().depth());
    assertEquals("x", o.inner().name());
  }

  @Test
  void readsJsonAndAppliesOverridesInOrder() throws IOException {
    Path f = write("a.json", "{\"seq_len\": 256}");
    Outer o = Configs.load(f, Outer.class,
        List.of("seq_len=128", "inner.depth=7", "files=[a.txt, b.txt]", "seq_len=64"));
    assertEquals(64, o.seqLen());
    assertEquals(7, o.inner().depth());
    assertEquals(List.of("a.txt", "b.txt"), o.files());
  }

  @Test
  void unknownKeyIsNamedWithTheFile() throws IOException {
    Path f = write("a.yaml", "inner:\n  dept: 4\n");
    ConfigException e = assertThrows(ConfigException.class,
        () -> Configs.load(f, Outer.class, List.of()));
    assertTrue(e.getMessage().contains("a.yaml"), e.getMessage());
    assertTrue(e.getMessage().contains("'inner.dept'"), e.getMessage());
    assertTrue(e.getMessage().contains("depth"), "lists the known keys: " + e.getMessage());
  }

  @Test
  void wrongTypeIsNamed() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> Configs.load(null, Outer.class, List.of("seq_len=lots")));
    assertTrue(e.getMessage().contains("'seq_len'"), e.getMessage());
  }

  @Test
  void validationErrorFromTheRecordIsNamed() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> Configs.load(null, Outer.class, List.of("inner.depth=-1")));
    assertTrue(e.getMessage().contains("inner.depth"), e.getMessage());
  }

  @Test
  void malformedOverrideIsRejected() {
    assertThrows(ConfigException.class, () -> Configs.load(null, Outer.class, List.of("seq_len")));
    assertThrows(ConfigException.class,
        () -> Configs.load(null, Outer.class, List.of("seq_len=1", "seq_len.x=2")));
  }

  @Test
  void missingFileIsNamed() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> Configs.load(dir.resolve("nope.yaml"), Outer.class, List.of()));
    assertTrue(e.getMessage().contains("nope.yaml"), e.getMessage());
  }

  @Test
  void resolvedConfigRoundTripsThroughJson() {
    Outer o = Configs.load(null, Outer.class, List.of("files=[x]"));
    String json = Configs.toJson(o);
    assertTrue(json.contains("\"seq_len\" : 1024"), json);
    assertEquals(o, Configs.bind(Configs.json().valueToTree(o), Outer.class, "json"));
  }

  @Test
  void substitutesSystemPropertiesAndEnvironmentInStrings() throws IOException {
    System.setProperty("flashlm.test.home", "/opt/x");
    try {
      Path f = write("v.yaml", "files: ['${flashlm.test.home}/a.txt', '$${literal}']\n"
          + "inner:\n  name: ${PATH}\n");
      Outer o = Configs.load(f, Outer.class, List.of());
      assertEquals(List.of("/opt/x/a.txt", "${literal}"), o.files());
      assertEquals(System.getenv("PATH"), o.inner().name());
    } finally {
      System.clearProperty("flashlm.test.home");
    }
  }

  @Test
  void anUnsetVariableIsAnErrorNamingTheKey() throws IOException {
    Path f = write("v.yaml", "files: [a, '${FLASHLM_SURELY_UNSET_42}/b']\n");
    ConfigException e = assertThrows(ConfigException.class,
        () -> Configs.load(f, Outer.class, List.of()));
    assertTrue(e.getMessage().contains("files[1]") && e.getMessage().contains("v.yaml")
        && e.getMessage().contains("FLASHLM_SURELY_UNSET_42"), e.getMessage());
  }
}
