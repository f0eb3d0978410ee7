package flashlm.pipeline.hub;

import java.util.Locale;

/**
 * Where the downloader's progress and retry lines go: standard error of the JVM running the task
 * (the console in the local launcher, the executor's log on a cluster). Looked up on every call so
 * that a redirected {@code System.err} is honoured.
 */
final class Console {
  private Console() {}

  static void line(String message) {
    System.err.println("[download] " + message);
  }

  static String mb(long bytes) {
    return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
  }
}
