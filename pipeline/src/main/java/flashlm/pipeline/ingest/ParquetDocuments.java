package flashlm.pipeline.ingest;

import static org.apache.spark.sql.functions.broadcast;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.not;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.udf;
import static org.apache.spark.sql.functions.when;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Parquet inputs through Spark's own reader (vectorised, split by row group): each row gets its
 * file and row index from the {@code _metadata} column, and the file's path within the source and
 * split from a small broadcast table of the inputs.
 */
final class ParquetDocuments {
  private static final String FILE_KEY = "_flashlm_file";
  private static final String BLANK = "_flashlm_blank";
  /** Empty, null or whitespace-only text: the same rule as for text files (String.isBlank). */
  private static final UserDefinedFunction IS_BLANK =
      udf((UDF1<String, Boolean>) s -> s == null || s.isBlank(), DataTypes.BooleanType);

  private final SparkSession spark;
  private final List<SourceFile> files;
  private final StructType schema;
  private final String textColumn;

  /**
   * @param files the inputs, already checked by {@link FileScan}
   * @param schema the Spark schema to read them with
   * @param textColumn the column holding the text
   */
  ParquetDocuments(SparkSession spark, List<SourceFile> files, StructType schema,
      String textColumn) {
    this.spark = spark;
    this.files = files;
    this.schema = schema;
    this.textColumn = textColumn;
    for (StructField f : schema.fields()) {
      if (!f.name().equals(textColumn) && DocumentsTable.COLUMNS.contains(f.name())) {
        throw new IngestException(files.get(0).getLocation() + ": parquet column '" + f.name()
            + "' clashes with the documents table's own column of that name");
      }
    }
  }

  /**
   * Rows and blank rows per file, keyed by path within the source. Every row read must belong to
   * one of the inputs (checked: a mismatch of file URIs would otherwise drop rows silently).
   */
  Map<String, long[]> countsByPath() {
    Map<String, String> pathByKey = new HashMap<>();
    for (SourceFile f : files) {
      pathByKey.put(key(f.getLocation()), f.getPath());
    }
    List<Row> counts = read().groupBy(col(FILE_KEY))
        .agg(count(lit(1)), sum(when(col(BLANK), 1).otherwise(0)))
        .collectAsList(); // one small row per input file
    Map<String, long[]> byPath = new HashMap<>();
    for (Row r : counts) {
      String path = pathByKey.get(r.getString(0));
      if (path == null) {
        throw new IllegalStateException("parquet rows from " + r.getString(0)
            + ", which is none of the inputs " + pathByKey.keySet());
      }
      byPath.put(path, new long[] {r.getLong(1), r.isNullAt(2) ? 0 : r.getLong(2)});
    }
    return byPath;
  }

  /** The documents: non-blank rows with the table's leading columns, then the source's own. */
  Dataset<Row> documents(String source) {
    List<Row> fileRows = new ArrayList<>();
    for (SourceFile f : files) {
      fileRows.add(RowFactory.create(key(f.getLocation()), f.getPath(), f.getSplit()));
    }
    StructType fileSchema = new StructType()
        .add(FILE_KEY, DataTypes.StringType, false)
        .add(DocumentsTable.SOURCE_FILE, DataTypes.StringType, false)
        .add(DocumentsTable.SOURCE_SPLIT, DataTypes.StringType, true);
    Dataset<Row> fileTable = spark.createDataFrame(fileRows, fileSchema);
    Dataset<Row> rows = read().where(not(col(BLANK)))
        .join(broadcast(fileTable), FILE_KEY);
    List<Column> columns = new ArrayList<>();
    columns.add(DocumentsTable.docIdColumn(lit(source), col(DocumentsTable.SOURCE_FILE),
        col(DocumentsTable.SOURCE_OFFSET)).as(DocumentsTable.DOC_ID));
    columns.add(lit(source).as(DocumentsTable.SOURCE));
    columns.add(col(DocumentsTable.SOURCE_FILE));
    columns.add(col(DocumentsTable.SOURCE_OFFSET));
    columns.add(col(DocumentsTable.SOURCE_SPLIT));
    columns.add(col(textColumn).as(DocumentsTable.TEXT));
    for (StructField f : schema.fields()) {
      if (!f.name().equals(textColumn)) {
        columns.add(col("`" + f.name() + "`"));
      }
    }
    return rows.select(columns.toArray(Column[]::new));
  }

  private Dataset<Row> read() {
    String[] locations = files.stream().map(SourceFile::getLocation).toArray(String[]::new);
    return spark.read().schema(schema).parquet(locations)
        .withColumn(FILE_KEY, col("_metadata.file_path"))
        .withColumn(DocumentsTable.SOURCE_OFFSET, col("_metadata.row_index"))
        .withColumn(BLANK, IS_BLANK.apply(col(textColumn)));
  }

  /** A location as Spark's {@code _metadata.file_path} spells it (a URI, percent-encoded). */
  private static String key(String location) {
    return new Path(location).toUri().toString();
  }
}
