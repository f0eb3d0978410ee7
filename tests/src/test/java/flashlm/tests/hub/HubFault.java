package flashlm.tests.hub;

/**
 * A fault injected into a {@link HubServer} repo for one path (or API): a status some times, a
 * cut after a byte, wrong bytes, bytes sent slowly, or {@code Range} ignored.
 */
final class HubFault {
  final int status;
  final String retryAfter;
  final long cutAt;
  final boolean wrongContent;
  /** Answer 200 from byte 0 whatever {@code Range} asks for. */
  final boolean ignoreRange;
  /** Bytes per write when sending slowly, 0 for all at once. */
  final int chunk;
  /** Pause after each slow write. */
  final long delayMs;
  private int left;

  private HubFault(int status, int times, String retryAfter, long cutAt, boolean wrongContent,
      boolean ignoreRange, int chunk, long delayMs) {
    this.status = status;
    this.left = times;
    this.retryAfter = retryAfter;
    this.cutAt = cutAt;
    this.wrongContent = wrongContent;
    this.ignoreRange = ignoreRange;
    this.chunk = chunk;
    this.delayMs = delayMs;
  }

  /** {@code status} for the next {@code times} requests. */
  static HubFault status(int status, int times, String retryAfter) {
    return new HubFault(status, times, retryAfter, -1, false, false, 0, 0);
  }

  /** The next {@code times} responses stop after file byte {@code offset}. */
  static HubFault cut(long offset, int times, boolean ignoreRange) {
    return new HubFault(0, times, null, offset, false, ignoreRange, 0, 0);
  }

  /** Every response has one byte changed. */
  static HubFault wrongContent() {
    return new HubFault(0, Integer.MAX_VALUE, null, -1, true, false, 0, 0);
  }

  /** Every response sends {@code chunk} bytes, then waits {@code delayMs}, and so on. */
  static HubFault slow(int chunk, long delayMs) {
    return new HubFault(0, 0, null, -1, false, false, chunk, delayMs);
  }

  /** Uses one occurrence; false when none is left. */
  synchronized boolean take() {
    if (left <= 0) {
      return false;
    }
    left--;
    return true;
  }
}
