package flashlm.pipeline.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class TextSplitterTest {
  private static List<TextSplitter.Segment> split(byte[] bytes, String separator) {
    List<TextSplitter.Segment> out = new ArrayList<>();
    TextSplitter s = new TextSplitter("f.txt", new ByteArrayInputStream(bytes), separator);
    s.forEachRemaining(out::add);
    return out;
  }

  @Test
  void matchesStringSplitWithByteOffsetsAcrossReadBuffers() {
    Random random = new Random(7);
    for (String sep : List.of("<|endoftext|>", "\n\n", "aab", "é|")) {
      StringBuilder text = new StringBuilder();
      for (int d = 0; d < 40; d++) {
        int len = random.nextInt(d % 7 == 0 ? 100_000 : 50); // some cross the 64 KiB buffer
        for (int i = 0; i < len; i++) {
          text.append("ab\né ".charAt(random.nextInt(5)));
        }
        text.append(sep);
      }
      text.append("tail");
      byte[] bytes = text.toString().getBytes(StandardCharsets.UTF_8);
      List<TextSplitter.Segment> got = split(bytes, sep);
      String[] want = text.toString().split(Pattern.quote(sep), -1);
      assertEquals(want.length, got.size(), sep);
      for (int i = 0; i < want.length; i++) {
        assertEquals(want[i], got.get(i).text(), sep + " segment " + i);
        String at = new String(bytes, (int) got.get(i).offset(),
            want[i].getBytes(StandardCharsets.UTF_8).length, StandardCharsets.UTF_8);
        assertEquals(want[i], at, sep + " offset of segment " + i);
      }
    }
  }

  @Test
  void invalidUtf8NamesFileAndOffset() {
    byte[] bytes = "ok<|endoftext|>bad \u00e9".getBytes(StandardCharsets.UTF_8);
    bytes[bytes.length - 1] = (byte) 0x41; // é's continuation byte replaced: a lone lead byte
    IngestException e = assertThrows(IngestException.class,
        () -> split(bytes, "<|endoftext|>"));
    assertTrue(e.getMessage().contains("f.txt: invalid UTF-8 at byte offset 19"), e.getMessage());
  }

  @Test
  void separatorOnlyAndEmptyInput() {
    assertEquals(List.of("", ""), split("<s>".getBytes(StandardCharsets.UTF_8), "<s>")
        .stream().map(TextSplitter.Segment::text).toList());
    assertEquals(List.of(""), split(new byte[0], "<s>").stream()
        .map(TextSplitter.Segment::text).toList());
  }
}
