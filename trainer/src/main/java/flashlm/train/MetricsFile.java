package flashlm.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import flashlm.fs.AtomicFiles;
import flashlm.fs.HadoopFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;

/**
 * A run's metrics file (JSON lines), written by rank 0 through the Hadoop FileSystem API, so it
 * may live beside the checkpoints on s3a or HDFS and outlive the executor that wrote it.
 *
 * <p>Object stores cannot append, so the file is rewritten whole ({@link AtomicFiles}: a reader
 * sees the old or the new file, never part of one) from the records held in memory: after every
 * checkpoint (so the stored file always covers the steps up to the newest checkpoint), at most
 * every {@link #FLUSH_MILLIS} when a record comes, and at the end, a failure included.
 *
 * <p>A resumed run keeps the records of earlier attempts up to the step it resumes from and
 * drops the {@code train} and {@code eval} records after it, which the run repeats: each step
 * appears once, from the attempt that got past it. Every attempt adds an {@code attempt} record
 * (number, start time, step and checkpoint it resumed from, world size) and ends with a {@code
 * stop} or a {@code failure} record (the error); an attempt whose process died without one gets
 * a {@code failure} record from the next attempt, saying so. Lines that are not JSON are kept as
 * they are.
 */
final class MetricsFile implements AutoCloseable {
  /** Longest time a record waits in memory before the file is rewritten. */
  static final long FLUSH_MILLIS = 10_000;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Configuration conf;
  private final String path;
  private final List<String> lines = new ArrayList<>();
  private final int attempt;
  private long flushedAt;
  private boolean dirty;

  private MetricsFile(Configuration conf, String path, int attempt) {
    this.conf = conf;
    this.path = path;
    this.attempt = attempt;
  }

  /**
   * Opens {@code path} for an attempt that starts at {@code step}, resumed from {@code
   * checkpoint} (null when it starts afresh), and writes its {@code attempt} record. With {@code
   * keepHistory} (a {@code --resume}) the records of earlier attempts stay, as described above;
   * without it the file starts empty.
   */
  static MetricsFile open(Configuration conf, String path, boolean keepHistory, long step,
      String checkpoint, int worldSize) {
    List<String> old = keepHistory ? read(conf, path) : List.of();
    int attempts = 0;
    boolean ended = true;
    List<String> kept = new ArrayList<>();
    for (String line : old) {
      JsonNode n = parse(line);
      String type = n == null ? "" : n.path("type").asText();
      if ((type.equals("train") || type.equals("eval")) && n.path("step").asLong() > step) {
        continue;
      }
      if (type.equals("attempt")) {
        attempts = Math.max(attempts, n.path("attempt").asInt());
        ended = false;
      } else if (type.equals("stop") || type.equals("failure")) {
        ended = true;
      }
      kept.add(line);
    }
    MetricsFile m = new MetricsFile(conf, path, attempts + 1);
    m.lines.addAll(kept);
    if (!ended) {
      m.add(JSON.createObjectNode().put("type", "failure").put("attempt", attempts)
          .putNull("step").put("error", "the attempt ended without a record: its rank 0 process"
              + " died or was killed"));
    }
    ObjectNode a = JSON.createObjectNode().put("type", "attempt").put("attempt", attempts + 1)
        .put("start", Instant.now().toString()).put("step", step)
        .put("resumed_from", checkpoint).put("world_size", worldSize);
    m.add(a);
    m.flush();
    return m;
  }

  /** This attempt's number, from 1. */
  int attempt() {
    return attempt;
  }

  /** Adds a record; rewrites the file if the last rewrite is {@link #FLUSH_MILLIS} old. */
  void add(ObjectNode record) {
    lines.add(record.toString());
    dirty = true;
    if (System.currentTimeMillis() - flushedAt >= FLUSH_MILLIS) {
      flush();
    }
  }

  /** Rewrites the file with every record, if any came since the last rewrite. */
  void flush() {
    if (!dirty) {
      return;
    }
    StringBuilder b = new StringBuilder();
    for (String l : lines) {
      b.append(l).append('\n');
    }
    AtomicFiles.write(conf, path, b.toString().getBytes(StandardCharsets.UTF_8));
    flushedAt = System.currentTimeMillis();
    dirty = false;
  }

  @Override
  public void close() {
    flush();
  }

  private static List<String> read(Configuration conf, String path) {
    try {
      if (!HadoopFiles.exists(conf, path)) {
        return List.of();
      }
      String text = new String(HadoopFiles.readAll(conf, path), StandardCharsets.UTF_8);
      return text.lines().filter(l -> !l.isBlank()).toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the metrics file " + path + " to continue it: "
          + e.getMessage(), e);
    }
  }

  private static JsonNode parse(String line) {
    try {
      JsonNode n = JSON.readTree(line);
      return n != null && n.isObject() ? n : null;
    } catch (JsonProcessingException e) {
      return null;
    }
  }
}
