/**
 * The data pipeline, a Spark library: {@link flashlm.pipeline.DatasetPaths} (where everything of a
 * data set lives), and by step {@code hub} (download), {@code ingest} (documents table), {@code
 * bpe} (tokenizer training), {@code tokenize} (sequences table) and {@code manifest} (what every
 * Delta commit says about where it came from).
 */
package flashlm.pipeline;
