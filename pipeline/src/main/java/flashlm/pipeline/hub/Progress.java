package flashlm.pipeline.hub;

import java.util.Locale;

/** The progress line of one file: at most one every {@link #INTERVAL_NANOS}, and a final one. */
final class Progress {
  static final long INTERVAL_NANOS = 2_000_000_000L;
  private final String path;
  private final long total;
  private final long startNanos = System.nanoTime();
  private long startBytes = -1;
  private long lastPrint = startNanos;

  Progress(String path, long total) {
    this.path = path;
    this.total = total;
  }

  /** {@code done} bytes of the file are on disk; prints a line if the interval has passed. */
  void update(long done) {
    if (startBytes < 0) {
      startBytes = done; // bytes resumed from earlier parts do not count towards the rate
    }
    long now = System.nanoTime();
    if (now - lastPrint < INTERVAL_NANOS) {
      return;
    }
    lastPrint = now;
    double rate = (done - startBytes) / Math.max(1e-9, (now - startNanos) / 1e9);
    long etaSeconds = rate > 0 ? (long) ((total - done) / rate) : -1;
    Console.line(String.format(Locale.ROOT, "%s %s / %s (%.0f%%) %.1f MB/s ETA %s", path,
        Console.mb(done), Console.mb(total), total > 0 ? 100.0 * done / total : 100.0, rate / 1e6,
        etaSeconds < 0 ? "?" : String.format(Locale.ROOT, "%d:%02d", etaSeconds / 60,
            etaSeconds % 60)));
  }

  /** The final line: bytes fetched by this task, time, rate and how the file was verified. */
  void done(long fetched, String verification) {
    double seconds = (System.nanoTime() - startNanos) / 1e9;
    Console.line(String.format(Locale.ROOT, "%s done: %s fetched of %s in %.1f s (%.1f MB/s), %s",
        path, Console.mb(fetched), Console.mb(total), seconds, fetched / 1e6 / Math.max(seconds,
            1e-9), verification));
  }
}
