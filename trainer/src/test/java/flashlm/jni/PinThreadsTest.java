package flashlm.jni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link Native#pinThreads}: the calling thread ends up on the cpus given (as the kernel reports
 * it in /proc), bad lists are refused with the C side's text, and pinning back restores it.
 */
class PinThreadsTest {
  private static final Path SELF = Path.of("/proc/thread-self/status");

  /** The cpus the calling thread may run on, from its {@code Cpus_allowed_list}. */
  private static List<Integer> allowed() throws IOException {
    for (String line : Files.readAllLines(SELF)) {
      if (line.startsWith("Cpus_allowed_list:")) {
        List<Integer> out = new ArrayList<>();
        for (String part : line.substring(line.indexOf(':') + 1).trim().split(",")) {
          String[] r = part.split("-");
          int lo = Integer.parseInt(r[0]);
          int hi = r.length > 1 ? Integer.parseInt(r[1]) : lo;
          for (int c = lo; c <= hi; c++) {
            out.add(c);
          }
        }
        return out;
      }
    }
    throw new IllegalStateException("no Cpus_allowed_list in " + SELF);
  }

  @Test
  void pinsTheCallingThreadAndPinningBackRestoresIt() throws IOException {
    List<Integer> before = allowed();
    int threads = Native.numThreads();
    int last = before.get(before.size() - 1);
    try {
      Native.check(Native.setNumThreads(2), "threads");
      Native.check(Native.pinThreads(new int[] {last}), "pin");
      assertEquals(List.of(last), allowed());
    } finally {
      Native.check(Native.pinThreads(before.stream().mapToInt(Integer::intValue).toArray()),
          "unpin");
      Native.check(Native.setNumThreads(threads), "threads");
    }
    assertEquals(before, allowed());
  }

  @Test
  void refusesAnEmptyListAndIdsOutsideTheSetNamingThem() {
    NativeException empty = assertThrows(NativeException.class,
        () -> Native.check(Native.pinThreads(new int[0]), "pin"));
    assertEquals(NativeException.EINVAL, empty.code());
    assertTrue(empty.getMessage().contains("empty"), empty.getMessage());
    NativeException negative = assertThrows(NativeException.class,
        () -> Native.check(Native.pinThreads(new int[] {0, -3}), "pin"));
    assertTrue(negative.getMessage().contains("-3"), negative.getMessage());
    assertThrows(NativeException.class,
        () -> Native.check(Native.pinThreads(null), "pin"));
  }
}
