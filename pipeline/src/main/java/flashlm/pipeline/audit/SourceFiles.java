package flashlm.pipeline.audit;

import flashlm.fs.HadoopFiles;
import flashlm.fs.SerializableConfiguration;
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.pipeline.manifest.DatasetManifest.FileEntry;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;

/**
 * The source files a manifest lists, checked where they still are: size and sha256, hashed on
 * Spark, one task per file. A file that is gone (raw files deleted after ingest) is reported as
 * gone, not as a mismatch: the table does not depend on it.
 */
final class SourceFiles {
  private SourceFiles() {}

  /** What one file is now: present or not, its size and sha256. */
  record Facts(String location, boolean present, long size, String sha256)
      implements Serializable {}

  /** One check per listed file. */
  static List<Verify.Check> check(SparkSession spark, DatasetManifest m) {
    if (m.files() == null || m.files().isEmpty() || m.source() == null
        || m.source().root() == null) {
      return List.of(new Verify.Check("source files", Verify.SKIPPED, "-", "-",
          "the manifest lists no source files with a root"));
    }
    String root = m.source().root().endsWith("/") ? m.source().root() : m.source().root() + "/";
    List<String> locations = new ArrayList<>();
    for (FileEntry f : m.files()) {
      locations.add(root + f.path());
    }
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<SerializableConfiguration> conf = jsc.broadcast(
        new SerializableConfiguration(spark.sparkContext().hadoopConfiguration()));
    List<Facts> facts;
    try {
      facts = jsc.parallelize(locations, locations.size()).map(new Inspect(conf))
          .collect(); // one small record per file
    } finally {
      conf.destroy();
    }
    List<Verify.Check> out = new ArrayList<>();
    for (int i = 0; i < facts.size(); i++) {
      FileEntry f = m.files().get(i);
      Facts now = facts.get(i);
      String name = "source file " + f.path();
      if (!now.present()) {
        out.add(new Verify.Check(name, Verify.GONE, expected(f), "gone", now.location()));
      } else {
        boolean same = now.size() == f.size() && now.sha256().equals(f.sha256());
        out.add(new Verify.Check(name, same ? Verify.OK : Verify.MISMATCH, expected(f),
            TextTable.cell(now.size()) + " bytes, sha256 " + History.shortHash(now.sha256()),
            now.location()));
      }
    }
    return out;
  }

  private static String expected(FileEntry f) {
    return TextTable.cell(f.size()) + " bytes, sha256 " + History.shortHash(f.sha256());
  }

  /** Stats and hashes one file in a task. */
  static final class Inspect implements Function<String, Facts> {
    private static final long serialVersionUID = 1L;
    /** Broadcast: a Hadoop configuration is about 100 KB to deserialize, per task otherwise. */
    private final Broadcast<SerializableConfiguration> conf;

    Inspect(Broadcast<SerializableConfiguration> conf) {
      this.conf = conf;
    }

    @Override
    public Facts call(String location) {
      try {
        long size = HadoopFiles.length(conf.value().get(), location);
        return size < 0 ? new Facts(location, false, -1, null)
            : new Facts(location, true, size, HadoopFiles.sha256(conf.value().get(), location));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + location + ": " + e.getMessage(), e);
      }
    }
  }
}
