package flashlm.pipeline.hub;

import flashlm.config.ConfigException;
import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The hub token from {@code token_file} or env {@code HF_TOKEN}, or none. It travels to Spark
 * tasks inside the task closure; {@link #toString()} never shows it, and nothing writes it
 * anywhere but the {@code Authorization} header of requests to the hub endpoint.
 */
final class HubToken implements Serializable {
  private static final long serialVersionUID = 1L;
  static final HubToken NONE = new HubToken(null);
  private final String value;

  private HubToken(String value) {
    this.value = value;
  }

  /** The config's {@code token_file} when set, else {@code HF_TOKEN} from {@code env}. */
  static HubToken resolve(DownloadConfig cfg, Map<String, String> env) {
    return cfg.tokenFile() == null ? fromEnv(env) : fromFile(Path.of(cfg.tokenFile()));
  }

  /** The first line of {@code file}; an empty file means no token. */
  static HubToken fromFile(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      // The message names the file only: its content is the secret.
      throw new ConfigException("cannot read token_file " + file + ": "
          + e.getClass().getSimpleName(), e);
    }
    String token = text.lines().findFirst().orElse("").strip();
    return token.isEmpty() ? NONE : new HubToken(token);
  }

  /** {@code HF_TOKEN} from {@code env}, ignoring a blank one. */
  static HubToken fromEnv(Map<String, String> env) {
    String token = env.get("HF_TOKEN");
    return token == null || token.isBlank() ? NONE : new HubToken(token.strip());
  }

  boolean present() {
    return value != null;
  }

  /** The header value; used only to set {@code Authorization}. */
  String bearer() {
    return "Bearer " + value;
  }

  @Override
  public String toString() {
    return present() ? "HubToken(***)" : "HubToken(none)";
  }
}
