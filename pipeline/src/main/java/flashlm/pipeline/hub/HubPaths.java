package flashlm.pipeline.hub;

import flashlm.pipeline.DatasetPaths;
import java.net.URI;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.Path;

/**
 * What the hub says is checked before it names a file or a URL here: the listing, the commit and
 * the hashes come from the server, which may be hostile or broken, and a repo path becomes a
 * path under the destination. A path such as {@code data/../../x}, {@code /etc/x} or {@code
 * s3a://other/x} would otherwise replace or escape the destination (Hadoop's {@code new
 * Path(dest, child)} resolves {@code ..} and lets a child with a scheme or a leading slash win).
 */
final class HubPaths {
  private static final Pattern OBJECT_ID = Pattern.compile("[0-9a-f]{40}");
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

  private HubPaths() {}

  /**
   * {@code path} when it is a safe relative repo path, else the reason it is not: empty, absolute,
   * with a scheme, a backslash, a control character (NUL included), an empty, {@code .} or {@code
   * ..} segment, or one of the names the downloader keeps in the destination.
   */
  static String problem(String path) {
    if (path == null || path.isEmpty()) {
      return "an empty path";
    }
    if (path.startsWith("/")) {
      return "an absolute path";
    }
    for (int i = 0; i < path.length(); i++) {
      char c = path.charAt(i);
      if (c == '\\') {
        return "a backslash";
      }
      if (c < 0x20 || c == 0x7f) {
        return "a control character (code " + (int) c + ")";
      }
    }
    String[] segments = path.split("/", -1);
    if (segments[0].contains(":")) {
      return "a scheme or drive (a ':' in the first segment)";
    }
    for (String s : segments) {
      if (s.isEmpty() || s.equals(".") || s.equals("..")) {
        return "a '" + s + "' segment";
      }
    }
    if (segments[0].equals(PartFile.PARTIAL_DIR)
        || path.equals(DatasetPaths.DOWNLOAD_MANIFEST)) {
      return "a name the downloader uses itself";
    }
    return null;
  }

  /**
   * {@code DEST/path}, checked after resolution to lie strictly under {@code dest} (same scheme,
   * authority and a path below it), whatever {@link #problem} let through.
   *
   * @throws HubException naming the path when it does not
   */
  static Path resolveUnder(Path dest, String path) {
    String why = problem(path);
    if (why != null) {
      throw new HubException("refusing listing path '" + printable(path) + "': " + why);
    }
    Path target = new Path(dest, path);
    if (!isUnder(dest, target)) {
      throw new HubException("refusing listing path '" + printable(path) + "': it resolves to "
          + target + ", outside the destination " + dest);
    }
    return target;
  }

  /** Whether {@code target} lies strictly below {@code dest}: same filesystem, longer path. */
  static boolean isUnder(Path dest, Path target) {
    URI d = dest.toUri().normalize();
    URI t = target.toUri().normalize();
    String base = d.getPath().endsWith("/") ? d.getPath() : d.getPath() + "/";
    return same(d.getScheme(), t.getScheme()) && same(d.getAuthority(), t.getAuthority())
        && t.getPath() != null && t.getPath().startsWith(base)
        && t.getPath().length() > base.length();
  }

  /**
   * Whether {@code sha} is a full lower-case hex git object id: a commit as the revision API
   * gives it, or a blob id as the listing does.
   */
  static boolean isObjectId(String sha) {
    return sha != null && OBJECT_ID.matcher(sha).matches();
  }

  /** Whether {@code hex} is a lower-case hex sha256 (an LFS oid). */
  static boolean isSha256(String hex) {
    return hex != null && SHA256.matcher(hex).matches();
  }

  /** {@code s} with control characters shown as {@code \\uXXXX}, for messages. */
  static String printable(String s) {
    if (s == null) {
      return "null";
    }
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < s.length() && i < 300; i++) {
      char c = s.charAt(i);
      out.append(c < 0x20 || c == 0x7f ? String.format("\\u%04x", (int) c) : String.valueOf(c));
    }
    return s.length() > 300 ? out + "..." : out.toString();
  }

  private static boolean same(String a, String b) {
    return a == null ? b == null : a.equalsIgnoreCase(b);
  }
}
