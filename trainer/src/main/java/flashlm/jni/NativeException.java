package flashlm.jni;

/** A non-zero status from libflashlm, with the C side's error text. */
public final class NativeException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** FL_EINVAL: a bad argument (the message names it). */
  public static final int EINVAL = 1;
  /** FL_ENOMEM: native memory could not be allocated. */
  public static final int ENOMEM = 2;
  /** FL_ESTATE: an object used in the wrong state. */
  public static final int ESTATE = 3;
  /** FL_ECOMM: a connection to a peer failed or closed (the message names the peer). */
  public static final int ECOMM = 4;
  /** FL_ETIMEOUT: a peer sent or took nothing for the timeout (the message names it). */
  public static final int ETIMEOUT = 5;
  /** FL_EAUTH: a peer failed authentication. */
  public static final int EAUTH = 6;

  private final int code;

  public NativeException(int code, String message) {
    super(message);
    this.code = code;
  }

  /** The FL_E* status code. */
  public int code() {
    return code;
  }
}
