package flashlm.pipeline.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.net.HttpURLConnection;
import java.net.MalformedURLException;
import java.net.URI;
import java.net.URL;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The hub's HTTP API, as used by {@code huggingface_hub}: {@code GET
 * /api/{type}s/{repo}/revision/{rev}} (JSON {@code sha}), {@code GET
 * /api/{type}s/{repo}/tree/{rev}/{path}?recursive=true} (paginated with {@code Link: <..>;
 * rel="next"}) and {@code GET /{type}s/{repo}/resolve/{commit}/{path}} with redirects followed by
 * hand, so that the token goes to the hub's own host only (a presigned CDN URL rejects it).
 * Serializable: Spark tasks carry one.
 *
 * <p>The server is not trusted: the commit must be a commit id, listing entries must be safe
 * relative paths with well-formed sizes and hashes, pagination must not revisit a page, redirects
 * must go to http(s) (and not from https down to http for a file without an LFS sha256), and
 * text the server sends is {@link HubToken#redact redacted} before it reaches a message. The
 * token is sent over https only, or over http to a loopback address (a local test hub).
 */
final class HubClient implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern NEXT_LINK = Pattern.compile("<([^>]+)>\\s*;\\s*rel=\"?next\"?");
  private static final int MAX_REDIRECTS = 10;
  /**
   * Most pages one listing may have: far more than any real repo needs (the hub sends up to
   * 1,000 entries a page), so that a server inventing new {@code next} links cannot keep a
   * download listing forever.
   */
  static final int MAX_PAGES = 100_000;
  private static final String USER_AGENT =
      "flashlm/0.1 (+java " + Runtime.version().feature() + ")";

  private final DownloadConfig cfg;
  private final HubToken token;

  /**
   * A client of {@code cfg}'s endpoint.
   *
   * @throws HubException when a token is set and the endpoint is plain http to another host
   *     than a loopback address: the token would cross the network in clear
   */
  HubClient(DownloadConfig cfg, HubToken token) {
    this.cfg = cfg;
    this.token = token;
    if (token.present() && !HubToken.mayGoTo(URI.create(cfg.endpoint()))) {
      throw new HubException("refusing to send the hub token (HF_TOKEN or token_file) over"
          + " plain http to " + cfg.endpoint() + ": use an https endpoint (plain http is allowed"
          + " to a loopback address only), or unset the token for a public repo");
    }
  }

  DownloadConfig config() {
    return cfg;
  }

  /** The commit sha {@code revision} (branch, tag or commit) points at. */
  String resolveCommit(String revision) {
    String url = apiUrl("revision/" + encodeSegment(revision));
    JsonNode info = getJson(url, "revision " + revision);
    JsonNode sha = info.get("sha");
    if (sha == null || !sha.isTextual() || sha.asText().isEmpty()) {
      throw new HubException(describe(revision, null) + ": the revision API returned no 'sha'");
    }
    if (!HubPaths.isObjectId(sha.asText())) {
      throw new HubException(describe(revision, null) + ": the revision API returned sha '"
          + shown(sha.asText()) + "', not a commit id (40 lower-case hex digits)");
    }
    return sha.asText();
  }

  /** Every file under {@code prefix} (the repo root when empty) at {@code commit}, all pages. */
  List<HubFile> listTree(String commit, String prefix) {
    String next = apiUrl("tree/" + encodeSegment(commit)
        + (prefix.isEmpty() ? "" : "/" + encodePath(prefix))) + "?recursive=true&expand=false";
    List<HubFile> files = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    while (next != null) {
      if (!seen.add(next)) {
        throw new HubException(describe(commit, null) + ": the tree API's 'next' link points to"
            + " a page of this listing already read (" + shown(next) + "); the listing would"
            + " never end");
      }
      if (seen.size() > MAX_PAGES) {
        throw new HubException(describe(commit, null) + ": the listing of '" + prefix
            + "' has more than " + MAX_PAGES + " pages");
      }
      Page page = withRetries("listing '" + prefix + "' at " + commit, next, this::getPage);
      if (!page.body().isArray()) {
        throw new HubException(describe(commit, null) + ": the tree API answered "
            + page.body().getNodeType() + ", not a list of entries");
      }
      for (JsonNode entry : page.body()) {
        if ("file".equals(entry.path("type").asText())) {
          files.add(file(commit, entry));
        }
      }
      next = page.next() == null ? null
          : followable(url(next), page.next(), false, "a 'next' link").toString();
    }
    return files;
  }

  /** A listing entry as a file, refusing one whose path, size or hashes are not well formed. */
  private HubFile file(String commit, JsonNode entry) {
    String path = entry.path("path").isTextual() ? entry.path("path").asText() : null;
    String why = HubPaths.problem(path);
    JsonNode size = entry.path("size");
    JsonNode lfs = entry.get("lfs");
    String sha256 = lfs == null || lfs.isNull() ? null : stripPrefix(lfs.path("oid").asText(""));
    String oid = entry.path("oid").isTextual() ? entry.path("oid").asText() : null;
    boolean sizeOk = size.isIntegralNumber() && size.canConvertToLong() && size.asLong() >= 0;
    if (why == null && !sizeOk) {
      why = "a size of " + shown(size.toString());
    }
    if (why == null && sha256 != null && !HubPaths.isSha256(sha256)) {
      why = "an LFS oid '" + shown(sha256) + "' that is not a sha256";
    }
    if (why == null && oid != null && !HubPaths.isObjectId(oid)) {
      why = "an oid '" + shown(oid) + "' that is not a git object id";
    }
    if (why != null) {
      throw new HubException(describe(commit, null) + ": the listing names '" + shown(path)
          + "' with " + why + "; refusing the listing (a path must be relative, under the"
          + " destination, without '.', '..', empty segments, backslashes, control characters"
          + " or a scheme)");
    }
    return new HubFile(path, size.asLong(), oid, sha256);
  }

  /**
   * Opens {@code path} at {@code commit} from byte {@code offset} (a {@code Range} request when
   * positive, with {@code If-Range: validator} when one is given, so that a file changed since
   * the bytes already held comes whole), following redirects to http(s) URLs.
   *
   * @param validator the {@link Download#validator()} of an earlier response for this file, or
   *     null
   * @param mayDowngrade whether a redirect from https to plain http may be followed: only when
   *     the listing gives a sha256 that the bytes will be checked with
   * @throws RetryableException on 429, 5xx and IO errors
   * @throws HubException on 401, 403, 404 and other client errors, and on a redirect refused
   */
  Download open(String commit, String path, long offset, String validator, boolean mayDowngrade)
      throws IOException {
    URL url = URI.create(resolveUrl(commit, path)).toURL();
    String repoCommit = null;
    String linkedEtag = null;
    long linkedSize = -1;
    for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
      HttpURLConnection conn = connect(url);
      if (offset > 0) {
        conn.setRequestProperty("Range", "bytes=" + offset + "-");
        if (validator != null) {
          conn.setRequestProperty("If-Range", validator);
        }
      }
      int status = conn.getResponseCode();
      repoCommit = repoCommit != null ? repoCommit : conn.getHeaderField("X-Repo-Commit");
      linkedEtag = linkedEtag != null ? linkedEtag : conn.getHeaderField("X-Linked-Etag");
      if (linkedSize < 0 && conn.getHeaderField("X-Linked-Size") != null) {
        linkedSize = parseLong(conn.getHeaderField("X-Linked-Size"));
      }
      if (status >= 300 && status < 400 && conn.getHeaderField("Location") != null) {
        String location = conn.getHeaderField("Location");
        discard(conn);
        try {
          url = followable(url, location, mayDowngrade, "a redirect");
        } catch (HubException e) {
          throw new HubException(describe(commit, path) + ": " + e.getMessage()
              + (mayDowngrade ? "" : " (the listing gives this file no sha256)"));
        }
        continue;
      }
      if (status == 200 || status == 206) {
        long start = status == 206 ? rangeStart(conn.getHeaderField("Content-Range")) : 0;
        return new Download(conn, status, start, conn.getContentLengthLong(), repoCommit,
            stripQuotes(linkedEtag), linkedSize, stripQuotes(conn.getHeaderField("ETag")),
            validator(conn));
      }
      throw failure(conn, status, describe(commit, path));
    }
    throw new HubException(describe(commit, path) + ": more than " + MAX_REDIRECTS + " redirects");
  }

  /**
   * "hub E dataset 'R' at revision 'main' (commit C), file 'P'" for messages; {@code commit} may
   * be the revision itself or null, {@code path} null.
   */
  String describe(String commit, String path) {
    return "hub " + cfg.endpoint() + " " + cfg.repoType() + " '" + cfg.repo() + "' at revision '"
        + cfg.revision() + "'"
        + (commit == null || commit.equals(cfg.revision()) ? "" : " (commit " + commit + ")")
        + (path == null ? "" : ", file '" + path + "'");
  }

  /** {@code text} the server sent, redacted, without a query (a signed URL's) and shortened. */
  String shown(String text) {
    if (text == null) {
      return "null";
    }
    String s = redact(text);
    int query = s.indexOf('?');
    return HubPaths.printable(query >= 0 && s.contains("://") ? s.substring(0, query) + "?..."
        : s);
  }

  /** {@code text} without the token or anything like a hub token; see {@link HubToken#redact}. */
  String redact(String text) {
    return token.redact(text);
  }

  /**
   * {@code location} resolved against {@code from}, when it may be followed: http or https only
   * (anything else, {@code file:} included, is refused rather than opened), and not from https
   * down to http unless {@code mayDowngrade}.
   */
  private URL followable(URL from, String location, boolean mayDowngrade, String what) {
    URL next;
    try {
      next = new URL(from, location);
    } catch (MalformedURLException e) {
      throw new HubException(what + " to '" + shown(location) + "' is not an http(s) URL");
    }
    try {
      next.toURI(); // what URI.create would refuse later, refused here with the link named
    } catch (java.net.URISyntaxException e) {
      throw new HubException(what + " to '" + shown(location) + "' is not a valid URL");
    }
    String scheme = next.getProtocol().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https")) {
      throw new HubException(what + " to a " + scheme + ": URL ('" + shown(location)
          + "') is refused: only http and https are followed");
    }
    if (!mayDowngrade && from.getProtocol().equalsIgnoreCase("https") && scheme.equals("http")) {
      throw new HubException(what + " from https down to plain http ('" + shown(location)
          + "') is refused");
    }
    return next;
  }

  /** A URL this client built or already checked. */
  private static URL url(String checked) {
    try {
      return URI.create(checked).toURL();
    } catch (MalformedURLException e) {
      throw new IllegalStateException(checked, e);
    }
  }

  private JsonNode getJson(String url, String what) {
    return withRetries(what, url, u -> getPage(u).body());
  }

  private Page getPage(String url) throws IOException {
    HttpURLConnection conn = connect(URI.create(url).toURL());
    conn.setRequestProperty("Accept", "application/json");
    int status = conn.getResponseCode();
    if (status != 200) {
      throw failure(conn, status, describe(cfg.revision(), null) + " (" + pathOf(url) + ")");
    }
    try (InputStream in = conn.getInputStream()) {
      JsonNode body = JSON.readTree(in);
      String link = conn.getHeaderField("Link");
      Matcher m = link == null ? null : NEXT_LINK.matcher(link);
      return new Page(body, m != null && m.find() ? m.group(1) : null);
    }
  }

  /** Calls {@code call} with retries on IO errors, 429 and 5xx. */
  private <T> T withRetries(String what, String url, IoCall<T> call) {
    for (int retry = 0; ; retry++) {
      try {
        return call.apply(url);
      } catch (IOException e) {
        if (retry >= cfg.maxRetries()) {
          throw new HubException(describe(cfg.revision(), null) + ": " + what + " failed after "
              + (retry + 1) + " attempts: " + redact(e.getMessage()), e);
        }
        String retryAfter = e instanceof RetryableException r ? r.retryAfter() : null;
        long delay = Backoff.delayMs(cfg.retryBackoffMs(), retry + 1, retryAfter);
        Console.line(what + ": " + redact(e.getMessage()) + "; retry " + (retry + 1) + "/"
            + cfg.maxRetries() + " in " + delay + " ms");
        Backoff.sleep(delay);
      }
    }
  }

  private HttpURLConnection connect(URL url) throws IOException {
    HttpURLConnection conn = (HttpURLConnection) url.openConnection();
    conn.setInstanceFollowRedirects(false);
    conn.setConnectTimeout(cfg.timeoutSeconds() * 1000);
    conn.setReadTimeout(cfg.timeoutSeconds() * 1000);
    conn.setRequestProperty("User-Agent", USER_AGENT);
    conn.setRequestProperty("Accept-Encoding", "identity");
    if (token.present() && sameOrigin(url, URI.create(cfg.endpoint()).toURL())) {
      if (!HubToken.mayGoTo(URI.create(url.toString()))) {
        throw new HubException("refusing to send the hub token over plain http to " + url
            .getHost() + " (https, or http to a loopback address only)");
      }
      conn.setRequestProperty("Authorization", token.bearer());
    }
    return conn;
  }

  /**
   * What {@code If-Range} may carry for this response: its ETag when strong (a weak one may not
   * be used there), else its Last-Modified; null when it has neither.
   */
  private static String validator(HttpURLConnection conn) {
    String etag = conn.getHeaderField("ETag");
    if (etag != null && etag.startsWith("\"") && etag.length() > 2) {
      return etag;
    }
    return conn.getHeaderField("Last-Modified");
  }

  /** An exception for a non-success status: retryable for 408, 429 and 5xx. */
  private IOException failure(HttpURLConnection conn, int status, String what)
      throws HubException {
    String detail = redact(errorDetail(conn));
    String retryAfter = conn.getHeaderField("Retry-After");
    conn.disconnect();
    String message = what + ": HTTP " + status + (detail.isEmpty() ? "" : " " + detail);
    if (status == 408 || status == 429 || status >= 500) {
      return new RetryableException(message, retryAfter);
    }
    String hint = switch (status) {
      case 401, 403 -> " (the repo is private or gated, or the token (HF_TOKEN or token_file)"
          + " is missing or lacks access)";
      case 404 -> " (no such repo, revision or file)";
      default -> "";
    };
    throw new HubException(message + hint, status);
  }

  private static String errorDetail(HttpURLConnection conn) {
    String header = conn.getHeaderField("X-Error-Message");
    if (header != null) {
      return header;
    }
    try (InputStream err = conn.getErrorStream()) {
      if (err == null) {
        return "";
      }
      String body = new String(err.readNBytes(300), StandardCharsets.UTF_8).strip();
      return body.replaceAll("\\s+", " ");
    } catch (IOException e) {
      return "";
    }
  }

  private static void discard(HttpURLConnection conn) {
    try (InputStream in = conn.getResponseCode() >= 400 ? conn.getErrorStream()
        : conn.getInputStream()) {
      if (in != null) {
        in.readNBytes(64 * 1024);
      }
    } catch (IOException ignored) {
      conn.disconnect(); // a redirect body we do not need; the connection is not reused
    }
  }

  private String apiUrl(String rest) {
    return cfg.endpoint() + "/api/" + cfg.repoType() + "s/" + cfg.repo() + "/" + rest;
  }

  private String resolveUrl(String commit, String path) {
    String prefix = cfg.repoType().equals("model") ? "" : cfg.repoType() + "s/";
    return cfg.endpoint() + "/" + prefix + cfg.repo() + "/resolve/" + encodeSegment(commit) + "/"
        + encodePath(path);
  }

  static boolean sameOrigin(URL a, URL b) {
    return a.getProtocol().equalsIgnoreCase(b.getProtocol())
        && a.getHost().toLowerCase(Locale.ROOT).equals(b.getHost().toLowerCase(Locale.ROOT))
        && (a.getPort() < 0 ? a.getDefaultPort() : a.getPort())
            == (b.getPort() < 0 ? b.getDefaultPort() : b.getPort());
  }

  static String encodeSegment(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }

  static String encodePath(String path) {
    StringBuilder out = new StringBuilder();
    for (String segment : path.split("/", -1)) {
      out.append(out.length() == 0 ? "" : "/").append(encodeSegment(segment));
    }
    return out.toString();
  }

  private static String pathOf(String url) {
    return URI.create(url).getPath();
  }

  private static long rangeStart(String contentRange) throws IOException {
    // "bytes 100-199/200"
    if (contentRange == null || !contentRange.startsWith("bytes ") || !contentRange.contains("-")) {
      throw new IOException("206 response without a usable Content-Range: " + contentRange);
    }
    return parseLong(contentRange.substring(6, contentRange.indexOf('-')).trim());
  }

  private static long parseLong(String s) {
    try {
      return Long.parseLong(s.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  static String stripQuotes(String etag) {
    if (etag == null) {
      return null;
    }
    String s = etag.startsWith("W/") ? etag.substring(2) : etag;
    return s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"")
        ? s.substring(1, s.length() - 1) : s;
  }

  private static String stripPrefix(String oid) {
    return oid != null && oid.startsWith("sha256:") ? oid.substring(7) : oid;
  }

  /** One page of a JSON listing and its {@code next} link as sent (null on the last page). */
  private record Page(JsonNode body, String next) {}

  @FunctionalInterface
  private interface IoCall<T> {
    T apply(String url) throws IOException;
  }

  /** A 429, 5xx or IO failure worth retrying, with the server's Retry-After if any. */
  static final class RetryableException extends IOException {
    private static final long serialVersionUID = 1L;
    private final String retryAfter;

    RetryableException(String message, String retryAfter) {
      super(message);
      this.retryAfter = retryAfter;
    }

    String retryAfter() {
      return retryAfter;
    }
  }

  /**
   * An open response to a resolve request.
   *
   * @param start first byte of the body in the file (the Range start of a 206, else 0)
   * @param length body bytes, -1 when unknown
   * @param repoCommit {@code X-Repo-Commit} of the first hop
   * @param linkedEtag {@code X-Linked-Etag} unquoted: the sha256 of an LFS file
   * @param linkedSize {@code X-Linked-Size}, -1 when absent
   * @param etag {@code ETag} of the final response, unquoted
   * @param validator what a resumed request for this file sends as {@code If-Range} (the final
   *     response's strong ETag as sent, else its Last-Modified), or null
   */
  record Download(HttpURLConnection conn, int status, long start, long length, String repoCommit,
      String linkedEtag, long linkedSize, String etag, String validator) {
    InputStream body() throws IOException {
      return conn.getInputStream();
    }
  }
}
