package flashlm.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import flashlm.data.SequenceBatches;
import flashlm.data.SequencesFixture;
import flashlm.data.SequencesSnapshot;
import flashlm.table.SequencesTable;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * Times what the trainer does with the sequences table before and while it trains: open the
 * snapshot (the Delta log at the latest version), list the row groups of every shard (parquet
 * footers), and read every row of both splits in table order. Driven by
 * tests/bench/snapshot-benchmark.sh, which runs it in several fresh JVMs.
 *
 * <pre>
 * java -cp ... flashlm.bench.SnapshotBench --table DIR [--runs 5] [--commits 200]
 *     [--checkpoint-at 180] [--files 1] [--rows 200] [--seq-len 255] [--shards 16]
 *     [--reader kernel]
 * </pre>
 *
 * <p>The table is built once in DIR (reused when its marker names the same shape) with {@link
 * SequencesFixture}: version 0 holds the protocol and metadata, each later commit adds {@code
 * files} train files of {@code rows} rows (shards in turn); every tenth also adds a small
 * validation file and removes the first train file added five versions before (a commit of
 * several train files adds one validation file per ten). A classic checkpoint is written at
 * {@code checkpoint-at}, so the latest version replays the checkpoint and the commits after it.
 * The default is a long log; {@code --commits 2 --files 1000 --rows 20 --checkpoint-at 0} is the
 * shape the pipeline writes (a few commits of many files).
 * Each commit also gets the checksum file ({@code <version>.crc}: protocol, metadata, file count
 * and size) that Delta Spark writes after every commit, as the pipeline's tables have them; a
 * reader may take the protocol and metadata from it instead of replaying the log.
 * Prints one line per run: {@code run=I open_ms=.. list_ms=.. read_ms=.. rows=.. mb=..} and the
 * main thread's CPU time of each phase ({@code open_cpu=..}, steadier than wall time on a busy
 * machine; JIT and GC threads not counted); the first run of a JVM is its cold start. {@code
 * --reader kernel} reads the rows with Delta Kernel's own parquet reader instead (open: snapshot
 * and scan files, list: nothing), the other way the trainer could read them. A test source, not
 * shipped, not a test.
 */
public final class SnapshotBench {
  static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();
  static final com.sun.management.OperatingSystemMXBean PROCESS =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  private SnapshotBench() {}

