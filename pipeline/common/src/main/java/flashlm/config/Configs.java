package flashlm.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import flashlm.hash.Sha256;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Reads config files (JSON, or YAML for {@code .yaml}/{@code .yml}) into validated records.
 *
 * <p>Keys are snake_case in files and overrides ({@code seq_len}), camelCase in the records
 * ({@code seqLen}). An override {@code a.b=value} sets a nested key; the value is parsed as a YAML
 * scalar or flow collection, so {@code --set seq_len=256} is a number and {@code --set
 * files=[a,b]} a list.
 *
 * <p>After the overrides, {@code ${NAME}} inside a string value is replaced by the Java system
 * property NAME, else the environment variable NAME (so a shipped config can say {@code
 * ${FLASHLM_HOME}/tests/...}); an unset NAME is an error naming the key. {@code $${} stands for a
 * literal {@code ${}.
 *
 * <p><b>Secrets.</b> A resolved config is stored and printed (Delta manifests, checkpoint headers,
 * the run's config.json, logs), so interpolation never copies a credential into one: {@code
 * ${NAME}} of a name that looks like a credential ({@link #isCredentialVariable}) is an error
 * naming the file and the key. No setting of any FlashLM config is a credential (the hub token
 * comes from env {@code HF_TOKEN} or a token file, S3 credentials from Hadoop's own providers), so
 * the refusal holds for every key. Everything that stores or prints a config passes it through
 * {@link #redacted} (as {@link #toJson} does), which masks credential-like keys in case one is
 * there anyway.
 */
public final class Configs {
  private static final ObjectMapper JSON = configure(new ObjectMapper());
  private static final ObjectMapper YAML = configure(new ObjectMapper(new YAMLFactory()));

  private Configs() {}

  private static ObjectMapper configure(ObjectMapper mapper) {
    return mapper
        .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
        .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
        .enable(SerializationFeature.INDENT_OUTPUT);
  }

  /** The shared snake_case JSON mapper, for writing resolved configs and manifests. */
  public static ObjectMapper json() {
    return JSON;
  }

  /**
   * Loads {@code file} (may be null: all defaults) with {@code overrides} applied.
   *
   * @throws ConfigException naming the file and the key for unknown keys and bad values
   */
  public static <T> T load(Path file, Class<T> type, List<String> overrides) {
    ObjectNode tree = file == null ? JsonNodeFactory.instance.objectNode() : readTree(file);
    for (String override : overrides) {
      applyOverride(tree, override);
    }
    interpolate(tree, "", file == null ? "(defaults)" : file.toString());
    return bind(tree, type, file == null ? "(defaults)" : file.toString());
  }

  /** Binds an already-parsed tree; {@code origin} names where it came from in errors. */
  public static <T> T bind(JsonNode tree, Class<T> type, String origin) {
    try {
      return JSON.treeToValue(tree, type);
    } catch (UnrecognizedPropertyException e) {
      String known = e.getKnownPropertyIds() == null ? "" : e.getKnownPropertyIds().stream()
          .map(Object::toString).sorted().collect(Collectors.joining(", "));
      throw new ConfigException(origin + ": unknown key '" + path(e) + "'"
          + (known.isEmpty() ? "" : " (known keys here: " + known + ")"), e);
    } catch (ValueInstantiationException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      String where = path(e);
      throw new ConfigException(origin + ": " + (where.isEmpty() ? "" : "in '" + where + "': ")
          + cause.getMessage(), cause);
    } catch (JsonMappingException e) {
      throw new ConfigException(origin + ": bad value for '" + path(e) + "': "
          + e.getOriginalMessage(), e);
    } catch (JsonProcessingException e) {
      throw new ConfigException(origin + ": " + e.getOriginalMessage(), e);
    }
  }

  /**
   * Serializes a config record as indented snake_case JSON (for logs, checkpoints, commits),
   * {@link #redacted}.
   */
  public static String toJson(Object config) {
    try {
      return JSON.writeValueAsString(redacted(JSON.valueToTree(config)));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize config " + config.getClass(), e);
    }
  }

  /**
   * The sha256 of a resolved config's compact JSON: one short value that names a configuration
   * in logs, while the whole of it goes into checkpoints and Delta commits.
   */
  public static String fingerprint(Object config) {
    try {
      return Sha256.hex(JSON.writer().without(SerializationFeature.INDENT_OUTPUT)
          .writeValueAsString(config));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize config " + config, e);
    }
  }

  /** What {@link #redacted} puts in place of a secret. */
  public static final String MASK = "***";

  /** A HuggingFace access token anywhere in a string ({@code hf_} and 30-odd letters/digits). */
  private static final Pattern HUB_TOKEN = Pattern.compile("hf_[A-Za-z0-9]{20,}");

  /** Key segments that hold a secret's value. */
  private static final Set<String> SECRET_WORDS = Set.of("token", "secret", "password", "passwd",
      "key", "credential", "credentials");

  /**
   * Segments after a secret word that make the key a reference to a secret, not the secret:
   * {@code token_file}, {@code aws.credentials.provider}, {@code credential.provider.path}.
   */
  private static final Set<String> REFERENCES = Set.of("file", "path", "dir", "provider",
      "providers");

  /**
   * Segments before {@code token} that make it a vocabulary entry, not a credential: {@code
   * bos_token}, {@code eos_token} (HuggingFace's names for a tokenizer's special tokens).
   */
  private static final Set<String> SPECIAL_TOKENS = Set.of("bos", "eos", "pad", "unk", "sep",
      "cls", "mask");

  /**
   * A deep copy of {@code node} in which the value of every credential-like key ({@link
   * #isCredentialKey}), whatever its type, is {@link #MASK}, and every HuggingFace token inside a
   * string ({@code hf_...}, as a shell-expanded {@code --set x=$HF_TOKEN} would leave it) is
   * masked. The one function every stored or printed config passes.
   */
  public static JsonNode redacted(JsonNode node) {
    if (node == null) {
      return null;
    }
    if (node instanceof ObjectNode obj) {
      ObjectNode out = JsonNodeFactory.instance.objectNode();
      for (var it = obj.fields(); it.hasNext();) {
        var e = it.next();
        out.set(e.getKey(), isCredentialKey(e.getKey())
            ? JsonNodeFactory.instance.textNode(MASK) : redacted(e.getValue()));
      }
      return out;
    }
    if (node instanceof ArrayNode arr) {
      ArrayNode out = JsonNodeFactory.instance.arrayNode();
      arr.forEach(v -> out.add(redacted(v)));
      return out;
    }
    if (node.isTextual() && HUB_TOKEN.matcher(node.asText()).find()) {
      return JsonNodeFactory.instance.textNode(HUB_TOKEN.matcher(node.asText()).replaceAll(MASK));
    }
    return node.deepCopy();
  }

  /**
   * Whether a config key holds a credential: split into words (at {@code . _ -} and camelCase),
   * one word is {@code token}, {@code secret}, {@code password}, {@code passwd}, {@code key} or
   * {@code credential(s)} (or ends a compound such as {@code apikey}, {@code hftoken}), and no
   * later word makes it a reference ({@code token_file}, {@code credentials.provider}); {@code
   * bos_token} and the like are tokenizer vocabulary. Also every key of AWS's own naming ({@code
   * AWS_*}). Words, not substrings: {@code tokenizer} and {@code max_tokens} are not secrets.
   */
  public static boolean isCredentialKey(String key) {
    String[] words = key.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT)
        .split("[^a-z0-9]+");
    if (words.length > 0 && words[0].equals("aws")) {
      return true;
    }
    for (int i = words.length - 1; i >= 0; i--) {
      String w = words[i];
      if (REFERENCES.contains(w)) {
        return false;
      }
      boolean secret = SECRET_WORDS.contains(w) || w.endsWith("token") || w.endsWith("secret")
          || w.endsWith("password") || w.endsWith("apikey") || w.endsWith("accesskey")
          || w.endsWith("secretkey");
      if (secret) {
        return !(w.equals("token") && i > 0 && SPECIAL_TOKENS.contains(words[i - 1]));
      }
    }
    return false;
  }

  /**
   * Whether {@code ${NAME}} names a credential, which interpolation refuses: NAME contains {@code
   * TOKEN}, {@code SECRET}, {@code PASSWORD} or {@code KEY} (so {@code fs.s3a.access.key} too), or
   * starts with {@code AWS_}, in any case. Substrings, stricter than {@link #isCredentialKey}: a
   * refusal costs only a rename of the variable ({@code TOKENIZER_DIR} is refused as well).
   */
  public static boolean isCredentialVariable(String name) {
    String n = name.toUpperCase(Locale.ROOT);
    return n.contains("TOKEN") || n.contains("SECRET") || n.contains("PASSWORD")
        || n.contains("KEY") || n.startsWith("AWS_");
  }

  /** Parses a file as JSON or YAML by its extension. */
  public static ObjectNode readTree(Path file) {
    if (!Files.isRegularFile(file)) {
      throw new ConfigException("config file not found: " + file);
    }
    String name = file.getFileName().toString();
    ObjectMapper mapper = name.endsWith(".yaml") || name.endsWith(".yml") ? YAML : JSON;
    try {
      JsonNode node = mapper.readTree(file.toFile());
      if (node == null || node.isMissingNode() || node.isNull()) {
        return JsonNodeFactory.instance.objectNode();
      }
      if (!node.isObject()) {
        throw new ConfigException(file + ": a config file must hold a mapping of keys to values");
      }
      return (ObjectNode) node;
    } catch (JsonProcessingException e) {
      throw new ConfigException(file + ": cannot parse: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new ConfigException(file + ": cannot read: " + e.getMessage(), e);
    }
  }

  /** Applies one {@code dotted.key=value} override to {@code root}. */
  public static void applyOverride(ObjectNode root, String override) {
    int eq = override.indexOf('=');
    if (eq <= 0) {
      throw new ConfigException("override must be key=value, got '" + override + "'");
    }
    String key = override.substring(0, eq).trim();
    String raw = override.substring(eq + 1);
    String[] parts = key.split("\\.");
    ObjectNode node = root;
    for (int i = 0; i < parts.length - 1; i++) {
      JsonNode child = node.get(parts[i]);
      if (child == null || child.isNull()) {
        child = node.putObject(parts[i]);
      } else if (!child.isObject()) {
        throw new ConfigException("override '" + key + "': '" + parts[i] + "' is not a mapping");
      }
      node = (ObjectNode) child;
    }
    node.set(parts[parts.length - 1], parseScalar(key, raw));
  }

  private static final Pattern VARIABLE = Pattern.compile("\\$(\\$?)\\{([A-Za-z_][\\w.]*)}");

  /** Replaces {@code ${NAME}} in every string of {@code node} (see the class comment). */
  static void interpolate(JsonNode node, String key, String origin) {
    if (node instanceof ObjectNode obj) {
      for (var it = obj.fields(); it.hasNext();) {
        var e = it.next();
        String child = key.isEmpty() ? e.getKey() : key + "." + e.getKey();
        if (e.getValue().isTextual()) {
          e.setValue(JsonNodeFactory.instance.textNode(substitute(e.getValue().asText(), child,
              origin)));
        } else {
          interpolate(e.getValue(), child, origin);
        }
      }
    } else if (node instanceof ArrayNode arr) {
      for (int i = 0; i < arr.size(); i++) {
        String child = key + "[" + i + "]";
        if (arr.get(i).isTextual()) {
          arr.set(i, JsonNodeFactory.instance.textNode(substitute(arr.get(i).asText(), child,
              origin)));
        } else {
          interpolate(arr.get(i), child, origin);
        }
      }
    }
  }

  private static String substitute(String value, String key, String origin) {
    Matcher m = VARIABLE.matcher(value);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String name = m.group(2);
      String replacement;
      if (!m.group(1).isEmpty()) {
        replacement = "${" + name + "}";
      } else if (isCredentialVariable(name)) {
        throw new ConfigException(origin + ": key '" + key + "' uses ${" + name + "}, whose name"
            + " looks like a credential (TOKEN, SECRET, PASSWORD, KEY or AWS_*). A resolved config"
            + " is stored in tables, checkpoints and logs, so no setting takes a credential: the"
            + " hub token comes from env HF_TOKEN or download.token_file, S3 credentials from"
            + " the AWS environment variables or a profile (README, Security). If it is no"
            + " secret, use a variable with another name");
      } else {
        replacement = System.getProperty(name, System.getenv(name));
        if (replacement == null) {
          throw new ConfigException(origin + ": key '" + key + "' uses ${" + name
              + "}, which is neither a system property nor an environment variable here");
        }
      }
      m.appendReplacement(out, Matcher.quoteReplacement(replacement));
    }
    m.appendTail(out);
    return out.toString();
  }

  private static JsonNode parseScalar(String key, String raw) {
    if (raw.isEmpty()) {
      return JsonNodeFactory.instance.textNode("");
    }
    try {
      JsonNode node = YAML.readTree(raw);
      return node == null ? JsonNodeFactory.instance.nullNode() : node;
    } catch (JsonProcessingException e) {
      throw new ConfigException("override '" + key + "': cannot parse value '" + raw + "'", e);
    }
  }

  private static String path(JsonMappingException e) {
    return e.getPath().stream()
        .map(ref -> ref.getFieldName() != null ? ref.getFieldName() : "[" + ref.getIndex() + "]")
        .collect(Collectors.joining("."))
        .replace(".[", "[");
  }
}
