package flashlm.pipeline.audit;

/** An audit that cannot run: not a Delta table, no such version, files gone, a bad argument. */
public final class AuditException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public AuditException(String message) {
    super(message);
  }

  public AuditException(String message, Throwable cause) {
    super(message, cause);
  }
}
