/**
 * Ingest: source files (TinyStories text, FineWeb-Edu parquet) into the documents Delta table
 * ({@link flashlm.pipeline.ingest.DocumentsTable}).
 *
 * <p>Entry point {@link flashlm.pipeline.ingest.Ingest#run}. Inputs come from the download
 * manifest under {@code DatasetPaths.raw()} or from explicit file globs. A first Spark pass hashes
 * every file and validates it (strict UTF-8, parquet footers and schema) and counts documents;
 * only then does a second pass write the table, in one Delta commit. Text files are read in
 * executor tasks as streams, split on the separator with byte offsets tracked; parquet files go
 * through Spark's reader, with row indexes from its {@code _metadata} column. No file is read
 * whole on the driver.
 */
package flashlm.pipeline.ingest;
