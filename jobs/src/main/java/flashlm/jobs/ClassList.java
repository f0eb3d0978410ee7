package flashlm.jobs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The list of classes this JVM loaded, which bin/flashlm asks it to record when the command has
 * no class-data archive yet ({@code -XX:DumpLoadedClassList}, the file named by {@value
 * #RECORDING}): kept under the name {@value #KEEP} when the command ran to the end without Spark,
 * so that the next launch writes an archive of it; deleted otherwise, since a run that failed,
 * printed help or started Spark loaded the wrong classes for one (too few, or Spark's 17,000).
 */
final class ClassList {
  static final String RECORDING = "flashlm.classlist.recording";
  static final String KEEP = "flashlm.classlist.keep";

  private ClassList() {}

  /** Keeps or deletes the recording; nothing when the launcher asked for none. */
  static void finish(boolean keep) {
    String recording = System.getProperty(RECORDING);
    String kept = System.getProperty(KEEP);
    if (recording == null || kept == null) {
      return;
    }
    try {
      if (keep) {
        // the JVM goes on appending the classes it loads while exiting, to the moved file
        Files.move(Path.of(recording), Path.of(kept), StandardCopyOption.REPLACE_EXISTING,
            StandardCopyOption.ATOMIC_MOVE);
      } else {
        Files.deleteIfExists(Path.of(recording));
      }
    } catch (IOException e) {
      // only start-up time is at stake: the next launch records again
      System.err.println("flashlm: class list " + recording + " not kept: " + e);
    }
  }
}
