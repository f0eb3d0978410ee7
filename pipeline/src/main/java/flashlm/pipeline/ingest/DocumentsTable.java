package flashlm.pipeline.ingest;

import static org.apache.spark.sql.functions.concat_ws;
import static org.apache.spark.sql.functions.sha2;

import flashlm.hash.Sha256;
import java.util.List;
import org.apache.spark.sql.Column;

/**
 * The contract of the documents table that {@link Ingest} writes and tokenize and the tokenizer
 * trainer read: one Delta table (not partitioned), one row per kept document.
 *
 * <pre>
 * doc_id         STRING  hex SHA-256 of source + "\n" + source_file + "\n" + source_offset: stable
 *                        across re-runs, so splits and shards that hash it are stable too
 * source         STRING  the source's name (hub repo id, or the ingest config's source)
 * source_file    STRING  path of the file within the source (as in the hub repo)
 * source_offset  LONG    row index in a parquet file; byte offset of the segment in a text file
 * source_split   STRING  "train" or "validation" when the file maps to a split, else null
 * text           STRING  the document (text files: the segment without surrounding whitespace)
 * ...                    the source's own columns as they are (FineWeb-Edu: id, dump, url, date,
 *                        file_path, language, language_score, token_count, score, int_score)
 * </pre>
 */
public final class DocumentsTable {
  public static final String DOC_ID = "doc_id";
  public static final String SOURCE = "source";
  public static final String SOURCE_FILE = "source_file";
  public static final String SOURCE_OFFSET = "source_offset";
  public static final String SOURCE_SPLIT = "source_split";
  public static final String TEXT = "text";
  /** The columns every documents table starts with, in order. */
  public static final List<String> COLUMNS =
      List.of(DOC_ID, SOURCE, SOURCE_FILE, SOURCE_OFFSET, SOURCE_SPLIT, TEXT);

  /** Table property: version of this layout. */
  public static final String PROP_FORMAT_VERSION = "flashlm.format_version";
  public static final String FORMAT_VERSION = "1";
  /** Table property: the documents in the table. */
  public static final String PROP_DOCUMENTS = "flashlm.documents";
  /** Table property: the source's name ({@link #SOURCE}). */
  public static final String PROP_SOURCE = "flashlm.source";
  /** Table property: the hub repo id, when the files came from the hub. */
  public static final String PROP_SOURCE_REPO = "flashlm.source_repo";
  /** Table property: the commit the hub revision resolved to. */
  public static final String PROP_RESOLVED_COMMIT = "flashlm.resolved_commit";

  private DocumentsTable() {}

  /** The document id of the document at {@code offset} of {@code file} in {@code source}. */
  public static String docId(String source, String file, long offset) {
    return Sha256.hex(source + "\n" + file + "\n" + offset);
  }

  /** {@link #docId} as a Spark expression over the three columns (Spark's sha2 is the same). */
  public static Column docIdColumn(Column source, Column file, Column offset) {
    return sha2(concat_ws("\n", source, file, offset.cast("string")), 256);
  }
}
