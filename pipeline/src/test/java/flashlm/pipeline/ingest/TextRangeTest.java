package flashlm.pipeline.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TextRangeTest {
  private static List<TextSplitter.Segment> whole(byte[] bytes, String separator) {
    List<TextSplitter.Segment> out = new ArrayList<>();
    new TextSplitter("f.txt", new ByteArrayInputStream(bytes), separator)
        .forEachRemaining(out::add);
    return out;
  }

  private static List<TextSplitter.Segment> ranged(byte[] bytes, String separator, long rangeBytes)
      throws IOException {
    SourceFile file = new SourceFile("f.txt", "f.txt", bytes.length, null, null);
    List<TextSplitter.Segment> out = new ArrayList<>();
    for (TextRange r : TextRange.of(file, bytes.length, rangeBytes)) {
      r.segments(offset -> {
        ByteArrayInputStream in = new ByteArrayInputStream(bytes);
        in.skipNBytes(offset);
        return in;
      }, separator).forEachRemaining(out::add);
    }
    return out;
  }

  @Test
  void rangesYieldExactlyTheSegmentsOfOnePassWhateverTheRangeSize() throws IOException {
    Random random = new Random(11);
    // "\n\n" and "abab" match themselves overlapping: where a scan starts changes its matches
    // unless it starts where no match can be under way.
    for (String sep : List.of("<|endoftext|>", "\n\n", "abab", "é|")) {
      StringBuilder text = new StringBuilder();
      for (int d = 0; d < 60; d++) {
        int len = random.nextInt(d % 9 == 0 ? 3000 : 40);
        for (int i = 0; i < len; i++) {
          text.append("ab\n\né |日".charAt(random.nextInt(8)));
        }
        text.append(sep.repeat(1 + random.nextInt(3)));
      }
      byte[] bytes = text.append("tail").toString().getBytes(StandardCharsets.UTF_8);
      List<TextSplitter.Segment> want = whole(bytes, sep);
      for (long rangeBytes : new long[] {1, 2, 3, 7, 64, 1000, bytes.length, bytes.length + 1}) {
        assertEquals(want, ranged(bytes, sep, rangeBytes),
            "separator " + sep.replace("\n", "\\n") + ", ranges of " + rangeBytes + " bytes");
      }
    }
  }

  @Test
  void theEmptySegmentAfterAFinalSeparatorBelongsToNoRange() throws IOException {
    byte[] bytes = "one\n\ntwo\n\n".getBytes(StandardCharsets.UTF_8);
    List<TextSplitter.Segment> want = whole(bytes, "\n\n");
    assertEquals(new TextSplitter.Segment(bytes.length, ""), want.get(want.size() - 1));
    assertEquals(want.subList(0, want.size() - 1), ranged(bytes, "\n\n", 3));
  }

  @Test
  void aRangeSyncsEvenWhenOnlySeparatorBytesPrecedeIt() throws IOException {
    byte[] bytes = "\n\n\n\n\nx\n\ny".getBytes(StandardCharsets.UTF_8);
    assertEquals(whole(bytes, "\n\n"), ranged(bytes, "\n\n", 2));
  }
}
