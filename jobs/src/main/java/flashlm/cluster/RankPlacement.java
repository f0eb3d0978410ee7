package flashlm.cluster;

import java.util.Arrays;
import java.util.List;

/**
 * Where one rank runs on its host: the ranks of a host are dealt to its NUMA nodes in rank order
 * (the first to node 0, the next to node 1, ...; with more ranks than nodes, round again), a
 * node's cpus are split into contiguous equal shares among the ranks it got, and each rank runs
 * {@code threads_per_rank} OpenMP threads, by default one per cpu of its share. So one rank per
 * node (world_size "auto") gets a whole node, and two ranks on a one-node host get half each.
 *
 * @param rank the rank
 * @param host its host (as Spark names the executor's)
 * @param localIndex its place among the ranks of its host, in rank order
 * @param ranksOnHost how many ranks share the host
 * @param node the NUMA node it is given
 * @param cpus the cpus to pin its threads to; empty when not to pin (see {@code note})
 * @param threads its OpenMP threads
 * @param note why it is not pinned, or "" when it is to be
 */
record RankPlacement(int rank, String host, int localIndex, int ranksOnHost, int node, int[] cpus,
    int threads, String note) {

  /**
   * The placement of {@code rank}, whose host is {@code hosts.get(rank)}.
   *
   * @param hosts every rank's host, in rank order
   * @param topology the NUMA nodes of the rank's host
   * @param allowed the cpus this thread may run on (its cpuset); empty when unknown
   * @param threadsPerRank {@code distributed.threads_per_rank}, or null for the share's cpus
   */
  static RankPlacement plan(int rank, List<String> hosts, NumaTopology topology, int[] allowed,
      Integer threadsPerRank) {
    String host = hosts.get(rank);
    int local = 0;
    int onHost = 0;
    for (int r = 0; r < hosts.size(); r++) {
      if (hosts.get(r).equals(host)) {
        local += r < rank ? 1 : 0;
        onHost++;
      }
    }
    int k = topology.nodes().size();
    NumaTopology.Node node = topology.nodes().get(local % k);
    int sharing = (onHost - local % k + k - 1) / k; // ranks of this host on this node
    int share = local / k;
    int[] cpus = new int[0];
    String note = "";
    int cores;
    if (!topology.known()) {
      note = "the host's NUMA topology is unknown (no " + NumaTopology.SYSFS + ")";
      cores = node.cores() / sharing;
    } else {
      int[] usable = allowed.length == 0 ? node.cpus() : intersect(node.cpus(), allowed);
      if (usable.length == 0) {
        note = node + " has no cpu in this process's cpuset " + NumaTopology.cpuList(allowed);
        cores = node.cores() / sharing;
      } else {
        cpus = slice(usable, share, sharing);
        cores = cpus.length;
      }
    }
    int threads = threadsPerRank != null ? threadsPerRank : Math.max(1, cores);
    return new RankPlacement(rank, host, local, onHost, node.id(), cpus, threads, note);
  }

  /**
   * Share {@code i} of {@code n} contiguous equal shares of {@code cpus}; with fewer cpus than
   * shares, share i is the one cpu {@code i % length}.
   */
  static int[] slice(int[] cpus, int i, int n) {
    if (cpus.length < n) {
      return new int[] {cpus[i % cpus.length]};
    }
    return Arrays.copyOfRange(cpus, (int) ((long) i * cpus.length / n),
        (int) ((long) (i + 1) * cpus.length / n));
  }

  private static int[] intersect(int[] a, int[] sortedB) {
    return Arrays.stream(a).filter(c -> Arrays.binarySearch(sortedB, c) >= 0).toArray();
  }

  /** One line for the log: "rank 1 on h (2 of 2 there): NUMA node 0, 1 OpenMP thread, cpus 1". */
  String describe() {
    return "rank " + rank + " on " + host + " (" + (localIndex + 1) + " of " + ranksOnHost
        + " there): NUMA node " + node + ", " + threads + " OpenMP thread"
        + (threads == 1 ? "" : "s")
        + (cpus.length > 0 ? ", cpus " + NumaTopology.cpuList(cpus) : ", not pinned: " + note);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof RankPlacement p && p.rank == rank && p.host.equals(host)
        && p.localIndex == localIndex && p.ranksOnHost == ranksOnHost && p.node == node
        && Arrays.equals(p.cpus, cpus) && p.threads == threads && p.note.equals(note);
  }

  @Override
  public int hashCode() {
    return 31 * rank + Arrays.hashCode(cpus);
  }

  @Override
  public String toString() {
    return describe();
  }
}
