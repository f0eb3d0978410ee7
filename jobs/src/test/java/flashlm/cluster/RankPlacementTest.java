package flashlm.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Ranks dealt to the NUMA nodes of their hosts, cpus shared out, thread counts. */
class RankPlacementTest {
  /** Two nodes of four cpus each. */
  private static final NumaTopology TWO_NODES = new NumaTopology(List.of(
      new NumaTopology.Node(0, new int[] {0, 1, 2, 3}, 4),
      new NumaTopology.Node(1, new int[] {4, 5, 6, 7}, 4)));
  private static final int[] ANY = new int[0];

  @Test
  void oneRankPerNodeGetsTheWholeNode() {
    List<String> hosts = List.of("a", "a", "b", "b");
    RankPlacement r1 = RankPlacement.plan(1, hosts, TWO_NODES, ANY, null);
    assertEquals(1, r1.node());
    assertArrayEquals(new int[] {4, 5, 6, 7}, r1.cpus());
    assertEquals(4, r1.threads());
    RankPlacement r2 = RankPlacement.plan(2, hosts, TWO_NODES, ANY, null);
    assertEquals(0, r2.node()); // first rank of host b
    assertEquals(0, r2.localIndex());
    assertEquals(2, r2.ranksOnHost());
  }

  @Test
  void ranksSharingANodeSplitItsCpus() {
    List<String> hosts = List.of("a", "a", "a");
    NumaTopology one = new NumaTopology(List.of(TWO_NODES.nodes().get(0)));
    assertArrayEquals(new int[] {0}, RankPlacement.plan(0, hosts, one, ANY, null).cpus());
    assertArrayEquals(new int[] {1}, RankPlacement.plan(1, hosts, one, ANY, null).cpus());
    assertArrayEquals(new int[] {2, 3}, RankPlacement.plan(2, hosts, one, ANY, null).cpus());
    // three ranks on two nodes: node 0 gets ranks 0 and 2, node 1 rank 1
    assertArrayEquals(new int[] {0, 1}, RankPlacement.plan(0, hosts, TWO_NODES, ANY, null).cpus());
    assertArrayEquals(new int[] {4, 5, 6, 7},
        RankPlacement.plan(1, hosts, TWO_NODES, ANY, null).cpus());
    assertArrayEquals(new int[] {2, 3}, RankPlacement.plan(2, hosts, TWO_NODES, ANY, null).cpus());
  }

  @Test
  void moreRanksThanCpusShareThemOneEach() {
    NumaTopology two = new NumaTopology(List.of(new NumaTopology.Node(0, new int[] {0, 1}, 2)));
    List<String> hosts = List.of("a", "a", "a");
    assertArrayEquals(new int[] {0}, RankPlacement.plan(2, hosts, two, ANY, null).cpus());
    assertEquals(1, RankPlacement.plan(2, hosts, two, ANY, null).threads());
  }

  @Test
  void threadsPerRankOverridesTheShareAndTheCpusetIsRespected() {
    List<String> hosts = List.of("a");
    RankPlacement p = RankPlacement.plan(0, hosts, TWO_NODES, new int[] {2, 3, 9}, 8);
    assertArrayEquals(new int[] {2, 3}, p.cpus());
    assertEquals(8, p.threads());
  }

  @Test
  void aNodeOutsideTheCpusetOrAnUnknownTopologyIsNotPinned() {
    RankPlacement outside = RankPlacement.plan(1, List.of("a", "a"), TWO_NODES, new int[] {0, 1},
        null);
    assertEquals(0, outside.cpus().length);
    assertEquals(4, outside.threads());
    assertTrue(outside.describe().contains("node 1 (cpus 4-7) has no cpu in this process's cpuset"
        + " 0-1"), outside.describe());
    NumaTopology unknown = new NumaTopology(List.of(new NumaTopology.Node(0, new int[0], 6)));
    RankPlacement u = RankPlacement.plan(0, List.of("a", "a"), unknown, ANY, null);
    assertEquals(3, u.threads());
    assertTrue(u.describe().contains("not pinned: the host's NUMA topology is unknown"),
        u.describe());
  }

  @Test
  void hostsComeFromTheExecutorsAddresses() {
    assertEquals("10.0.0.7", RankTask.host("10.0.0.7:40123"));
    assertEquals("fe80::1", RankTask.host("[fe80::1]:40123"));
    assertEquals("worker-3", RankTask.host("worker-3"));
  }
}
