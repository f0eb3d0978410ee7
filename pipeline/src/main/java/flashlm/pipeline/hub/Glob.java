package flashlm.pipeline.hub;

import flashlm.config.ConfigException;
import java.util.regex.Pattern;

/**
 * Globs over repo paths, as in {@code sample/10BT/*.parquet} or {@code
 * TinyStoriesV2-GPT4-{train,valid}.txt}: {@code *} and {@code ?} match inside one path segment,
 * {@code **} matches across segments, {@code {a,b}} is alternation (nestable), {@code [abc]} and
 * {@code [!abc]} are classes, {@code \} escapes the next character.
 */
final class Glob {
  private static final String META = "*?[{\\";

  private Glob() {}

  /** The regex that matches exactly the repo paths {@code glob} names. */
  static Pattern compile(String glob) {
    StringBuilder re = new StringBuilder();
    int depth = 0;
    for (int i = 0; i < glob.length(); i++) {
      char c = glob.charAt(i);
      switch (c) {
        case '*' -> {
          if (i + 1 < glob.length() && glob.charAt(i + 1) == '*') {
            i++;
            if (i + 1 < glob.length() && glob.charAt(i + 1) == '/') {
              i++;
              re.append("(?:.*/)?"); // "**/" also matches no directory at all
            } else {
              re.append(".*");
            }
          } else {
            re.append("[^/]*");
          }
        }
        case '?' -> re.append("[^/]");
        case '{' -> {
          depth++;
          re.append("(?:");
        }
        case '}' -> {
          if (depth == 0) {
            throw bad(glob, "'}' without '{'");
          }
          depth--;
          re.append(')');
        }
        case ',' -> re.append(depth > 0 ? "|" : ",");
        case '[' -> {
          int end = glob.indexOf(']', i + 2);
          if (end < 0) {
            throw bad(glob, "'[' without ']'");
          }
          String body = glob.substring(i + 1, end);
          boolean negate = body.startsWith("!") || body.startsWith("^");
          if (negate) {
            body = body.substring(1);
          }
          re.append('[').append(negate ? "^/" : "").append(body.replace("\\", "\\\\")
              .replace("[", "\\[")).append(']');
          i = end;
        }
        case '\\' -> {
          if (i + 1 == glob.length()) {
            throw bad(glob, "trailing '\\'");
          }
          re.append(Pattern.quote(String.valueOf(glob.charAt(++i))));
        }
        default -> re.append(Pattern.quote(String.valueOf(c)));
      }
    }
    if (depth != 0) {
      throw bad(glob, "'{' without '}'");
    }
    return Pattern.compile(re.toString());
  }

  /**
   * The directory to list for {@code glob}: its leading segments without any glob character
   * ({@code sample/10BT} for {@code sample/10BT/*.parquet}; empty for the repo root).
   */
  static String listingPrefix(String glob) {
    int firstMeta = glob.length();
    for (int i = 0; i < glob.length(); i++) {
      if (META.indexOf(glob.charAt(i)) >= 0) {
        firstMeta = i;
        break;
      }
    }
    int slash = glob.lastIndexOf('/', firstMeta == glob.length() ? glob.length() - 1 : firstMeta);
    return slash < 0 ? "" : glob.substring(0, slash);
  }

  private static ConfigException bad(String glob, String why) {
    return ConfigException.badValue("patterns", glob, "a glob (" + why + ")");
  }
}
