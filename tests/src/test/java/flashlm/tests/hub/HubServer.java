package flashlm.tests.hub;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;

/**
 * A loopback HTTP server in the HuggingFace hub's URL layout, over files held in memory:
 * <ul>
 *   <li>model repos the same way under {@code /api/models/{repo}/...} and {@code
 *       /{repo}/resolve/...} (one namespace of repo ids for both kinds);
 *   <li>{@code GET /api/datasets/{repo}/revision/{rev}}: {@code {"id", "sha"}};
 *   <li>{@code GET /api/datasets/{repo}/tree/{rev}[/{dir}]?recursive=true}: the hub's entries
 *       ({@code type, oid, size, path, lfs {oid, size, pointerSize}}), {@link #pageSize} per page,
 *       the next page in a {@code Link: <..>; rel="next"} header with a {@code cursor};
 *   <li>{@code GET /datasets/{repo}/resolve/{rev}/{path}}: {@code X-Repo-Commit}; an LFS file
 *       answers 302 to a second server on another port (the "CDN", so a different origin) with
 *       {@code X-Linked-Etag} and {@code X-Linked-Size}; a file kept in git is served directly
 *       with its blob id as {@code ETag}. Both honour {@code Range: bytes=N-} (206, {@code
 *       Content-Range}).
 * </ul>
 * Faults ({@link Repo#cutOnce}, {@link Repo#wrongContent}, {@link Repo#fail}, {@link
 * Repo#ignoreRangeAndCut}, {@link Repo#slow}), a token ({@link Repo#requireToken}) and answers of
 * a hostile hub ({@link Repo#answer}) are set per repo; every request is logged ({@link
 * #requests()}). Content honours {@code If-Range}: a validator other than the file's ETag gets
 * the whole file. {@link #startTls} serves the hub over https (the CDN stays plain http).
 */
public final class HubServer implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** Key of {@link Repo#fail} for the revision API. */
  public static final String REVISION_API = "@revision";
  /** Key of {@link Repo#fail} for the tree API. */
  public static final String TREE_API = "@tree";

