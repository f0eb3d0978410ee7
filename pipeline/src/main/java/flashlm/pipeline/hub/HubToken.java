package flashlm.pipeline.hub;

import java.io.Serializable;
import java.util.Map;

/**
 * The hub token from env {@code HF_TOKEN}, or none. It travels to Spark tasks inside the task
 * closure; {@link #toString()} never shows it, and nothing writes it anywhere but the {@code
 * Authorization} header of requests to the hub endpoint.
 */
final class HubToken implements Serializable {
  private static final long serialVersionUID = 1L;
  static final HubToken NONE = new HubToken(null);
  private final String value;

  private HubToken(String value) {
    this.value = value;
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
