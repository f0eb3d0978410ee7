package flashlm.pipeline.hub;

import java.io.Serializable;

/**
 * What one Spark task reports about one file; the only data the download brings back to the
 * driver.
 *
 * @param path repo path
 * @param outcome what the task did
 * @param entry the manifest entry (null when failed)
 * @param bytesFetched bytes transferred by this task
 * @param error the failure, naming repo, commit and path (null unless failed)
 * @param status the HTTP status behind the failure, or 0
 */
record FileResult(String path, Outcome outcome, DownloadManifest.File entry, long bytesFetched,
    String error, int status) implements Serializable {
  private static final long serialVersionUID = 1L;

  /** What happened to a file. */
  enum Outcome {
    /** Fetched (in whole or resuming a part) and verified. */
    DOWNLOADED,
    /** The earlier manifest's entry matched the listing and the file has its size. */
    SKIPPED,
    /** A file already at the target, not in the manifest, hashed and found equal. */
    KEPT,
    /** Failed; see {@link #error()}. */
    FAILED
  }

  static FileResult done(Outcome outcome, DownloadManifest.File entry, long bytesFetched) {
    return new FileResult(entry.path(), outcome, entry, bytesFetched, null, 0);
  }

  static FileResult failed(String path, String error, int status, long bytesFetched) {
    return new FileResult(path, Outcome.FAILED, null, bytesFetched, error, status);
  }
}
