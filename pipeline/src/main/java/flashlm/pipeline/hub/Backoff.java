package flashlm.pipeline.hub;

import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.ThreadLocalRandom;

/** Retry delays: exponential from a first delay, capped, with jitter; Retry-After wins. */
final class Backoff {
  static final long MAX_DELAY_MS = 60_000;
  /** The longest Retry-After honoured; a server asking for more gets this. */
  static final long MAX_RETRY_AFTER_MS = 600_000;

  private Backoff() {}

  /**
   * Delay before retry number {@code retry} (1-based): {@code first * 2^(retry-1)} capped at
   * {@link #MAX_DELAY_MS}, scaled by a random factor in [0.5, 1) so tasks that failed together do
   * not retry together. {@code retryAfter} (a header value, may be null) takes precedence.
   */
  static long delayMs(long firstMs, int retry, String retryAfter) {
    long fromHeader = parseRetryAfterMs(retryAfter);
    if (fromHeader >= 0) {
      return Math.min(fromHeader, MAX_RETRY_AFTER_MS);
    }
    long base = Math.min(MAX_DELAY_MS, firstMs << Math.min(retry - 1, 20));
    return (long) (base * (0.5 + 0.5 * ThreadLocalRandom.current().nextDouble()));
  }

  /** Retry-After as seconds or an HTTP date; -1 when absent or unreadable. */
  static long parseRetryAfterMs(String value) {
    if (value == null || value.isBlank()) {
      return -1;
    }
    try {
      return Math.max(0, Long.parseLong(value.trim()) * 1000);
    } catch (NumberFormatException notSeconds) {
      try {
        ZonedDateTime at = ZonedDateTime.parse(value.trim(), DateTimeFormatter.RFC_1123_DATE_TIME);
        return Math.max(0, Duration.between(ZonedDateTime.now(at.getZone()), at).toMillis());
      } catch (RuntimeException notDate) {
        return -1;
      }
    }
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new HubException("interrupted while waiting to retry", e);
    }
  }
}
