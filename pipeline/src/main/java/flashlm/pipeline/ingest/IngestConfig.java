package flashlm.pipeline.ingest;

import flashlm.config.ConfigException;
import java.util.List;

/**
 * The {@code ingest} job's config (snake_case keys in files and {@code --set} overrides).
 *
 * @param format "text" (documents separated by {@code separator}) or "parquet" (one document per
 *     row); default: "parquet" when every input file ends in {@code .parquet}, else "text"
 * @param source the value of the {@code source} column; default: the download manifest's repo,
 *     else "local"
 * @param files globs of input files (relative to the dataset's raw directory, or absolute URIs:
 *     {@code /data/*.txt}, {@code s3a://bucket/x/*.parquet}); default: the files listed in the
 *     download manifest
 * @param include globs that select files from the download manifest (default: every file of the
 *     format, by extension: .txt, .parquet)
 * @param textColumn parquet column holding the text (text_column), default "text"; in the table
 *     it is always {@code text}
 * @param separator text format: the document separator, default {@code <|endoftext|>}; use
 *     {@code "\n\n"} for files separated by blank lines
 * @param validationFiles globs of files whose documents are all "validation" (validation_files),
 *     matched against the path within the source and against the file name; default {@code
 *     ["*valid*"]}
 * @param trainFiles globs of files whose documents are all "train" (train_files), default none;
 *     documents of other files have no source_split and tokenize splits them by hash
 * @param expectedSchema "fineweb-edu" (every parquet file must have FineWeb-Edu's 11 columns with
 *     their types), "none" (only the text column is checked, and all files must share one schema),
 *     or default: "fineweb-edu" when the source names fineweb-edu, else "none"
 */
public record IngestConfig(
    String format,
    String source,
    List<String> files,
    List<String> include,
    String textColumn,
    String separator,
    List<String> validationFiles,
    List<String> trainFiles,
    String expectedSchema) {

  public static final String TEXT = "text";
  public static final String PARQUET = "parquet";
  public static final String FINEWEB_EDU = "fineweb-edu";
  public static final String NONE = "none";

  public IngestConfig {
    if (format != null && !format.equals(TEXT) && !format.equals(PARQUET)) {
      throw ConfigException.badValue("format", format, "'text' or 'parquet'");
    }
    if (source != null && source.isBlank()) {
      throw ConfigException.badValue("source", source, "a non-empty name");
    }
    files = files == null ? null : List.copyOf(files);
    if (files != null && files.isEmpty()) {
      throw ConfigException.badValue("files", files, "at least one glob, or leave it unset");
    }
    include = include == null ? List.of() : List.copyOf(include);
    textColumn = textColumn == null ? "text" : textColumn;
    if (textColumn.isBlank()) {
      throw ConfigException.badValue("text_column", textColumn, "a column name");
    }
    separator = separator == null ? "<|endoftext|>" : separator;
    if (separator.isEmpty()) {
      throw ConfigException.badValue("separator", "\"\"", "a non-empty string");
    }
    validationFiles = validationFiles == null ? List.of("*valid*") : List.copyOf(validationFiles);
    trainFiles = trainFiles == null ? List.of() : List.copyOf(trainFiles);
    if (expectedSchema != null && !expectedSchema.equals(FINEWEB_EDU)
        && !expectedSchema.equals(NONE)) {
      throw ConfigException.badValue("expected_schema", expectedSchema, "'fineweb-edu' or 'none'");
    }
  }

  /** All defaults: files from the download manifest. */
  public static IngestConfig defaults() {
    return new IngestConfig(null, null, null, null, null, null, null, null, null);
  }

  /** This config with {@code files} replaced. */
  public IngestConfig withFiles(List<String> newFiles) {
    return new IngestConfig(format, source, newFiles, include, textColumn, separator,
        validationFiles, trainFiles, expectedSchema);
  }

  /** This config with {@code separator} replaced. */
  public IngestConfig withSeparator(String newSeparator) {
    return new IngestConfig(format, source, files, include, textColumn, newSeparator,
        validationFiles, trainFiles, expectedSchema);
  }

  /** This config with {@code source} replaced. */
  public IngestConfig withSource(String newSource) {
    return new IngestConfig(format, newSource, files, include, textColumn, separator,
        validationFiles, trainFiles, expectedSchema);
  }
}