  private final HttpServer hub;
  private final HttpServer cdn;
  private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "hub-server");
    t.setDaemon(true);
    return t;
  });
  private final Map<String, Repo> repos = new ConcurrentHashMap<>();
  private final List<Request> requests = new CopyOnWriteArrayList<>();
  private final List<String> started = new CopyOnWriteArrayList<>();
  private final boolean tls;
  /** Entries per page of the tree API; small, so that tests follow the pagination. */
  volatile int pageSize = 3;

  private HubServer(SSLContext tlsContext) throws IOException {
    InetSocketAddress loopback = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    tls = tlsContext != null;
    if (tls) {
      HttpsServer https = HttpsServer.create(loopback, 0);
      https.setHttpsConfigurator(new HttpsConfigurator(tlsContext));
      hub = https;
    } else {
      hub = HttpServer.create(loopback, 0);
    }
    cdn = HttpServer.create(loopback, 0);
    hub.createContext("/", ex -> handle(ex, "hub"));
    cdn.createContext("/", ex -> handle(ex, "cdn"));
    hub.setExecutor(threads);
    cdn.setExecutor(threads);
    hub.start();
    cdn.start();
  }

  /** Starts both servers on ephemeral loopback ports. */
  public static HubServer start() throws IOException {
    return new HubServer(null);
  }

  /** Starts the hub on https with {@code context}'s key, the CDN on plain http. */
  public static HubServer startTls(SSLContext context) throws IOException {
    return new HubServer(context);
  }

  /** The hub endpoint, as {@code HF_ENDPOINT} would name it. */
  public String endpoint() {
    return (tls ? "https" : "http") + "://127.0.0.1:" + hub.getAddress().getPort();
  }

  /** The plain-http CDN URL that serves {@code path} of repo {@code id}. */
  public String cdnUrl(String id, String path) {
    return "http://127.0.0.1:" + cdn.getAddress().getPort() + "/cdn/" + id + "/" + path;
  }

  /** Whether a request to {@code server} whose path contains {@code part} has begun. */
  public boolean hasStarted(String server, String part) {
    return started.stream().anyMatch(s -> s.startsWith(server + " ") && s.contains(part));
  }

  /** The dataset repo {@code id}, created empty with branch {@code main} on first use. */
  public Repo repo(String id) {
    return repos.computeIfAbsent(id, Repo::new);
  }

  /** Every request so far, in arrival order. */
  public List<Request> requests() {
    return List.copyOf(requests);
  }

  /** Requests so far to {@code server} ("hub" or "cdn") whose path contains {@code part}. */
  public List<Request> requests(String server, String part) {
    return requests.stream().filter(r -> r.server().equals(server) && r.path().contains(part))
        .toList();
  }

  /** Forgets the request log. */
  public void clearRequests() {
    requests.clear();
  }

  @Override
  public void close() {
    hub.stop(0);
    cdn.stop(0);
    threads.shutdownNow();
  }

  /**
   * One request as the server saw it.
   *
   * @param server "hub" or "cdn"
   * @param path the decoded path
   * @param range the {@code Range} header or null
   * @param authorization the {@code Authorization} header or null
   * @param status the status answered
   * @param bytesSent body bytes written (for a cut transfer, those before the cut)
   * @param ifRange the {@code If-Range} header or null
   */
  public record Request(String server, String path, String range, String authorization,
      int status, long bytesSent, String ifRange) {}

  private void handle(HttpExchange ex, String server) throws IOException {
    String path = URLDecoder.decode(ex.getRequestURI().getRawPath(), StandardCharsets.UTF_8);
    String range = ex.getRequestHeaders().getFirst("Range");
    String auth = ex.getRequestHeaders().getFirst("Authorization");
    String ifRange = ex.getRequestHeaders().getFirst("If-Range");
    started.add(server + " " + path);
    long[] sent = {0};
    int status;
    try {
      status = route(ex, server, path, range, auth, sent);
    } catch (Cut cut) {
      requests.add(new Request(server, path, range, auth, cut.status, sent[0], ifRange));
      throw cut; // the server drops the connection of a handler that throws
    } catch (RuntimeException e) {
      status = respond(ex, 500, "{\"error\":\"" + e + "\"}");
    }
    ex.close();
    requests.add(new Request(server, path, range, auth, status, sent[0], ifRange));
  }

  private int route(HttpExchange ex, String server, String path, String range, String auth,
      long[] sent) throws IOException {
    if (server.equals("cdn")) {
      // /cdn/{repo owner}/{repo name}/{path}: what the hub redirected to (a signed URL upstream)
      String[] p = path.split("/", 5);
      Repo repo = repos.get(p[2] + "/" + p[3]);
      return repo.serveContent(ex, p[4], range, sent);
    }
    // /api/datasets/{owner}/{name}/{revision|tree}/{rev}[/{dir}]
    // /datasets/{owner}/{name}/resolve/{rev}/{path}
    // /api/models/{owner}/{name}/...    and    /{owner}/{name}/resolve/{rev}/{path} (models)
    String[] p = path.split("/", 7);
    boolean api = p.length == 7 && p[1].equals("api")
        && (p[2].equals("datasets") || p[2].equals("models"));
    boolean resolve = p.length == 7 && p[1].equals("datasets") && p[4].equals("resolve");
    String[] m = path.split("/", 6);
    if (!api && !resolve && m.length == 6 && m[3].equals("resolve")) {
      p = new String[] {"", "models", m[1], m[2], m[3], m[4], m[5]}; // the dataset layout
      resolve = true;
    }
    if (api || resolve) {
      Repo repo = api ? repos.get(p[3] + "/" + p[4]) : repos.get(p[2] + "/" + p[3]);
      if (repo == null) {
        ex.getResponseHeaders().set("X-Error-Code", "RepoNotFound");
        return respond(ex, 401, "{\"error\":\"Repository not found\"}");
      }
      Integer denied = repo.deny(ex, auth);
      if (denied != null) {
        return denied;
      }
      String[] revAndRest = p[6].split("/", 2);
      String rest = revAndRest.length > 1 ? revAndRest[1] : "";
      if (resolve) {
        return repo.resolve(ex, p[5], p[6], range, sent);
      }
      return switch (p[5]) {
        case "revision" -> repo.revision(ex, revAndRest[0]);
        case "tree" -> repo.tree(ex, revAndRest[0], rest);
        default -> respond(ex, 404, "{\"error\":\"no such API\"}");
      };
    }
    return respond(ex, 404, "{\"error\":\"not a hub URL: " + path + "\"}");
  }

  static int respond(HttpExchange ex, int status, String json) throws IOException {
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    if (body.length > 0) {
      try (OutputStream out = ex.getResponseBody()) {
        out.write(body);
      }
    }
    return status;
  }

  /** A dataset repo: files at one commit, reachable as branch {@code main} or by the commit. */
  public final class Repo {
    private final String id;
    private final String commit;
    private final Map<String, HubFixtureFile> files = new ConcurrentHashMap<>();
    private final Map<String, HubFault> faults = new ConcurrentHashMap<>();
    private final Map<String, Answer> answers = new ConcurrentHashMap<>();
    private volatile String token;
    private volatile boolean echoAuthorization;

    private Repo(String id) {
      this.id = id;
      this.commit = HubFixtureFile.gitSha1(("commit " + id).getBytes(StandardCharsets.UTF_8));
    }

    /** The repo id. */
    public String id() {
      return id;
    }

    /** The commit {@code main} points at. */
    public String commit() {
      return commit;
    }

    /** Adds a file kept in git (its oid is the git blob id; no LFS sha256). */
    public Repo addFile(String path, byte[] bytes) {
      files.put(path, new HubFixtureFile(path, bytes, false));
      return this;
    }

    /** Adds an LFS file (served through the CDN redirect, with its sha256 in the listing). */
    public Repo addLfsFile(String path, byte[] bytes) {
      files.put(path, new HubFixtureFile(path, bytes, true));
      return this;
    }

    /** The file at {@code path}. */
    public HubFixtureFile file(String path) {
      return files.get(path);
    }

    /** Every request to the hub API and resolve URLs must carry {@code Bearer token}. */
    public Repo requireToken(String value) {
      this.token = value;
      return this;
    }

    /** The next response with bytes of {@code path} stops after file byte {@code offset}. */
    public Repo cutOnce(String path, long offset) {
      faults.put(path, HubFault.cut(offset, 1, false));
      return this;
    }

    /** Every response with bytes of {@code path} has one byte changed (same size). */
    public Repo wrongContent(String path) {
      faults.put(path, HubFault.wrongContent());
      return this;
    }

    /**
     * The next {@code times} requests for {@code path} (or {@link #REVISION_API}, {@link
     * #TREE_API}) answer {@code status}, with {@code Retry-After: retryAfter} when not null.
     */
    public Repo fail(String path, int status, int times, String retryAfter) {
      faults.put(path, HubFault.status(status, times, retryAfter));
      return this;
    }

    /** Every response with bytes of {@code path} starts at byte 0 and stops after byte N. */
    public Repo ignoreRangeAndCut(String path, long offset) {
      faults.put(path, HubFault.cut(offset, Integer.MAX_VALUE, true));
      return this;
    }

    /** Every response with bytes of {@code path} sends {@code chunk} bytes per delay. */
    public Repo slow(String path, int chunk, long delayMs) {
      faults.put(path, HubFault.slow(chunk, delayMs));
      return this;
    }

    /** A 401 for a wrong token echoes the request's Authorization in its body and headers. */
    public Repo echoAuthorization() {
      this.echoAuthorization = true;
      return this;
    }

    /**
     * {@code answer} instead of the hub's own for {@link #REVISION_API}, {@link #TREE_API} or the
     * resolve URL of a path; it returns the status sent, or null to let the hub answer.
     */
    public Repo answer(String key, Answer answer) {
      answers.put(key, answer);
      return this;
    }

    private Integer answered(HttpExchange ex, String key) throws IOException {
      Answer a = answers.get(key);
      return a == null ? null : a.answer(ex);
    }

    Integer deny(HttpExchange ex, String auth) throws IOException {
      if (token != null && !("Bearer " + token).equals(auth)) {
        ex.getResponseHeaders().set("X-Error-Code", "GatedRepo");
        if (echoAuthorization) {
          ex.getResponseHeaders().set("X-Error-Message", "Invalid credentials in " + auth);
          return respond(ex, 401, "{\"error\":\"bad Authorization: " + auth + "\"}");
        }
        return respond(ex, 401, "{\"error\":\"Access to dataset " + id + " is restricted\"}");
      }
      return null;
    }

    /** A status fault for {@code key}, consumed; null when none is due. */
    private Integer failing(HttpExchange ex, String key) throws IOException {
      HubFault f = faults.get(key);
      if (f == null || f.status == 0 || !f.take()) {
        return null;
      }
      if (f.retryAfter != null) {
        ex.getResponseHeaders().set("Retry-After", f.retryAfter);
      }
      return respond(ex, f.status, "{\"error\":\"injected " + f.status + "\"}");
    }

    int revision(HttpExchange ex, String rev) throws IOException {
      Integer failed = answered(ex, REVISION_API);
      failed = failed != null ? failed : failing(ex, REVISION_API);
      if (failed != null) {
        return failed;
      }
      if (!rev.equals("main") && !rev.equals(commit)) {
        return respond(ex, 404, "{\"error\":\"Invalid rev id: " + rev + "\"}");
      }
      ObjectNode info = JSON.createObjectNode().put("id", id).put("sha", commit)
          .put("private", token != null);
      return respond(ex, 200, info.toString());
    }

    int tree(HttpExchange ex, String rev, String dir) throws IOException {
      Integer failed = answered(ex, TREE_API);
      failed = failed != null ? failed : failing(ex, TREE_API);
      if (failed != null) {
        return failed;
      }
      if (!rev.equals("main") && !rev.equals(commit)) {
        return respond(ex, 404, "{\"error\":\"Invalid rev id: " + rev + "\"}");
      }
      List<ObjectNode> entries = HubFixtureFile.treeEntries(files.values(), dir, JSON);
      if (entries == null) {
        ex.getResponseHeaders().set("X-Error-Code", "EntryNotFound");
        return respond(ex, 404, "{\"error\":\"" + dir + " does not exist on " + rev + "\"}");
      }
      String query = ex.getRequestURI().getRawQuery();
      int cursor = 0;
      for (String kv : query == null ? new String[0] : query.split("&")) {
        if (kv.startsWith("cursor=")) {
          cursor = Integer.parseInt(kv.substring(7));
        }
      }
      int end = Math.min(entries.size(), cursor + pageSize);
      ArrayNode page = JSON.createArrayNode();
      entries.subList(cursor, end).forEach(page::add);
      if (end < entries.size()) {
        String base = ex.getRequestURI().getRawPath();
        ex.getResponseHeaders().set("Link", "<" + endpoint() + base
            + "?recursive=true&expand=false&cursor=" + end + ">; rel=\"next\"");
      }
      return respond(ex, 200, page.toString());
    }

    int resolve(HttpExchange ex, String rev, String path, String range, long[] sent)
        throws IOException {
      if (!rev.equals("main") && !rev.equals(commit)) {
        return respond(ex, 404, "{\"error\":\"Invalid rev id: " + rev + "\"}");
      }
      Integer failed = answered(ex, path);
      failed = failed != null ? failed : failing(ex, path);
      if (failed != null) {
        return failed;
      }
      HubFixtureFile f = files.get(path);
      if (f == null) {
        ex.getResponseHeaders().set("X-Error-Code", "EntryNotFound");
        return respond(ex, 404, "{\"error\":\"Entry not found\"}");
      }
      ex.getResponseHeaders().set("X-Repo-Commit", commit);
      if (!f.lfs()) {
        ex.getResponseHeaders().set("ETag", "\"" + f.gitOid() + "\"");
        return serveContent(ex, path, range, sent);
      }
      ex.getResponseHeaders().set("X-Linked-Etag", "\"" + f.sha256() + "\"");
      ex.getResponseHeaders().set("X-Linked-Size", Long.toString(f.bytes().length));
      ex.getResponseHeaders().set("ETag", "\"" + f.sha256() + "\"");
      ex.getResponseHeaders().set("Location", "http://127.0.0.1:" + cdn.getAddress().getPort()
          + "/cdn/" + id + "/" + path + "?X-Amz-Signature=fixture");
      ex.sendResponseHeaders(302, -1);
      return 302;
    }

    /** The bytes of {@code path} from the Range start, with the content faults applied. */
    int serveContent(HttpExchange ex, String path, String range, long[] sent) throws IOException {
      HubFixtureFile f = files.get(path);
      HubFault fault = faults.get(path);
      byte[] bytes = fault != null && fault.wrongContent ? f.corrupted() : f.bytes();
      String etag = "\"" + (f.lfs() ? f.sha256() : f.gitOid()) + "\"";
      String ifRange = ex.getRequestHeaders().getFirst("If-Range");
      long start = 0;
      if (range != null && range.startsWith("bytes=") && range.endsWith("-")
          && (fault == null || !fault.ignoreRange) && (ifRange == null || ifRange.equals(etag))) {
        start = Long.parseLong(range.substring(6, range.length() - 1));
      }
      if (start >= bytes.length && bytes.length > 0) {
        ex.getResponseHeaders().set("Content-Range", "bytes */" + bytes.length);
        return respond(ex, 416, "");
      }
      int status = start > 0 ? 206 : 200;
      if (status == 206) {
        ex.getResponseHeaders().set("Content-Range",
            "bytes " + start + "-" + (bytes.length - 1) + "/" + bytes.length);
      }
      ex.getResponseHeaders().set("Accept-Ranges", "bytes");
      ex.getResponseHeaders().set("ETag", etag);
      long length = bytes.length - start;
      ex.sendResponseHeaders(status, length == 0 ? -1 : length);
      long stop = bytes.length;
      if (fault != null && fault.cutAt > start && fault.cutAt < bytes.length && fault.take()) {
        stop = fault.cutAt;
      }
      OutputStream out = ex.getResponseBody();
      int step = fault != null && fault.chunk > 0 ? fault.chunk : Integer.MAX_VALUE;
      for (long at = start; at < stop; at += step) {
        out.write(bytes, (int) at, (int) Math.min(step, stop - at));
        out.flush();
        if (step != Integer.MAX_VALUE) {
          pause(fault.delayMs);
        }
      }
      sent[0] = stop - start;
      if (stop < bytes.length) {
        throw new Cut(status); // fewer bytes than Content-Length, then the connection drops
      }
      return status;
    }
  }

  /** What a hostile hub answers instead of the hub's own response. */
  @FunctionalInterface
  public interface Answer {
    /** Responds on {@code ex} and returns the status, or returns null to let the hub answer. */
    Integer answer(HttpExchange ex) throws IOException;
  }

  private static void pause(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Thrown by a handler to drop the connection in the middle of a response body. */
  private static final class Cut extends IOException {
    private static final long serialVersionUID = 1L;
    private final int status;

    Cut(int status) {
      super("transfer cut by the test server");
      this.status = status;
    }
  }
}
