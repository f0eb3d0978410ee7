package flashlm.jobs;

import flashlm.config.ConfigException;
import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.bpe.BpeConfig;
import flashlm.pipeline.hub.DownloadConfig;
import flashlm.pipeline.ingest.IngestConfig;
import flashlm.pipeline.tokenize.TokenizeConfig;

/**
 * A data set: where its files and tables live and how each pipeline step makes them. One file
 * under {@code conf/datasets/} per data set; the steps ({@code download}, {@code ingest},
 * {@code train-tokenizer}, {@code tokenize}, or all of them with {@code prepare}) read their
 * section of it.
 *
 * @param dataDir root of the data set's files and tables (data_dir): a local path, {@code
 *     s3a://bucket/prefix} or any Hadoop URI; see {@link DatasetPaths} for the layout (required)
 * @param download what to fetch from the HuggingFace hub into {@code data_dir/raw}; absent when
 *     the source files are local or on S3 already (then {@code ingest.files} names them)
 * @param ingest how source files become the documents table (default: the downloaded files)
 * @param tokenizerTraining a byte-level BPE to train on the documents (tokenizer_training),
 *     written to {@code data_dir/tokenizer/tokenizer.json}; absent when a tokenizer is given
 * @param tokenize how documents become the sequences table (tokenizer, seq_len, shards, split)
 */
public record DatasetConfig(
    String dataDir,
    DownloadConfig download,
    IngestConfig ingest,
    BpeConfig tokenizerTraining,
    TokenizeConfig tokenize) {

  public DatasetConfig {
    if (dataDir == null || dataDir.isBlank()) {
      throw ConfigException.missing("data_dir");
    }
    ingest = ingest == null ? IngestConfig.defaults() : ingest;
    tokenize = tokenize == null ? TokenizeConfig.defaults() : tokenize;
  }

  /**
   * Where this data set's files and tables live. A relative data_dir is taken against the working
   * directory (Delta names a table by path only when the path is absolute).
   */
  public DatasetPaths paths() {
    boolean hasScheme = dataDir.matches("[a-zA-Z][a-zA-Z0-9+.-]*:.*");
    return new DatasetPaths(hasScheme ? dataDir
        : java.nio.file.Path.of(dataDir).toAbsolutePath().normalize().toString());
  }
}
