package flashlm.pipeline.ingest;

import flashlm.fs.SerializableConfiguration;
import flashlm.hash.Sha256;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.metadata.BlockMetaData;
import org.apache.parquet.hadoop.metadata.ParquetMetadata;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.schema.MessageType;
import org.apache.spark.api.java.function.Function;

/**
 * The first pass over one input file, run in a Spark task: hashes its bytes and checks them
 * (strict UTF-8 and document counts for text; footer and schema for parquet) before anything is
 * written. A bad file fails the job with an {@link IngestException} naming it.
 */
final class FileScan implements Function<SourceFile, FileScan.Stats> {
  private static final long serialVersionUID = 1L;
  private static final int BUFFER = 1 << 20;

  /**
   * What the scan found in one file.
   *
   * @param path the file's path within the source
   * @param size bytes read
   * @param sha256 hex SHA-256 of the bytes
   * @param documents text: non-blank documents; parquet: rows (blank ones are counted later)
   * @param blank text: empty or whitespace-only documents dropped
   * @param schema parquet: the file's schema, to check all files agree; null for text
   */
  record Stats(String path, long size, String sha256, long documents, long blank, String schema)
      implements Serializable {}

  private final SerializableConfiguration conf;
  private final String format;
  private final String separator;
  private final ParquetSchemas schemas;

  FileScan(SerializableConfiguration conf, String format, String separator,
      ParquetSchemas schemas) {
    this.conf = conf;
    this.format = format;
    this.separator = separator;
    this.schemas = schemas;
  }

  @Override
  public Stats call(SourceFile file) {
    try {
      Stats stats = IngestConfig.TEXT.equals(format) ? scanText(file) : scanParquet(file);
      if (file.getSha256() != null && !file.getSha256().equalsIgnoreCase(stats.sha256())) {
        throw new IngestException(file.getLocation() + ": sha256 is " + stats.sha256()
            + " but the download manifest says " + file.getSha256() + " (changed since download)");
      }
      if (stats.size() != file.getSize()) {
        throw new IngestException(file.getLocation() + ": read " + stats.size() + " bytes but the"
            + " file had " + file.getSize() + " when listed (changed while reading)");
      }
      return stats;
    } catch (IOException e) {
      throw new IngestException(file.getLocation() + ": cannot read: " + e.getMessage(), e);
    }
  }

  private Stats scanText(SourceFile file) throws IOException {
    Path path = new Path(file.getLocation());
    MessageDigest digest = Sha256.digest();
    long documents = 0;
    long blank = 0;
    InputStream raw = path.getFileSystem(conf.get()).open(path, BUFFER);
    try (TextSplitter splitter = new TextSplitter(file.getLocation(),
        new DigestInputStream(raw, digest), separator)) {
      while (splitter.hasNext()) {
        if (splitter.next().text().isBlank()) {
          blank++;
        } else {
          documents++;
        }
      }
      return new Stats(file.getPath(), splitter.position(), Sha256.hexOf(digest.digest()),
          documents, blank, null);
    }
  }

  private Stats scanParquet(SourceFile file) throws IOException {
    Configuration hadoop = conf.get();
    Path path = new Path(file.getLocation());
    MessageDigest digest = Sha256.digest();
    long size = 0;
    byte[] buffer = new byte[BUFFER];
    try (InputStream in = path.getFileSystem(hadoop).open(path, BUFFER)) {
      for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
        digest.update(buffer, 0, n);
        size += n;
      }
    }
    ParquetMetadata footer;
    try (ParquetFileReader reader = ParquetFileReader.open(
        HadoopInputFile.fromPath(path, hadoop))) {
      footer = reader.getFooter();
    } catch (IOException | RuntimeException e) {
      throw new IngestException(file.getLocation() + ": not a readable parquet file (truncated or"
          + " corrupt footer): " + e.getMessage(), e);
    }
    MessageType schema = footer.getFileMetaData().getSchema();
    schemas.check(file.getLocation(), schema);
    long rows = 0;
    for (BlockMetaData block : footer.getBlocks()) {
      rows += block.getRowCount();
    }
    return new Stats(file.getPath(), size, Sha256.hexOf(digest.digest()), rows, 0,
        schema.toString());
  }
}
