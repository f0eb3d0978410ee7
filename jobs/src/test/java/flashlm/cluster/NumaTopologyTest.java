package flashlm.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** NUMA nodes read from a fake {@code /sys/devices/system/node} tree. */
class NumaTopologyTest {
  @TempDir Path sys;

  private void node(String name, String cpulist) throws IOException {
    Path dir = Files.createDirectories(sys.resolve(name));
    if (cpulist != null) {
      Files.writeString(dir.resolve("cpulist"), cpulist);
    }
  }

  @Test
  void readsEveryNodeWithCpusInNodeOrder() throws IOException {
    node("node1", "8-11,24-27\n");
    node("node0", "0-3,16-19\n");
    node("node2", "\n"); // memory only (a CXL or HBM node): no rank goes there
    node("possible", null);
    Files.writeString(sys.resolve("online"), "0-2\n");
    NumaTopology t = NumaTopology.read(sys, 99);
    assertTrue(t.known());
    assertEquals(2, t.nodes().size());
    assertEquals(0, t.nodes().get(0).id());
    assertArrayEquals(new int[] {0, 1, 2, 3, 16, 17, 18, 19}, t.nodes().get(0).cpus());
    assertEquals(1, t.nodes().get(1).id());
    assertEquals(8, t.nodes().get(1).cores());
  }

  @Test
  void aMissingTreeIsOneNodeOfUnknownCpus() {
    NumaTopology t = NumaTopology.read(sys.resolve("absent"), 6);
    assertFalse(t.known());
    assertEquals(List.of(new NumaTopology.Node(0, new int[0], 6)), t.nodes());
  }

  @Test
  void aTreeThatCannotBeParsedIsNoTopologyToPlanBy() throws IOException {
    node("node0", "0-3\n");
    node("node1", "garbage\n");
    assertFalse(NumaTopology.read(sys, 4).known());
  }

  @Test
  void parsesAndPrintsLinuxCpuLists() {
    assertArrayEquals(new int[] {0, 1, 2, 3, 8, 10, 11}, NumaTopology.parseCpuList("0-3,8,10-11"));
    assertArrayEquals(new int[] {5}, NumaTopology.parseCpuList(" 5\n"));
    assertArrayEquals(new int[0], NumaTopology.parseCpuList("\n"));
    assertArrayEquals(new int[] {1, 2}, NumaTopology.parseCpuList("2,1,1-2"));
    assertEquals("0-3,8,10-11", NumaTopology.cpuList(new int[] {0, 1, 2, 3, 8, 10, 11}));
    assertThrows(IllegalArgumentException.class, () -> NumaTopology.parseCpuList("3-1"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> NumaTopology.parseCpuList("0-3,x"));
    assertTrue(e.getMessage().contains("0-3,x"), e.getMessage());
  }
}
