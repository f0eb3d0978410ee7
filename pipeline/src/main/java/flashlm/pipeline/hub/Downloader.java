package flashlm.pipeline.hub;

import com.fasterxml.jackson.core.JsonProcessingException;
import flashlm.config.ConfigException;
import flashlm.config.Configs;
import flashlm.pipeline.DatasetPaths;
import flashlm.fs.AtomicFiles;
import flashlm.fs.HadoopFiles;
import flashlm.fs.SerializableConfiguration;
import flashlm.pipeline.hub.FileResult.Outcome;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * Downloads the files of a hub repo that match the config's patterns into {@code dest}, one Spark
 * task per file, and writes the {@link DownloadManifest}. See the package documentation for how
 * parts, resumption and verification work.
 */
public final class Downloader {
  private static final String JOB_DESCRIPTION = "spark.job.description";

  private Downloader() {}

  /**
   * Resolves the revision to a commit, lists and matches the files, fetches those not already
   * verified (in parallel Spark tasks), and writes the manifest atomically to {@link
   * DatasetPaths#downloadManifestIn(String) DEST/_flashlm_download.json}. Only the small per-file
   * results come back to the driver.
   *
   * @return the manifest written
   * @throws HubException when the revision, the listing or any file fails, when the listing names
   *     a path that would not stay under {@code dest}, or when a token would go over plain http
   *     to a host that is not loopback; the message names the repo, the revision and the file,
   *     and the manifest is then not written
   * @throws ConfigException when {@code cfg.dest()} is not set or {@code token_file} is unreadable
   */
  public static DownloadManifest run(SparkSession spark, DownloadConfig cfg) {
    if (cfg.dest() == null) {
      throw ConfigException.missing("dest");
    }
    long startNanos = System.nanoTime();
    Configuration hadoop = spark.sparkContext().hadoopConfiguration();
    String dest = stripSlashes(HadoopFiles.qualify(hadoop, cfg.dest()));
    HubClient client = new HubClient(cfg, HubToken.resolve(cfg, System.getenv()));
    String commit = client.resolveCommit(cfg.revision());
    List<HubFile> files = matching(client, commit);
    for (HubFile f : files) {
      try {
        HubPaths.resolveUnder(new Path(dest), f.path()); // before any task writes anything
      } catch (HubException e) {
        throw new HubException(client.describe(commit, null) + ": " + e.getMessage());
      }
    }
    String manifestLocation = DatasetPaths.downloadManifestIn(dest);
    DownloadManifest prior = readPrior(hadoop, manifestLocation, cfg);
    Map<String, DownloadManifest.File> priorByPath = prior == null ? Map.of()
        : prior.files().stream().collect(Collectors.toMap(DownloadManifest.File::path,
            Function.identity(), (a, b) -> b));
    List<FileTask> tasks = files.stream()
        .map(f -> new FileTask(f, priorByPath.get(f.path()))).toList();
    if (tasks.stream().anyMatch(t -> t.prior() != null && !t.priorMatches())) {
      // Files the old manifest lists are about to change: it must not outlive them.
      delete(hadoop, manifestLocation);
    }
    Console.line(cfg.source() + " revision '" + cfg.revision() + "' is commit " + commit + ": "
        + files.size() + " files, " + Console.mb(files.stream().mapToLong(HubFile::size).sum())
        + ", to " + dest);

    List<FileResult> results = fetchAll(spark, client, hadoop, dest, commit, tasks);
    List<FileResult> failed = results.stream().filter(r -> r.outcome() == Outcome.FAILED).toList();
    if (!failed.isEmpty()) {
      FileResult first = failed.get(0);
      String others = failed.size() == 1 ? "" : " (" + (failed.size() - 1) + " more files failed: "
          + failed.stream().skip(1).map(FileResult::path).collect(Collectors.joining(", ")) + ")";
      throw new HubException(first.error() + others, first.status());
    }

    DownloadManifest manifest = manifest(cfg, commit, results, prior);
    write(hadoop, manifestLocation, manifest);
    removePartials(hadoop, dest, cfg);
    Console.line(summary(results, manifestLocation, startNanos));
    return manifest;
  }

  /** The files under the patterns' listing prefixes that match a pattern, sorted by path. */
  private static List<HubFile> matching(HubClient client, String commit) {
    DownloadConfig cfg = client.config();
    List<Pattern> globs = cfg.patterns().stream().map(Glob::compile).toList();
    Set<String> prefixes = new LinkedHashSet<>();
    cfg.patterns().stream().map(Glob::listingPrefix).sorted().forEach(p -> {
      if (prefixes.stream().noneMatch(q -> q.isEmpty() || p.equals(q) || p.startsWith(q + "/"))) {
        prefixes.add(p); // sorted, so a folder comes before the folders inside it
      }
    });
    Map<String, HubFile> byPath = new TreeMap<>();
    int listed = 0;
    for (String prefix : prefixes) {
      for (HubFile f : client.listTree(commit, prefix)) {
        listed++;
        if (globs.stream().anyMatch(g -> g.matcher(f.path()).matches())) {
          byPath.put(f.path(), f);
        }
      }
    }
    if (byPath.isEmpty()) {
      throw new HubException(client.describe(commit, null) + ": no file matches " + cfg.patterns()
          + " (" + listed + " files listed under " + prefixes.stream()
              .map(p -> p.isEmpty() ? "the repo root" : "'" + p + "'").toList() + ")", 404);
    }
    for (int i = 0; i < globs.size(); i++) {
      Pattern g = globs.get(i);
      if (byPath.keySet().stream().noneMatch(p -> g.matcher(p).matches())) {
        Console.line("warning: pattern '" + cfg.patterns().get(i) + "' matches no file");
      }
    }
    return List.copyOf(byPath.values());
  }

