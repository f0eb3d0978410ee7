package flashlm.pipeline.hub;

import flashlm.config.ConfigException;
import java.io.IOException;
import java.io.Serializable;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The hub token from {@code token_file} or env {@code HF_TOKEN}, or none. It travels to Spark
 * tasks inside the task closure; {@link #toString()} never shows it, and nothing writes it
 * anywhere but the {@code Authorization} header of requests to the hub endpoint, and only where
 * it {@link #mayGoTo may go}: over https, or over plain http to a loopback address.
 */
final class HubToken implements Serializable {
  private static final long serialVersionUID = 1L;
  /** What a HuggingFace user access token looks like. */
  private static final Pattern HF_TOKEN = Pattern.compile("hf_[A-Za-z0-9]+");
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

  /** Whether the token may be sent to {@code uri}: https, or http to a loopback address. */
  static boolean mayGoTo(URI uri) {
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    return scheme.equals("https") || scheme.equals("http") && isLoopback(uri.getHost());
  }

  /** A loopback host written out ({@code localhost}, {@code 127.x.y.z}, {@code ::1}): no DNS. */
  static boolean isLoopback(String host) {
    if (host == null) {
      return false;
    }
    String h = host.toLowerCase(Locale.ROOT);
    if (h.startsWith("[") && h.endsWith("]")) {
      h = h.substring(1, h.length() - 1);
    }
    return h.equals("localhost") || h.equals("::1") || h.equals("0:0:0:0:0:0:0:1")
        || h.matches("127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");
  }

  boolean present() {
    return value != null;
  }

  /** The header value; used only to set {@code Authorization}. */
  String bearer() {
    return "Bearer " + value;
  }

  /**
   * {@code text} (an error body or header the server sent, a message built from one) without
   * this token and without anything that looks like a hub token ({@code hf_...}): a server may
   * echo the request's {@code Authorization} back, and messages end up in logs. The one place
   * such text is cleaned before it is copied into a message.
   */
  String redact(String text) {
    if (text == null) {
      return null;
    }
    String out = value == null ? text : text.replace(value, "***");
    return HF_TOKEN.matcher(out).replaceAll("hf_***");
  }

  @Override
  public String toString() {
    return present() ? "HubToken(***)" : "HubToken(none)";
  }
}