  public static void main(String[] args) throws IOException {
    Path dir = null;
    int runs = 5;
    int commits = 200;
    int checkpointAt = 180;
    int rows = 200;
    int files = 1;
    int seqLen = 255;
    int shards = 16;
    boolean kernel = false;
    for (int i = 0; i < args.length; i += 2) {
      String v = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--table" -> dir = Path.of(v);
        case "--runs" -> runs = Integer.parseInt(v);
        case "--commits" -> commits = Integer.parseInt(v);
        case "--checkpoint-at" -> checkpointAt = Integer.parseInt(v);
        case "--rows" -> rows = Integer.parseInt(v);
        case "--files" -> files = Integer.parseInt(v);
        case "--seq-len" -> seqLen = Integer.parseInt(v);
        case "--shards" -> shards = Integer.parseInt(v);
        case "--reader" -> kernel = v.equals("kernel");
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (dir == null) {
      throw new IllegalArgumentException("usage: SnapshotBench --table DIR [--runs N] ...");
    }
    String shape = "crc=1 commits=" + commits + " checkpoint_at=" + checkpointAt + " files="
        + files + " rows=" + rows
        + " seq_len=" + seqLen + " shards=" + shards;
    Path marker = dir.resolve("_bench_shape");
    if (!Files.exists(marker) || !Files.readString(marker).equals(shape)) {
      build(dir, commits, checkpointAt, files, rows, seqLen, shards);
      Files.writeString(marker, shape);
    }
    Configuration conf = new Configuration();
    for (int run = 1; run <= runs; run++) {
      if (kernel) {
        // by name, so that this file also builds on a checkout without Delta Kernel (the
        // benchmark's --compare runs it on the commit before the trainer used Kernel)
        try {
          Class.forName("flashlm.bench.KernelRead")
              .getDeclaredMethod("run", Configuration.class, String.class, int.class)
              .invoke(null, conf, dir.toString(), run);
        } catch (ReflectiveOperationException e) {
          throw new IllegalStateException("--reader kernel: " + e, e);
        }
        continue;
      }
      long p0 = PROCESS.getProcessCpuTime();
      long c0 = CPU.getCurrentThreadCpuTime();
      long t0 = System.nanoTime();
      SequencesSnapshot s = SequencesSnapshot.open(conf, dir.toString(), null);
      long t1 = System.nanoTime();
      long c1 = CPU.getCurrentThreadCpuTime();
      long p1 = PROCESS.getProcessCpuTime();
      List<String> splits = List.of(SequencesTable.TRAIN, SequencesTable.VALIDATION);
      long total = 0;
      for (String split : splits) {
        total += s.rows(split, 0, 1);
      }
      long t2 = System.nanoTime();
      long c2 = CPU.getCurrentThreadCpuTime();
      long ids = 0;
      long checksum = 0;
      for (String split : splits) {
        SequenceBatches b = SequenceBatches.builder(s).setSplit(split).setBatchSize(1)
            .optShuffle(false).build();
        int[] row = new int[b.width()];
        for (long r = 0; r < b.rows(); r++) {
          b.next(row);
          checksum += row[0] + row[row.length - 1];
          ids += row.length;
        }
      }
      long t3 = System.nanoTime();
      long c3 = CPU.getCurrentThreadCpuTime();
      System.out.printf("run=%d version=%d open_ms=%.1f list_ms=%.1f read_ms=%.1f rows=%d"
          + " mb=%.1f checksum=%d open_cpu=%.1f list_cpu=%.1f read_cpu=%.1f"
          + " open_process_cpu=%.1f%n", run, s.version(), (t1 - t0) / 1e6, (t2 - t1) / 1e6,
          (t3 - t2) / 1e6, total, ids * 4 / 1e6, checksum, (c1 - c0) / 1e6, (c2 - c1) / 1e6,
          (c3 - c2) / 1e6, (p1 - p0) / 1e6);
    }
  }

  private static void build(Path dir, int commits, int checkpointAt, int files, int rows,
      int seqLen, int shards) throws IOException {
    if (Files.exists(dir)) {
      try (var walk = Files.walk(dir)) {
        for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.delete(p);
        }
      }
    }
    SequencesFixture f = new SequencesFixture(dir, seqLen);
    String protocol = SequencesFixture.protocol();
    String metaData = f.metaData(32000, shards);
    Map<String, Long> live = new LinkedHashMap<>();
    // not a static field: the timed runs of this JVM must not find Jackson initialised
    ObjectMapper json = new ObjectMapper();
    checksum(json, dir, f.commit(List.of(protocol, metaData)), protocol, metaData, live);
    List<String> adds = new ArrayList<>();
    adds.add(null); // version 0 added no file
    for (int v = 1; v <= commits; v++) {
      List<String> actions = new ArrayList<>();
      for (int i = 0; i < files; i++) {
        int n = v * files + i;
        actions.add(f.add(SequencesTable.TRAIN, n % shards,
            SequencesFixture.randomRows(rows, seqLen, 32000, n), 0));
      }
      adds.add(actions.get(0));
      // a validation file in every tenth commit, or one per ten train files of a wide commit
      for (int i = 0; i < (files > 1 ? Math.max(1, files / 10) : v % 10 == 0 ? 1 : 0); i++) {
        int n = v * files + i;
        actions.add(f.add(SequencesTable.VALIDATION, n % shards,
            SequencesFixture.randomRows(files > 1 ? rows : rows / 10, seqLen, 32000, -n), 0));
      }
      if (v % 10 == 0) {
        actions.add(f.remove(adds.get(v - 5)));
      }
      checksum(json, dir, f.commit(actions), protocol, metaData, track(json, live, actions));
      if (v == checkpointAt) {
        f.checkpoint();
      }
    }
  }

  /** {@code live} (path to size) after {@code actions}' adds and removes. */
  private static Map<String, Long> track(ObjectMapper json, Map<String, Long> live,
      List<String> actions)
      throws IOException {
    for (String a : actions) {
      JsonNode action = json.readTree(a);
      if (action.has("add")) {
        live.put(action.get("add").get("path").asText(), action.get("add").get("size").asLong());
      } else if (action.has("remove")) {
        live.remove(action.get("remove").get("path").asText());
      }
    }
    return live;
  }

  /** Writes {@code <version>.crc} with the fields Delta Spark's checksum files always hold. */
  private static void checksum(ObjectMapper json, Path dir, long version, String protocol,
      String metaData, Map<String, Long> live) throws IOException {
    ObjectNode crc = json.createObjectNode();
    crc.put("tableSizeBytes", live.values().stream().mapToLong(Long::longValue).sum());
    crc.put("numFiles", live.size());
    crc.put("numMetadata", 1);
    crc.put("numProtocol", 1);
    crc.set("metadata", json.readTree(metaData).get("metaData"));
    crc.set("protocol", json.readTree(protocol).get("protocol"));
    Files.writeString(dir.resolve("_delta_log").resolve(String.format("%020d.crc", version)),
        crc.toString());
  }
}