  private static List<FileResult> fetchAll(SparkSession spark, HubClient client,
      Configuration hadoop, String dest, String commit, List<FileTask> tasks) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    int parallelism = client.config().parallelism();
    int slices = parallelism == 0 ? tasks.size() : Math.min(tasks.size(), parallelism);
    String description = jsc.getLocalProperty(JOB_DESCRIPTION);
    jsc.setJobDescription("flashlm download " + client.config().repo() + " @ " + commit);
    try {
      // One partition per file (parallelize slices evenly): each task fetches one file.
      return jsc.parallelize(tasks, slices)
          .mapPartitions(new FetchPartition(client, new SerializableConfiguration(hadoop), dest,
              commit))
          .collect(); // one small result per file; the bytes stay in the destination
    } finally {
      jsc.setLocalProperty(JOB_DESCRIPTION, description);
    }
  }

  /**
   * The new manifest: this run's files, plus the entries of an earlier manifest of the same
   * repo and commit for paths this run did not select (downloads into one folder accumulate).
   */
  private static DownloadManifest manifest(DownloadConfig cfg, String commit,
      List<FileResult> results, DownloadManifest prior) {
    Map<String, DownloadManifest.File> byPath = new TreeMap<>();
    Set<String> patterns = new LinkedHashSet<>();
    if (prior != null && commit.equals(prior.resolvedCommit())) {
      prior.files().forEach(f -> byPath.put(f.path(), f));
      if (prior.patterns() != null) {
        patterns.addAll(prior.patterns());
      }
    }
    results.forEach(r -> byPath.put(r.path(), r.entry()));
    patterns.addAll(cfg.patterns());
    return new DownloadManifest(cfg.source(), cfg.repo(), cfg.revision(), commit, cfg.endpoint(),
        List.copyOf(byPath.values()), Instant.now().toString(), List.copyOf(patterns));
  }

  /** The earlier manifest in {@code dest} if it is of the same repo, else null. */
  private static DownloadManifest readPrior(Configuration hadoop, String location,
      DownloadConfig cfg) {
    try {
      if (!HadoopFiles.exists(hadoop, location)) {
        return null;
      }
      DownloadManifest m = Configs.json().readValue(HadoopFiles.readAll(hadoop, location),
          DownloadManifest.class);
      if (!cfg.source().equals(m.source()) || m.files() == null) {
        Console.line("the manifest at " + location + " is of " + m.source()
            + "; it will be replaced");
        return null;
      }
      return m;
    } catch (IOException e) {
      Console.line("cannot read the earlier manifest " + location + " (" + e.getMessage()
          + "); files already present will be hashed to check them");
      return null;
    }
  }

  private static void write(Configuration hadoop, String location, DownloadManifest manifest) {
    try {
      AtomicFiles.write(hadoop, location, Configs.json().writeValueAsBytes(manifest));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialise the download manifest", e);
    }
  }

  private static void delete(Configuration hadoop, String location) {
    Path path = new Path(location);
    try {
      HadoopFiles.fileSystem(hadoop, path).delete(path, false);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove the stale download manifest " + location, e);
    }
  }

  /**
   * Every file is in place: parts of earlier, abandoned downloads go too, unless another
   * download into the same destination is writing one of them.
   */
  private static void removePartials(Configuration hadoop, String dest, DownloadConfig cfg) {
    Path partial = new Path(dest, PartFile.PARTIAL_DIR);
    try {
      FileSystem fs = HadoopFiles.fileSystem(hadoop, partial);
      long staleAfterMs = PartLock.staleAfterMs(cfg);
      if (!PartFile.removePartials(fs, new Path(dest), staleAfterMs)) {
        Console.line("left " + partial + " in place: another download into " + dest
            + " is using it");
      }
    } catch (IOException e) {
      Console.line("warning: cannot remove " + partial + ": " + e.getMessage());
    }
  }

  private static String summary(List<FileResult> results, String manifest, long startNanos) {
    Map<Outcome, Long> counts = new TreeMap<>(results.stream()
        .collect(Collectors.groupingBy(FileResult::outcome, Collectors.counting())));
    long bytes = results.stream().mapToLong(FileResult::bytesFetched).sum();
    double seconds = (System.nanoTime() - startNanos) / 1e9;
    List<String> parts = new ArrayList<>();
    counts.forEach((o, n) -> parts.add(n + " " + o.name().toLowerCase(Locale.ROOT)));
    return String.format(Locale.ROOT, "%d files (%s), %s fetched in %.1f s; manifest %s",
        results.size(), String.join(", ", parts), Console.mb(bytes), seconds, manifest);
  }

  private static String stripSlashes(String s) {
    String out = s;
    while (out.endsWith("/") && !out.endsWith(":/") && !out.endsWith("//")) {
      out = out.substring(0, out.length() - 1);
    }
    return out;
  }
}
