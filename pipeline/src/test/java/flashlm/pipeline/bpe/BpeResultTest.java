package flashlm.pipeline.bpe;

import static org.junit.jupiter.api.Assertions.assertEquals;

import flashlm.hash.Sha256;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BpeResultTest {
  @TempDir Path dir;

  /**
   * tokenizer.json, its .sha256 and training.json go out as one set (AtomicFiles.writeSet, whose
   * ordering its own test checks step by step); a second write replaces all three, and neither
   * leaves a temporary or a Hadoop .crc side file.
   */
  @Test
  void writesTheTokenizerWithItsChecksumAndRecordAsOneSet() throws Exception {
    Path location = dir.resolve("tokenizer/tokenizer.json");
    for (String version : List.of("one", "two")) {
      BpeResult r = BpeResult.of("{\"v\": \"" + version + "\"}", 300, 44, 9, 8, 70, 0.5);
      r.write(location.toString(), new Configuration(),
          Map.of("training.json", version.getBytes(StandardCharsets.UTF_8)));
      assertEquals(r.tokenizerJson(), Files.readString(location));
      assertEquals(Sha256.hex(Files.readAllBytes(location)) + "  tokenizer.json\n",
          Files.readString(dir.resolve("tokenizer/tokenizer.json.sha256")));
      assertEquals(version, Files.readString(dir.resolve("tokenizer/training.json")));
    }
    try (Stream<Path> files = Files.list(location.getParent())) {
      assertEquals(List.of("tokenizer.json", "tokenizer.json.sha256", "training.json"),
          files.map(p -> p.getFileName().toString()).sorted().toList());
    }
  }
}
