package flashlm.pipeline.hub;

/**
 * A download that cannot succeed: an HTTP 401/403/404, a size or sha256 mismatch, or retries
 * exhausted. The message names the repo, the revision or commit and the file.
 */
public final class HubException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int status;

  /** An error with no HTTP status (mismatch, exhausted retries). */
  public HubException(String message, Throwable cause) {
    super(message, cause);
    this.status = 0;
  }

  HubException(String message) {
    this(message, 0);
  }

  HubException(String message, int status) {
    super(message);
    this.status = status;
  }

  /** The HTTP status that caused this error, or 0. */
  public int status() {
    return status;
  }
}
