package flashlm.tests.hub;

import flashlm.pipeline.hub.DownloadConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Repos on a {@link HubServer} built from the test fixtures, under the real datasets' names, for
 * any test that needs "the hub fixture" (download, then ingest and tokenize).
 */
public final class HubFixtures {
  /** TinyStories' train file name on the hub; served with the 2 MiB fixture excerpt. */
  public static final String TINYSTORIES_TRAIN = "TinyStoriesV2-GPT4-train.txt";
  /** TinyStories' validation file name on the hub; served with the 794 KB fixture excerpt. */
  public static final String TINYSTORIES_VALID = "TinyStoriesV2-GPT4-valid.txt";
  /** The pattern that selects the two files, as in the issue. */
  public static final String TINYSTORIES_PATTERN = "TinyStoriesV2-GPT4-{train,valid}.txt";

  private HubFixtures() {}

  /**
   * A TinyStories-like dataset repo {@code id}: the two text files (LFS) with the fixture
   * excerpts, plus files the pattern must not select (README, .gitattributes, an older file).
   */
  public static HubServer.Repo tinyStories(HubServer server, String id) {
    return server.repo(id)
        .addLfsFile(TINYSTORIES_TRAIN, resource("tinystories/tinystories_train_prefix_2MiB.txt"))
        .addLfsFile(TINYSTORIES_VALID,
            resource("tinystories/tinystories_validation_head_794KB.txt"))
        .addFile("README.md", "---\nlicense: cdla-sharing-1.0\n---\n# TinyStories\n"
            .getBytes(StandardCharsets.UTF_8))
        .addFile(".gitattributes", "*.txt filter=lfs diff=lfs merge=lfs -text\n"
            .getBytes(StandardCharsets.UTF_8))
        .addLfsFile("TinyStories-train.txt", new byte[] {'o', 'l', 'd'})
        .addFile("data/notes.json", "{}".getBytes(StandardCharsets.UTF_8));
  }

  /**
   * A download of {@code patterns} of {@code repo} at {@code main} from the loopback hub into
   * {@code dest}: 3 fast retries, 10 s timeouts, no token file. {@code more} adds or replaces
   * config keys as (snake_case key, value) pairs.
   */
  public static DownloadConfig download(HubServer server, String repo, List<String> patterns,
      String dest, Object... more) {
    Map<String, Object> keys = new LinkedHashMap<>(Map.of("repo", repo, "revision", "main",
        "patterns", patterns, "endpoint", server.endpoint(), "dest", dest, "max_retries", 3,
        "timeout_seconds", 10, "retry_backoff_ms", 10));
    for (int i = 0; i < more.length; i += 2) {
      keys.put((String) more[i], more[i + 1]);
    }
    return DownloadConfig.of(keys);
  }

  /** The bytes of {@code fixtures/NAME} on the test classpath. */
  public static byte[] resource(String name) {
    try (InputStream in = HubFixtures.class.getResourceAsStream("/fixtures/" + name)) {
      if (in == null) {
        throw new IllegalStateException("fixture not on the test classpath: fixtures/" + name);
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read fixtures/" + name, e);
    }
  }
}
