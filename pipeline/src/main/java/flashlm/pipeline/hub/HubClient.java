package flashlm.pipeline.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URL;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The hub's HTTP API, as used by {@code huggingface_hub}: {@code GET
 * /api/{type}s/{repo}/revision/{rev}} (JSON {@code sha}), {@code GET
 * /api/{type}s/{repo}/tree/{rev}/{path}?recursive=true} (paginated with {@code Link: <..>;
 * rel="next"}) and {@code GET /{type}s/{repo}/resolve/{commit}/{path}} with redirects followed by
 * hand, so that the token goes to the hub's own host only (a presigned CDN URL rejects it).
 * Serializable: Spark tasks carry one.
 */
final class HubClient implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern NEXT_LINK = Pattern.compile("<([^>]+)>\\s*;\\s*rel=\"?next\"?");
  private static final int MAX_REDIRECTS = 10;
  private static final String USER_AGENT = "flashlm/0.1 (+java " + Runtime.version().feature() + ")";

  private final DownloadConfig cfg;
  private final HubToken token;

  HubClient(DownloadConfig cfg, HubToken token) {
    this.cfg = cfg;
    this.token = token;
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
    return sha.asText();
  }

  /** Every file under {@code prefix} (the repo root when empty) at {@code commit}, all pages. */
  List<HubFile> listTree(String commit, String prefix) {
    String next = apiUrl("tree/" + encodeSegment(commit)
        + (prefix.isEmpty() ? "" : "/" + encodePath(prefix))) + "?recursive=true&expand=false";
    List<HubFile> files = new ArrayList<>();
    while (next != null) {
      Page page = withRetries("listing '" + prefix + "' at " + commit, next, this::getPage);
      for (JsonNode entry : page.body()) {
        if (!"file".equals(entry.path("type").asText())) {
          continue;
        }
        JsonNode lfs = entry.get("lfs");
        String sha256 = lfs == null || lfs.isNull() ? null : stripPrefix(lfs.path("oid").asText(null));
        files.add(new HubFile(entry.path("path").asText(), entry.path("size").asLong(),
            entry.path("oid").asText(null), sha256));
      }
      next = page.next();
    }
    return files;
  }

  /**
   * Opens {@code path} at {@code commit} from byte {@code offset} (a {@code Range} request when
   * positive), following redirects.
   *
   * @throws RetryableException on 429, 5xx and IO errors
   * @throws HubException on 401, 403, 404 and other client errors
   */
  Download open(String commit, String path, long offset) throws IOException {
    URL url = URI.create(resolveUrl(commit, path)).toURL();
    String repoCommit = null;
    String linkedEtag = null;
    long linkedSize = -1;
    for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
      HttpURLConnection conn = connect(url);
      if (offset > 0) {
        conn.setRequestProperty("Range", "bytes=" + offset + "-");
      }
      int status = conn.getResponseCode();
      repoCommit = repoCommit != null ? repoCommit : conn.getHeaderField("X-Repo-Commit");
      linkedEtag = linkedEtag != null ? linkedEtag : conn.getHeaderField("X-Linked-Etag");
      if (linkedSize < 0 && conn.getHeaderField("X-Linked-Size") != null) {
        linkedSize = parseLong(conn.getHeaderField("X-Linked-Size"));
      }
      if (status >= 300 && status < 400 && conn.getHeaderField("Location") != null) {
        url = new URL(url, conn.getHeaderField("Location"));
        discard(conn);
        continue;
      }
      if (status == 200 || status == 206) {
        long start = status == 206 ? rangeStart(conn.getHeaderField("Content-Range")) : 0;
        return new Download(conn, status, start, conn.getContentLengthLong(), repoCommit,
            stripQuotes(linkedEtag), linkedSize, stripQuotes(conn.getHeaderField("ETag")));
      }
      throw failure(conn, status, describe(commit, path));
    }
    throw new HubException(describe(commit, path) + ": more than " + MAX_REDIRECTS + " redirects");
  }

  /** "repo R (dataset) at revision V, file P" for messages. */
  String describe(String revision, String path) {
    return "hub " + cfg.endpoint() + " " + cfg.repoType() + " '" + cfg.repo() + "' at revision '"
        + revision + "'" + (path == null ? "" : ", file '" + path + "'");
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
      String next = m != null && m.find() ? new URL(new URL(url), m.group(1)).toString() : null;
      return new Page(body, next);
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
              + (retry + 1) + " attempts: " + e.getMessage(), e);
        }
        String retryAfter = e instanceof RetryableException r ? r.retryAfter() : null;
        long delay = Backoff.delayMs(cfg.retryBackoffMs(), retry + 1, retryAfter);
        Console.line(what + ": " + e.getMessage() + "; retry " + (retry + 1) + "/"
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
      conn.setRequestProperty("Authorization", token.bearer());
    }
    return conn;
  }

  /** An exception for a non-success status: retryable for 408, 429 and 5xx. */
  private static IOException failure(HttpURLConnection conn, int status, String what)
      throws HubException {
    String detail = errorDetail(conn);
    String retryAfter = conn.getHeaderField("Retry-After");
    conn.disconnect();
    String message = what + ": HTTP " + status + (detail.isEmpty() ? "" : " " + detail);
    if (status == 408 || status == 429 || status >= 500) {
      return new RetryableException(message, retryAfter);
    }
    String hint = switch (status) {
      case 401, 403 -> " (the repo is private or gated, or HF_TOKEN is missing or lacks access)";
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

  /** One page of a JSON listing and the next page's URL (null on the last page). */
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
   */
  record Download(HttpURLConnection conn, int status, long start, long length, String repoCommit,
      String linkedEtag, long linkedSize, String etag) {
    InputStream body() throws IOException {
      return conn.getInputStream();
    }
  }
}
