package flashlm.pipeline.ingest;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;

import com.fasterxml.jackson.databind.JsonNode;
import flashlm.config.Configs;
import flashlm.pipeline.DatasetPaths;
import flashlm.fs.SerializableConfiguration;
import flashlm.pipeline.hub.DownloadManifest;
import flashlm.pipeline.manifest.DatasetManifest;
import flashlm.pipeline.manifest.DatasetManifest.FileEntry;
import flashlm.pipeline.manifest.DatasetManifest.SplitCounts;
import flashlm.pipeline.manifest.DeltaWrites;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.network.util.JavaUtils;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ingest: source files into the documents table ({@link DocumentsTable}) at {@link
 * DatasetPaths#documents()}, in one Delta commit.
 *
 * <p>Steps: resolve the inputs on the driver (download manifest or globs); a first Spark pass
 * hashes and checks every file, one task per file, and counts documents; then, unless the table's
 * latest commit already holds exactly these inputs (same fingerprint), a second pass reads the
 * documents and replaces the table in one commit whose {@code userMetadata} and {@code
 * flashlm.manifest} property carry the {@link DatasetManifest}. A bad file fails the job before
 * anything is committed.
 */
public final class Ingest {
  private static final Logger LOG = LoggerFactory.getLogger(Ingest.class);
  static final String UNASSIGNED = "unassigned";

  private Ingest() {}

  /**
   * Ingests the inputs {@code config} names into {@code paths.documents()}.
   *
   * @throws IngestException naming the file (and byte offset) when an input cannot be ingested
   */
  public static DeltaWrites.Result run(
      SparkSession spark, DatasetPaths paths, IngestConfig config) {
    Configuration hadoop = spark.sparkContext().hadoopConfiguration();
    InputFiles.Resolved in = InputFiles.resolve(hadoop, paths, config);
    String table = paths.documents();
    Optional<DeltaWrites.Commit> latest = DeltaWrites.latest(spark, table);
    long start = latest.map(DeltaWrites.Commit::version).orElse(-1L);
    LOG.info("ingest: {} {} files from {} into {} (version {})", in.files().size(), in.format(),
        in.root(), table, start);
    if (in.files().stream().allMatch(f -> f.getSha256() != null)) {
      // The download manifest has every sha256: an unchanged input needs no pass over the files.
      Optional<DeltaWrites.Result> same = DeltaWrites.unchanged("ingest", table, latest,
          fingerprint(in, config, entries(in.files())));
      if (same.isPresent()) {
        return same.get();
      }
    }
    try {
      return ingest(spark, hadoop, in, config, table, latest);
    } catch (Exception e) { // Spark's SparkException is checked, though Scala declares nothing
      IngestException found = IngestException.find(e);
      throw found != null ? found : IngestException.rethrow(e);
    } finally {
      spark.sparkContext().setJobDescription(null);
    }
  }

  private static DeltaWrites.Result ingest(SparkSession spark, Configuration hadoop,
      InputFiles.Resolved in, IngestConfig config, String table,
      Optional<DeltaWrites.Commit> latest) {
    long start = latest.map(DeltaWrites.Commit::version).orElse(-1L);
    boolean text = IngestConfig.TEXT.equals(in.format());
    SerializableConfiguration conf = new SerializableConfiguration(hadoop);
    ParquetSchemas schemas = text ? null : ParquetSchemas.of(config, in.source());
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    List<SourceFile> files = in.files();

    spark.sparkContext().setJobDescription("ingest: check and hash " + files.size() + " files");
    List<FileScan.Stats> stats = jsc.parallelize(files, files.size())
        .map(new FileScan(conf, in.format(), config.separator(), schemas))
        .collect(); // one small record per file
    ParquetDocuments parquet = null;
    if (!text) {
      parquet = new ParquetDocuments(spark, files, readSchema(spark, files, stats, schemas),
          config.textColumn());
      stats = withBlankCounts(stats, parquet.countsByPath());
    }
    List<SourceFile> hashed = new ArrayList<>();
    for (int i = 0; i < files.size(); i++) {
      SourceFile f = files.get(i);
      hashed.add(new SourceFile(f.getPath(), f.getLocation(), stats.get(i).size(),
          stats.get(i).sha256(), f.getSplit()));
    }
    String fingerprint = fingerprint(in, config, entries(hashed));
    ParquetDocuments parquetDocuments = parquet;
    List<FileScan.Stats> scanned = stats;
    return DeltaWrites.commit(spark, "ingest", table, latest, fingerprint, () -> {
      DatasetManifest manifest = manifest(in, config, fingerprint, hashed, scanned);
      Dataset<Row> documents = text ? textDocuments(spark, jsc, conf, hashed, in.source(), config)
          : parquetDocuments.documents(in.source());
      spark.sparkContext().setJobDescription("ingest: write " + table);
      return new DeltaWrites.NewVersion(documents, manifest, properties(in, manifest), List.of());
    });
  }

  private static Dataset<Row> textDocuments(SparkSession spark, JavaSparkContext jsc,
      SerializableConfiguration conf, List<SourceFile> files, String source,
      IngestConfig config) {
    // One partition per byte range: a large file is read by several tasks, each keeping the
    // documents that start in its range (TextRange), as Spark splits its own file sources.
    long rangeBytes = JavaUtils.byteStringAsBytes(
        spark.conf().get("spark.sql.files.maxPartitionBytes", "128m"));
    List<TextRange> ranges = new ArrayList<>();
    for (SourceFile f : files) {
      ranges.addAll(TextRange.of(f, f.getSize(), rangeBytes));
    }
    JavaRDD<Row> rows = jsc.parallelize(ranges, ranges.size())
        .mapPartitions(new TextDocuments(conf, config.separator()));
    return spark.createDataFrame(rows, TextDocuments.SCHEMA).select(
        DocumentsTable.docIdColumn(lit(source), col(DocumentsTable.SOURCE_FILE),
            col(DocumentsTable.SOURCE_OFFSET)).as(DocumentsTable.DOC_ID),
        lit(source).as(DocumentsTable.SOURCE),
        col(DocumentsTable.SOURCE_FILE),
        col(DocumentsTable.SOURCE_OFFSET),
        col(DocumentsTable.SOURCE_SPLIT),
        col(DocumentsTable.TEXT));
  }

  /** The Spark schema to read parquet inputs with; all files must agree when it is not fixed. */
  private static StructType readSchema(SparkSession spark, List<SourceFile> files,
      List<FileScan.Stats> stats, ParquetSchemas schemas) {
    if (schemas.fixed()) {
      return schemas.sparkSchema();
    }
    for (int i = 1; i < stats.size(); i++) {
      if (!stats.get(i).schema().equals(stats.get(0).schema())) {
        throw new IngestException(files.get(i).getLocation() + ": parquet schema differs from "
            + files.get(0).getLocation() + "'s:\n" + stats.get(i).schema() + "\nvs\n"
            + stats.get(0).schema());
      }
    }
    return spark.read().parquet(files.get(0).getLocation()).schema();
  }

  private static List<FileScan.Stats> withBlankCounts(List<FileScan.Stats> stats,
      Map<String, long[]> counts) {
    List<FileScan.Stats> out = new ArrayList<>();
    for (FileScan.Stats s : stats) {
      long[] c = counts.getOrDefault(s.path(), new long[2]);
      if (c[0] != s.documents()) {
        throw new IngestException(s.path() + ": Spark read " + c[0] + " rows but the parquet"
            + " footer says " + s.documents());
      }
      out.add(new FileScan.Stats(s.path(), s.size(), s.sha256(), c[0] - c[1], c[1], s.schema()));
    }
    return out;
  }

  private static List<FileEntry> entries(List<SourceFile> files) {
    return files.stream()
        .map(f -> new FileEntry(f.getPath(), f.getSize(), f.getSha256(), f.getSplit()))
        .toList();
  }

  /** Hash of everything that decides the table's contents (not the time, not the root). */
  private static String fingerprint(InputFiles.Resolved in, IngestConfig config,
      List<FileEntry> files) {
    Map<String, Object> inputs = new LinkedHashMap<>();
    inputs.put("job", "ingest");
    inputs.put("format_version", DatasetManifest.FORMAT_VERSION);
    inputs.put("source", in.source());
    inputs.put("format", in.format());
    inputs.put("config", config);
    inputs.put("files", files);
    return DatasetManifest.fingerprint(inputs);
  }

  private static DatasetManifest manifest(InputFiles.Resolved in, IngestConfig config,
      String fingerprint, List<SourceFile> files, List<FileScan.Stats> stats) {
    Map<String, long[]> bySplit = new TreeMap<>();
    for (int i = 0; i < files.size(); i++) {
      String split = files.get(i).getSplit() == null ? UNASSIGNED : files.get(i).getSplit();
      long[] c = bySplit.computeIfAbsent(split, k -> new long[2]);
      c[0] += stats.get(i).documents();
      c[1] += stats.get(i).blank();
    }
    Map<String, SplitCounts> counts = new LinkedHashMap<>();
    bySplit.forEach((k, c) -> counts.put(k, SplitCounts.ingested(c[0], c[1])));
    DownloadManifest d = in.download();
    DatasetManifest.Source source = new DatasetManifest.Source(in.source(),
        d == null ? null : d.repo(), d == null ? null : d.revision(),
        d == null ? null : d.resolvedCommit(), d == null ? null : d.endpoint(), in.root());
    JsonNode configJson = Configs.json().valueToTree(config);
    String splitRule = "by file: validation_files " + config.validationFiles()
        + " -> validation, train_files " + config.trainFiles() + " -> train; documents of other"
        + " files have no source_split and tokenize splits them by hashing doc_id";
    return new DatasetManifest(DatasetManifest.FORMAT_VERSION, "ingest", fingerprint,
        Instant.now().toString(), source, entries(files), counts, null, null, null, null, null,
        splitRule, null, configJson);
  }

  private static Map<String, String> properties(InputFiles.Resolved in, DatasetManifest m) {
    Map<String, String> p = new LinkedHashMap<>();
    p.put(DocumentsTable.PROP_FORMAT_VERSION, DocumentsTable.FORMAT_VERSION);
    p.put(DocumentsTable.PROP_SOURCE, in.source());
    long documents = m.counts().values().stream().mapToLong(SplitCounts::documents).sum();
    p.put(DocumentsTable.PROP_DOCUMENTS, Long.toString(documents));
    if (in.download() != null && in.download().repo() != null) {
      p.put(DocumentsTable.PROP_SOURCE_REPO, in.download().repo());
    }
    if (in.download() != null && in.download().resolvedCommit() != null) {
      p.put(DocumentsTable.PROP_RESOLVED_COMMIT, in.download().resolvedCommit());
    }
    return p;
  }
}
