package flashlm.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import flashlm.config.Configs;
import flashlm.data.SequencesFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * conf/v7-smoke.json on the reference backend, shrunk to a 256-token vocabulary so the
 * double-precision model runs in seconds, on a table whose rows count upwards with a per-row
 * stride: the next token is predictable from the context, so loss must fall fast.
 */
class TrainerSmokeTest {
  private static final int VOCAB = 256;
  /** How far below the uniform-guess loss ln(V) = 5.55 the last losses must be. */
  private static final double MIN_DROP = 1.0;

  @TempDir
  Path dir;

  @Test
  void smokeConfigLearns() throws Exception {
    int seqLen = 64;
    SequencesFixture.create(dir.resolve("table"), seqLen, VOCAB, 2, 24, 4,
        (row, col) -> (row * 37 + col * (1 + row % 3)) % VOCAB);
    TrainConfig c = Configs.load(Path.of("../conf/v7-smoke.json"), TrainConfig.class, List.of(
        "backend=reference", "model.vocab_size=" + VOCAB, "max_steps=40", "schedule.warmup=5",
        "eval_every=20", "log.every=5", "data.table=" + dir.resolve("table"),
        "checkpoint.dir=" + dir.resolve("ckpt"), "log.metrics=" + dir.resolve("metrics.jsonl")));
    Trainer.Result r = Trainer.builder(c).build().run();

    Map<String, List<JsonNode>> records = new HashMap<>();
    for (String line : Files.readAllLines(dir.resolve("metrics.jsonl"))) {
      JsonNode n = new ObjectMapper().readTree(line);
      records.computeIfAbsent(n.get("type").asText(), t -> new ArrayList<>()).add(n);
    }
    List<JsonNode> train = records.get("train");
    List<JsonNode> eval = records.get("eval");
    List<JsonNode> stop = records.get("stop");
    assertEquals(Set.of("attempt", "train", "eval", "stop"), records.keySet());
    assertEquals(1, records.get("attempt").size());
    assertEquals(8, train.size());
    assertEquals(2, eval.size());
    assertEquals(1, stop.size());
    assertEquals("max_steps", stop.get(0).get("reason").asText());
    assertEquals(r.valLoss(), stop.get(0).get("val_loss").asDouble());
    double uniform = Math.log(VOCAB);
    double first = train.get(0).get("loss").asDouble();
    assertTrue(Math.abs(first - uniform) < 0.5, "initial loss " + first + " vs ln V " + uniform);
    assertTrue(r.trainLoss() < uniform - MIN_DROP, "train loss " + r.trainLoss());
    assertTrue(r.valLoss() < uniform - MIN_DROP, "val loss " + r.valLoss());
    assertTrue(eval.get(1).get("val_loss").asDouble() < eval.get(0).get("val_loss").asDouble());
    assertTrue(Files.exists(dir.resolve("ckpt/ckpt-0000000040.flm")));
    assertTrue(Files.exists(dir.resolve("ckpt/config.json")));
    // the run's report beside its checkpoints, drawn from its metrics file
    assertTrue(Files.readString(dir.resolve("ckpt/report.html")).contains("data:image/png"));
    assertEquals(1 + 8 + 2, Files.readAllLines(dir.resolve("ckpt/report/loss.csv")).size());
  }
}
