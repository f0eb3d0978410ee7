package flashlm.pipeline;

/**
 * Where a dataset's files and tables live, under one root (a local path, {@code
 * s3a://bucket/prefix} or any Hadoop filesystem URI). Every path the pipeline reads or writes comes
 * from here.
 *
 * <pre>
 * ROOT/raw/                 downloaded source files, laid out as in the source repo
 * ROOT/raw/_flashlm_download.json   the download manifest (flashlm.pipeline.hub.DownloadManifest)
 * ROOT/documents/           Delta table of documents
 * ROOT/sequences/           Delta table of packed token sequences (flashlm.table.SequencesTable)
 * ROOT/tokenizer/tokenizer.json     a tokenizer trained by train-tokenizer
 * ROOT/tokenizers/OWNER/NAME/       a tokenizer downloaded from the hub (hf://OWNER/NAME)
 * </pre>
 */
public record DatasetPaths(String root) {
  /** The download manifest's file name inside the folder the files were downloaded to. */
  public static final String DOWNLOAD_MANIFEST = "_flashlm_download.json";

  public DatasetPaths {
    if (root == null || root.isBlank()) {
      throw new IllegalArgumentException("dataset root (data_dir) must not be empty");
    }
    while (root.length() > 1 && root.endsWith("/")) {
      root = root.substring(0, root.length() - 1);
    }
  }

  public String raw() {
    return root + "/raw";
  }

  public String downloadManifest() {
    return downloadManifestIn(raw());
  }

  /** The download manifest of files downloaded to {@code dir} (any folder, not only raw()). */
  public static String downloadManifestIn(String dir) {
    return dir + "/" + DOWNLOAD_MANIFEST;
  }

  public String documents() {
    return root + "/documents";
  }

  public String sequences() {
    return root + "/sequences";
  }

  public String trainedTokenizer() {
    return root + "/tokenizer/tokenizer.json";
  }

  /** Where the tokenizer files of the hub model repo {@code repo} (OWNER/NAME) are downloaded. */
  public String hubTokenizer(String repo) {
    return root + "/tokenizers/" + repo;
  }
}
