package flashlm.pipeline.hub;

import flashlm.config.ConfigException;
import flashlm.config.Configs;
import java.io.Serializable;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What {@code flashlm download} fetches from the HuggingFace hub and where it puts it.
 *
 * @param repo repo id, e.g. {@code HuggingFaceFW/fineweb-edu} (required)
 * @param repoType {@code dataset} (default), {@code model} or {@code space} (repo_type)
 * @param revision branch, tag or commit (default {@code main}); resolved once to a commit and
 *     every file is fetched from that commit
 * @param patterns globs over repo paths (required): {@code *} and {@code ?} stay inside one path
 *     segment, {@code **} crosses segments, {@code {a,b}} is alternation, {@code [..]} a class
 * @param endpoint hub URL (default: env {@code HF_ENDPOINT}, else {@code https://huggingface.co});
 *     must not carry credentials: the token comes from env {@code HF_TOKEN} or {@code token_file}
 * @param dest Hadoop URI or path the files go under, laid out as in the repo (the job defaults it
 *     to {@code DatasetPaths.raw()})
 * @param parallelism most files in flight; 0 (default) runs one Spark task per file and lets the
 *     executors' cores bound the concurrency
 * @param maxRetries retries of a file or API call after an IO error, 429 or 5xx, counted since
 *     the last attempt that made the file's part grow (max_retries, default 5)
 * @param timeoutSeconds connect timeout and longest silence while reading (timeout_seconds,
 *     default 60)
 * @param retryBackoffMs first retry delay, doubled on each retry up to 60 s, with jitter
 *     (retry_backoff_ms, default 1000); a {@code Retry-After} header takes precedence
 * @param tokenFile a file on the driver's local disk holding the hub token (token_file); when set
 *     it is used instead of env {@code HF_TOKEN}. The token itself is never part of a config, so
 *     resolved configs can be logged and stored
 * @param verifyExisting re-hash files a previous run already verified instead of trusting the
 *     manifest entry and the file size (verify_existing, default false)
 * @param fileDeadlineSeconds the longest one file may take, retries and waits included, before
 *     it fails (file_deadline_seconds, default {@value #DEFAULT_FILE_DEADLINE_SECONDS}: 6 hours);
 *     bounds a server that trickles bytes just fast enough to never time out, and how long a
 *     download waits for another one fetching the same file into the same destination
 */
public record DownloadConfig(
    String repo,
    String repoType,
    String revision,
    List<String> patterns,
    String endpoint,
    String dest,
    Integer parallelism,
    Integer maxRetries,
    Integer timeoutSeconds,
    Long retryBackoffMs,
    String tokenFile,
    Boolean verifyExisting,
    Integer fileDeadlineSeconds) implements Serializable {

  /** The public hub, used when neither the config nor {@code HF_ENDPOINT} names one. */
  public static final String DEFAULT_ENDPOINT = "https://huggingface.co";
  /** {@link #fileDeadlineSeconds()} when not set: 6 hours. */
  public static final int DEFAULT_FILE_DEADLINE_SECONDS = 21_600;
  private static final long serialVersionUID = 1L;
  private static final Pattern REPO = Pattern.compile("[A-Za-z0-9][\\w.-]*(/[\\w.-]+)?");
  private static final List<String> REPO_TYPES = List.of("dataset", "model", "space");

  public DownloadConfig {
    if (repo == null || repo.isBlank()) {
      throw ConfigException.missing("repo");
    }
    if (!REPO.matcher(repo).matches() || repo.endsWith("/.") || repo.endsWith("/..")) {
      throw ConfigException.badValue("repo", repo, "a hub repo id such as 'owner/name'");
    }
    repoType = repoType == null ? "dataset" : repoType;
    if (!REPO_TYPES.contains(repoType)) {
      throw ConfigException.badValue("repo_type", repoType, "one of " + REPO_TYPES);
    }
    revision = revision == null ? "main" : revision;
    if (revision.isBlank()) {
      throw ConfigException.badValue("revision", "''", "a branch, tag or commit");
    }
    if (patterns == null || patterns.isEmpty()) {
      throw ConfigException.missing("patterns");
    }
    for (String p : patterns) {
      if (p == null || p.isBlank() || p.startsWith("/")) {
        throw ConfigException.badValue("patterns", p, "globs relative to the repo root");
      }
      Glob.compile(p); // fails on an unbalanced {..} or [..]
    }
    patterns = List.copyOf(patterns);
    endpoint = normalizeEndpoint(endpoint != null ? endpoint : defaultEndpoint());
    if (dest != null && dest.isBlank()) {
      throw ConfigException.badValue("dest", "''", "a Hadoop path or URI");
    }
    parallelism = parallelism == null ? 0 : parallelism;
    if (parallelism < 0) {
      throw ConfigException.badValue("parallelism", parallelism, ">= 0 (0: one task per file)");
    }
    maxRetries = maxRetries == null ? 5 : maxRetries;
    if (maxRetries < 0) {
      throw ConfigException.badValue("max_retries", maxRetries, ">= 0");
    }
    timeoutSeconds = timeoutSeconds == null ? 60 : timeoutSeconds;
    if (timeoutSeconds <= 0) {
      throw ConfigException.badValue("timeout_seconds", timeoutSeconds, "> 0");
    }
    retryBackoffMs = retryBackoffMs == null ? 1000L : retryBackoffMs;
    if (retryBackoffMs < 0) {
      throw ConfigException.badValue("retry_backoff_ms", retryBackoffMs, ">= 0");
    }
    if (tokenFile != null && tokenFile.isBlank()) {
      throw ConfigException.badValue("token_file", "''", "a local file holding the hub token");
    }
    verifyExisting = verifyExisting != null && verifyExisting;
    fileDeadlineSeconds = fileDeadlineSeconds == null ? DEFAULT_FILE_DEADLINE_SECONDS
        : fileDeadlineSeconds;
    if (fileDeadlineSeconds <= 0) {
      throw ConfigException.badValue("file_deadline_seconds", fileDeadlineSeconds, "> 0");
    }
  }

  /**
   * A config from its snake_case keys, as a config file would give them ({@code repo},
   * {@code patterns}, {@code max_retries}...); the others take their defaults.
   *
   * @throws ConfigException naming the key for unknown keys and bad values
   */
  public static DownloadConfig of(Map<String, ?> keys) {
    return Configs.bind(Configs.json().valueToTree(keys), DownloadConfig.class, "(keys)");
  }

  /** A config with every optional key defaulted. */
  public static DownloadConfig of(String repo, String revision, List<String> patterns,
      String dest) {
    return new DownloadConfig(repo, null, revision, patterns, null, dest, null, null, null, null,
        null, null, null);
  }

  /**
   * A download of {@code patterns} of the model repo {@code repo} at {@code revision} into {@code
   * dest}, with the endpoint, token, retry and deadline settings of {@code base} (null: the
   * defaults).
   */
  public static DownloadConfig modelFiles(DownloadConfig base, String repo, String revision,
      List<String> patterns, String dest) {
    return base == null
        ? new DownloadConfig(repo, "model", revision, patterns, null, dest, null, null, null,
            null, null, null, null)
        : new DownloadConfig(repo, "model", revision, patterns, base.endpoint, dest, null,
            base.maxRetries, base.timeoutSeconds, base.retryBackoffMs, base.tokenFile, null,
            base.fileDeadlineSeconds);
  }

  /** This config with {@code dest} set (the job fills it from {@code DatasetPaths.raw()}). */
  public DownloadConfig withDest(String newDest) {
    return new DownloadConfig(repo, repoType, revision, patterns, endpoint, newDest, parallelism,
        maxRetries, timeoutSeconds, retryBackoffMs, tokenFile, verifyExisting,
        fileDeadlineSeconds);
  }

  /** The source named in manifests: {@code hf://datasets/REPO}, {@code hf://REPO} for models. */
  public String source() {
    return repoType.equals("model") ? "hf://" + repo : "hf://" + repoType + "s/" + repo;
  }

  private static String defaultEndpoint() {
    String env = System.getenv("HF_ENDPOINT");
    return env == null || env.isBlank() ? DEFAULT_ENDPOINT : env;
  }

  private static String normalizeEndpoint(String endpoint) {
    URI uri;
    try {
      uri = new URI(endpoint);
    } catch (URISyntaxException e) {
      throw ConfigException.badValue("endpoint", endpoint, "an http(s) URL");
    }
    if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())
        || uri.getHost() == null) {
      throw ConfigException.badValue("endpoint", endpoint, "an http(s) URL");
    }
    if (uri.getRawUserInfo() != null || uri.getRawQuery() != null) {
      throw ConfigException.badValue("endpoint", "(an URL with credentials or a query)",
          "a plain URL; the token goes in env HF_TOKEN");
    }
    String s = uri.toString();
    while (s.endsWith("/")) {
      s = s.substring(0, s.length() - 1);
    }
    return s;
  }
}
