package flashlm.cluster;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The NUMA nodes of this host and their cpus, as Linux lists them in {@code
 * /sys/devices/system/node/nodeN/cpulist} ("0-3,8-11"). Nodes without cpus (memory-only) are left
 * out. Where the tree is missing (not Linux, a container that hides it) the host is one node
 * whose cpus are unknown ({@link Node#cpus} empty) with {@code fallbackCores} cores.
 *
 * @param nodes the nodes by id, each with at least one cpu unless the topology is unknown
 */
record NumaTopology(List<Node> nodes) {
  /** Where Linux describes the nodes. */
  static final Path SYSFS = Path.of("/sys/devices/system/node");
  private static final Pattern NODE = Pattern.compile("node(\\d+)");

  /**
   * One NUMA node.
   *
   * @param id the node's number
   * @param cpus its cpu ids, ascending; empty when unknown
   * @param cores how many cpus it has (the length of {@code cpus} when known)
   */
  record Node(int id, int[] cpus, int cores) {
    @Override
    public boolean equals(Object o) {
      return o instanceof Node n && n.id == id && n.cores == cores && Arrays.equals(n.cpus, cpus);
    }

    @Override
    public int hashCode() {
      return 31 * id + Arrays.hashCode(cpus);
    }

    @Override
    public String toString() {
      return "node " + id + " (cpus " + (cpus.length == 0 ? "unknown" : cpuList(cpus)) + ")";
    }
  }

  NumaTopology {
    nodes = List.copyOf(nodes);
  }

  /** This host's topology (from {@link #SYSFS}). */
  static NumaTopology local() {
    return read(SYSFS, Runtime.getRuntime().availableProcessors());
  }

  /**
   * Reads the nodes under {@code root} (a {@code /sys/devices/system/node} tree); a missing or
   * unreadable tree, or one without any node that has cpus, is one node of {@code
   * fallbackCores} unknown cpus.
   */
  static NumaTopology read(Path root, int fallbackCores) {
    List<Node> nodes = new ArrayList<>();
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(root, "node*")) {
      for (Path dir : dirs) {
        Matcher m = NODE.matcher(dir.getFileName().toString());
        Path list = dir.resolve("cpulist");
        if (m.matches() && Files.isReadable(list)) {
          int[] cpus = parseCpuList(Files.readString(list));
          if (cpus.length > 0) {
            nodes.add(new Node(Integer.parseInt(m.group(1)), cpus, cpus.length));
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      nodes.clear(); // a tree that cannot be read whole is no topology to plan by
    }
    if (nodes.isEmpty()) {
      return new NumaTopology(List.of(new Node(0, new int[0], Math.max(1, fallbackCores))));
    }
    nodes.sort(Comparator.comparingInt(Node::id));
    return new NumaTopology(nodes);
  }

  /** Whether the cpu ids are known (a sysfs tree was read). */
  boolean known() {
    return nodes.get(0).cpus().length > 0;
  }

  /**
   * Parses a Linux cpu list ("0-3,8,10-11", whitespace and a trailing newline allowed; "" is no
   * cpu) into ascending distinct ids.
   *
   * @throws IllegalArgumentException naming the text when it is not such a list
   */
  static int[] parseCpuList(String text) {
    TreeSet<Integer> out = new TreeSet<>();
    String s = text.strip();
    if (s.isEmpty()) {
      return new int[0];
    }
    for (String part : s.split(",")) {
      String p = part.strip();
      if (!p.matches("\\d{1,6}(-\\d{1,6})?")) {
        throw new IllegalArgumentException("not a cpu list: '" + text.strip() + "'");
      }
      int dash = p.indexOf('-');
      int lo = Integer.parseInt(dash < 0 ? p : p.substring(0, dash));
      int hi = dash < 0 ? lo : Integer.parseInt(p.substring(dash + 1));
      if (hi < lo) {
        throw new IllegalArgumentException("not a cpu list: '" + text.strip() + "' (" + p + ")");
      }
      for (int c = lo; c <= hi; c++) {
        out.add(c);
      }
    }
    return out.stream().mapToInt(Integer::intValue).toArray();
  }

  /** The short form of ascending ids: {0,1,2,3,8} is "0-3,8". */
  static String cpuList(int[] cpus) {
    List<String> parts = new ArrayList<>();
    for (int i = 0; i < cpus.length; ) {
      int j = i;
      while (j + 1 < cpus.length && cpus[j + 1] == cpus[j] + 1) {
        j++;
      }
      parts.add(j == i ? Integer.toString(cpus[i]) : cpus[i] + "-" + cpus[j]);
      i = j + 1;
    }
    return parts.stream().collect(Collectors.joining(","));
  }
}
