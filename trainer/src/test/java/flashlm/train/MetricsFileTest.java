package flashlm.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsFileTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  private List<String> lines(Path p) throws Exception {
    return Files.readAllLines(p);
  }

  /**
   * An attempt whose process died left no stop or failure record: the next attempt adds one for
   * it, keeps what is not JSON, and drops the records of the steps it will repeat.
   */
  @Test
  void aResumedAttemptRecordsTheOneThatDiedAndDropsTheStepsItRepeats() throws Exception {
    Path p = dir.resolve("m.jsonl");
    Files.write(p, List.of(
        "{\"type\":\"attempt\",\"attempt\":1,\"step\":0}",
        "{\"type\":\"train\",\"step\":1}", "{\"type\":\"eval\",\"step\":2}",
        "a note by hand", "{\"type\":\"train\",\"step\":3}"));
    try (MetricsFile m = MetricsFile.open(new Configuration(), p.toString(), true, 2,
        "ckpt-0000000002.flm", 2)) {
      assertEquals(2, m.attempt());
      m.add(JSON.createObjectNode().put("type", "train").put("step", 3));
    }
    List<String> l = lines(p);
    assertEquals(7, l.size(), l.toString());
    assertEquals("a note by hand", l.get(3));
    assertEquals("{\"type\":\"failure\",\"attempt\":1,\"step\":null,\"error\":\"the attempt ended"
        + " without a record: its rank 0 process died or was killed\"}", l.get(4));
    assertTrue(l.get(5).startsWith("{\"type\":\"attempt\",\"attempt\":2,\"start\":\"")
        && l.get(5).endsWith("\"step\":2,\"resumed_from\":\"ckpt-0000000002.flm\","
        + "\"world_size\":2}"), l.get(5));
    assertEquals("{\"type\":\"train\",\"step\":3}", l.get(6));
  }

  @Test
  void aFreshRunStartsAnEmptyFileAndRecordsAreStoredAtTheLatestOnClose() throws Exception {
    Path p = dir.resolve("sub/m.jsonl");
    Files.createDirectories(p.getParent());
    Files.write(p, List.of("{\"type\":\"train\",\"step\":9}"));
    MetricsFile m = MetricsFile.open(new Configuration(), p.toString(), false, 0, null, 1);
    assertEquals(1, m.attempt());
    assertEquals(1, lines(p).size()); // the attempt record is stored at once
    m.add(JSON.createObjectNode().put("type", "train").put("step", 1));
    m.close();
    assertEquals(2, lines(p).size());
    assertTrue(lines(p).get(0).contains("\"resumed_from\":null"), lines(p).get(0));
  }
}
