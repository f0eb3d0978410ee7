package flashlm.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import flashlm.fs.HadoopFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;

/**
 * A run's metrics file (JSON lines, see {@code flashlm.train.TrainLog}) read back: the train and
 * eval records in step order and the last stop record. Lines that are not JSON are skipped.
 *
 * @param train one point per train record
 * @param evals one point per eval record
 * @param stop the last stop record, or null
 * @param attempts attempt records (1 for a run never resumed)
 */
record RunMetrics(List<Train> train, List<Eval> evals, JsonNode stop, int attempts) {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** A train record. */
  record Train(long step, long tokens, double loss, double lr, double gradNorm,
      double tokensPerSecond, double elapsedSeconds) {}

  /** An eval record. */
  record Eval(long step, long tokens, double valLoss) {}

  /** Reads {@code path}; a missing file is a run with no records. */
  static RunMetrics read(Configuration conf, String path) {
    List<Train> train = new ArrayList<>();
    List<Eval> evals = new ArrayList<>();
    JsonNode stop = null;
    int attempts = 0;
    try {
      if (!HadoopFiles.exists(conf, path)) {
        return new RunMetrics(train, evals, null, 0);
      }
      String text = new String(HadoopFiles.readAll(conf, path), StandardCharsets.UTF_8);
      for (String line : text.split("\n")) {
        JsonNode n = parse(line);
        if (n == null) {
          continue;
        }
        switch (n.path("type").asText()) {
          case "train" -> train.add(new Train(n.path("step").asLong(), n.path("tokens").asLong(),
              n.path("loss").asDouble(), n.path("lr").asDouble(), n.path("grad_norm").asDouble(),
              n.path("tokens_per_s").asDouble(), n.path("elapsed_s").asDouble()));
          case "eval" -> evals.add(new Eval(n.path("step").asLong(), n.path("tokens").asLong(),
              n.path("val_loss").asDouble()));
          case "stop" -> stop = n;
          case "attempt" -> attempts++;
          default -> { }
        }
      }
      return new RunMetrics(train, evals, stop, attempts);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the metrics file " + path + ": "
          + e.getMessage(), e);
    }
  }

  private static JsonNode parse(String line) {
    try {
      JsonNode n = line.isBlank() ? null : JSON.readTree(line);
      return n != null && n.isObject() ? n : null;
    } catch (JsonProcessingException e) {
      return null;
    }
  }
}
