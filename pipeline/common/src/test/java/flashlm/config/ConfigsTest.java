package flashlm.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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

  /**
   * A variable whose name looks like a credential is refused wherever it is used: no setting of
   * any config is a credential, and a resolved config is stored in tables, checkpoints and logs.
   * The message names the file, the key and the variable, never the value.
   */
  @ParameterizedTest
  @ValueSource(strings = {"HF_TOKEN", "hf_token", "GITHUB_TOKEN", "MY_SECRET", "DB_PASSWORD",
      "API_KEY", "fs.s3a.access.key", "fs.s3a.bucket.b.secret.key", "AWS_REGION",
      "aws_session_token", "TOKENIZER_DIR"})
  void aVariableThatLooksLikeACredentialIsRefusedNamingTheFileAndKey(String name)
      throws IOException {
    String secret = "hf_" + "s3cr3tValue0123456789abcdefghij";
    System.setProperty(name, secret);
    try {
      Path f = write("s.yaml", "inner:\n  name: 'x-${" + name + "}'\n");
      ConfigException e = assertThrows(ConfigException.class,
          () -> Configs.load(f, Outer.class, List.of()));
      assertTrue(e.getMessage().contains("s.yaml") && e.getMessage().contains("'inner.name'")
          && e.getMessage().contains("${" + name + "}")
          && e.getMessage().contains("looks like a credential"), e.getMessage());
      assertTrue(!e.getMessage().contains(secret), e.getMessage());
      Outer literal = Configs.load(null, Outer.class, List.of("inner.name=$${" + name + "}"));
      assertEquals("${" + name + "}", literal.inner().name());
    } finally {
      System.clearProperty(name);
    }
  }

  @Test
  void redactedMasksCredentialKeysAndHubTokensAndKeepsEverythingElse() throws IOException {
    JsonNode tree = Configs.json().readTree("""
        {"tokenizer": "/t/tokenizer.json", "bos_token": "<s>", "eos_token": "</s>",
         "token_file": "/home/me/.hf-token", "max_tokens": 5, "seq_len": 256,
         "hadoop": {"fs.s3a.access.key": "AKIAEXAMPLE", "fs.s3a.secret.key": "abc",
                    "fs.s3a.session.token": "t", "fs.s3a.aws.credentials.provider": "P",
                    "fs.s3a.endpoint": "http://127.0.0.1:9000"},
         "auth": {"hfToken": "x", "apiKey": "y", "password": "z", "AWS_SECRET_ACCESS_KEY": "w",
                  "credentials": {"user": "u", "pass": "p"}},
         "files": ["a.txt", "hf_abcdefghijklmnopqrstuvwxyz0123",
                   "https://x/?t=hf_ABCDEFGHIJKLMNOPQRSTUVWXYZ"],
         "revision": "main"}""");
    String before = tree.toString();
    JsonNode r = Configs.redacted(tree);
    assertEquals(before, tree.toString(), "the argument is not changed");
    String m = Configs.MASK;
    assertEquals("/t/tokenizer.json", r.get("tokenizer").asText());
    assertEquals("<s>", r.get("bos_token").asText());
    assertEquals("</s>", r.get("eos_token").asText());
    assertEquals("/home/me/.hf-token", r.get("token_file").asText());
    assertEquals(5, r.get("max_tokens").asInt());
    assertEquals(256, r.get("seq_len").asInt());
    JsonNode h = r.get("hadoop");
    assertEquals(m, h.get("fs.s3a.access.key").asText());
    assertEquals(m, h.get("fs.s3a.secret.key").asText());
    assertEquals(m, h.get("fs.s3a.session.token").asText());
    assertEquals("P", h.get("fs.s3a.aws.credentials.provider").asText());
    assertEquals("http://127.0.0.1:9000", h.get("fs.s3a.endpoint").asText());
    JsonNode a = r.get("auth");
    for (String k : List.of("hfToken", "apiKey", "password", "AWS_SECRET_ACCESS_KEY",
        "credentials")) {
      assertEquals(m, a.get(k).asText(), k);
    }
    assertEquals("a.txt", r.get("files").get(0).asText());
    assertEquals(m, r.get("files").get(1).asText());
    assertEquals("https://x/?t=" + m, r.get("files").get(2).asText());
    assertEquals("main", r.get("revision").asText());
  }

  @Test
  void toJsonIsRedacted() {
    record Creds(String accessKey, String endpoint) {}
    String json = Configs.toJson(new Creds("AKIAEXAMPLE", "http://e"));
    assertTrue(!json.contains("AKIAEXAMPLE") && json.contains(Configs.MASK)
        && json.contains("http://e"), json);
  }
}
