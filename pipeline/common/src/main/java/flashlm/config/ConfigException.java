package flashlm.config;

/** A config file or override that cannot be used; the message names the file and the key. */
public final class ConfigException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public ConfigException(String message) {
    super(message);
  }

  public ConfigException(String message, Throwable cause) {
    super(message, cause);
  }

  /** Thrown by record constructors: {@code key} is the snake_case name used in the files. */
  public static ConfigException badValue(String key, Object value, String expected) {
    return new ConfigException(
        "bad value for '" + key + "': " + value + " (expected " + expected + ")");
  }

  /** Thrown by record constructors when a key without a default is absent. */
  public static ConfigException missing(String key) {
    return new ConfigException("missing required key '" + key + "'");
  }
}
