package flashlm.pipeline.ingest;

import flashlm.config.ConfigException;
import flashlm.config.Configs;
import flashlm.pipeline.DatasetPaths;
import flashlm.fs.HadoopFiles;
import flashlm.pipeline.hub.DownloadManifest;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Resolves an {@link IngestConfig} to the files to read, on the driver: from the download
 * manifest under the raw directory, or from the config's globs. Lists and stats files; reads no
 * file contents.
 */
final class InputFiles {
  private static final String GLOB_META = "*?[{\\";

  /**
   * The resolved inputs.
   *
   * @param files the files, sorted by path within the source
   * @param format {@link IngestConfig#TEXT} or {@link IngestConfig#PARQUET}
   * @param source the documents' source name
   * @param download the download manifest the files came from, or null for globs
   * @param root where the files were found (raw directory, or the first glob's base)
   */
  record Resolved(List<SourceFile> files, String format, String source, DownloadManifest download,
      String root) {}

  private InputFiles() {}

  static Resolved resolve(Configuration conf, DatasetPaths paths, IngestConfig config) {
    try {
      return config.files() == null ? fromDownload(conf, paths, config) : fromGlobs(conf, paths,
          config);
    } catch (IOException e) {
      throw new IngestException("cannot list the input files: " + e.getMessage(), e);
    }
  }

  private static Resolved fromDownload(Configuration conf, DatasetPaths paths, IngestConfig config)
      throws IOException {
    String manifestPath = paths.downloadManifest();
    if (!HadoopFiles.exists(conf, manifestPath)) {
      throw new IngestException("no download manifest at " + manifestPath + "; run download first,"
          + " or set ingest.files to the files to read");
    }
    DownloadManifest download;
    try {
      download = Configs.json().readValue(HadoopFiles.readAll(conf, manifestPath),
          DownloadManifest.class);
    } catch (IOException e) {
      throw new IngestException(manifestPath + ": not a download manifest: " + e.getMessage(), e);
    }
    if (download.files() == null || download.files().isEmpty()) {
      throw new IngestException(manifestPath + ": lists no files");
    }
    List<DownloadManifest.File> chosen = new ArrayList<>();
    for (DownloadManifest.File f : download.files()) {
      if (selected(f.path(), config)) {
        chosen.add(f);
      }
    }
    String format = format(config, chosen.stream().map(DownloadManifest.File::path).toList(),
        manifestPath);
    List<SourceFile> files = new ArrayList<>();
    for (DownloadManifest.File f : chosen) {
      String location = paths.raw() + "/" + f.path();
      long size = HadoopFiles.length(conf, location);
      if (size < 0) {
        throw new IngestException(location + ": listed in " + manifestPath + " but missing");
      }
      if (f.size() != null && f.size() != size) {
        throw new IngestException(location + ": has " + size + " bytes but the download manifest"
            + " says " + f.size() + " (truncated or changed since download)");
      }
      files.add(new SourceFile(f.path(), HadoopFiles.qualify(conf, location), size, f.sha256(),
          split(f.path(), config)));
    }
    String source = config.source() != null ? config.source()
        : download.repo() != null ? download.repo() : "local";
    return new Resolved(sorted(files), format, source, download, paths.raw());
  }

  private static Resolved fromGlobs(Configuration conf, DatasetPaths paths, IngestConfig config)
      throws IOException {
    Map<String, SourceFile> byPath = new LinkedHashMap<>();
    String firstBase = null;
    for (String glob : config.files()) {
      String pattern = isAbsolute(glob) ? glob : paths.raw() + "/" + glob;
      Path base = new Path(pattern.substring(0, Math.max(1, baseEnd(pattern))));
      FileSystem fs = new Path(pattern).getFileSystem(conf);
      String qualifiedBase = fs.makeQualified(base).toString();
      firstBase = firstBase == null ? qualifiedBase : firstBase;
      FileStatus[] matches = fs.globStatus(new Path(pattern));
      if (matches == null || matches.length == 0) {
        throw new IngestException("ingest.files: '" + glob + "' matches no file (looked at "
            + pattern + ")");
      }
      for (FileStatus st : matches) {
        if (!st.isFile()) {
          continue;
        }
        String location = st.getPath().toString();
        String path = relative(qualifiedBase, location);
        byPath.putIfAbsent(path, new SourceFile(path, location, st.getLen(), null,
            split(path, config)));
      }
    }
    List<SourceFile> files = sorted(new ArrayList<>(byPath.values()));
    if (files.isEmpty()) {
      throw new IngestException("ingest.files " + config.files() + " match only directories");
    }
    String format = format(config, files.stream().map(SourceFile::getPath).toList(),
        "ingest.files");
    String source = config.source() != null ? config.source() : "local";
    return new Resolved(files, format, source, null, firstBase);
  }

  /** Whether a download-manifest file is an input: the include globs, else by extension. */
  private static boolean selected(String path, IngestConfig config) {
    if (!config.include().isEmpty()) {
      return config.include().stream().anyMatch(g -> matches(g, path));
    }
    if (IngestConfig.PARQUET.equals(config.format())) {
      return path.endsWith(".parquet");
    }
    if (IngestConfig.TEXT.equals(config.format())) {
      return path.endsWith(".txt");
    }
    return path.endsWith(".parquet") || path.endsWith(".txt");
  }

  private static String format(IngestConfig config, List<String> paths, String where) {
    if (paths.isEmpty()) {
      throw new IngestException(where + ": no input file selected (format "
          + config.format() + ", include " + config.include() + ")");
    }
    if (config.format() != null) {
      return config.format();
    }
    long parquet = paths.stream().filter(p -> p.endsWith(".parquet")).count();
    if (parquet == paths.size()) {
      return IngestConfig.PARQUET;
    }
    if (parquet > 0) {
      throw new ConfigException(where + ": the inputs mix .parquet and other files; set"
          + " ingest.format or ingest.include");
    }
    return IngestConfig.TEXT;
  }

  /** "validation", "train" or null, from the config's file globs (path or file name). */
  static String split(String path, IngestConfig config) {
    String name = path.substring(path.lastIndexOf('/') + 1);
    for (String g : config.validationFiles()) {
      if (matches(g, path) || matches(g, name)) {
        return "validation";
      }
    }
    for (String g : config.trainFiles()) {
      if (matches(g, path) || matches(g, name)) {
        return "train";
      }
    }
    return null;
  }

  private static boolean matches(String glob, String path) {
    PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + glob);
    return m.matches(java.nio.file.Path.of(path));
  }

  private static boolean isAbsolute(String glob) {
    return glob.startsWith("/") || glob.matches("^[A-Za-z][A-Za-z0-9+.-]*:.*");
  }

  /** Index of the last '/' before the first glob character. */
  private static int baseEnd(String pattern) {
    int meta = pattern.length();
    for (int i = 0; i < pattern.length(); i++) {
      if (GLOB_META.indexOf(pattern.charAt(i)) >= 0) {
        meta = i;
        break;
      }
    }
    return pattern.lastIndexOf('/', meta == pattern.length() ? meta - 1 : meta);
  }

  private static String relative(String base, String location) {
    String prefix = base.endsWith("/") ? base : base + "/";
    if (location.startsWith(prefix)) {
      return location.substring(prefix.length());
    }
    return new Path(location).getName();
  }

  private static List<SourceFile> sorted(List<SourceFile> files) {
    files.sort(Comparator.comparing(SourceFile::getPath));
    return files;
  }
}
