package flashlm.config;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * An enum whose constants a config names in lower case ({@code TRANSFORMER} is {@code
 * "transformer"}). Each such enum has a {@code @JsonCreator} that calls {@link #parse}, so a bad
 * name is a {@link ConfigException} that lists the good ones.
 */
public interface ConfigEnum {
  /** The name configs, checkpoints and logs use. */
  @JsonValue
  default String id() {
    return ((Enum<?>) this).name().toLowerCase(Locale.ROOT);
  }

  /** The constant of {@code type} named {@code id} in the config key {@code key}. */
  static <E extends Enum<E> & ConfigEnum> E parse(Class<E> type, String key, String id) {
    for (E e : type.getEnumConstants()) {
      if (e.id().equals(id)) {
        return e;
      }
    }
    throw ConfigException.badValue(key, id, Arrays.stream(type.getEnumConstants())
        .map(e -> "'" + e.id() + "'").collect(Collectors.joining(" or ")));
  }
}
