package flashlm.pipeline.ingest;

/** An input that cannot be ingested; the message names the file (and offset where known). */
public final class IngestException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public IngestException(String message) {
    super(message);
  }

  public IngestException(String message, Throwable cause) {
    super(message, cause);
  }

  /** Finds an IngestException in {@code t}'s causes (Spark wraps task failures). */
  static IngestException find(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof IngestException e) {
        return new IngestException(e.getMessage(), t);
      }
      if (c.getCause() == c) {
        break;
      }
    }
    return null;
  }
}
