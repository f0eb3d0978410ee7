package flashlm.pipeline.bpe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ByteLevelTest {
  @Test
  void tableHas256DistinctPrintableCharactersAndInverts() {
    Set<Character> chars = new HashSet<>();
    for (int b = 0; b < 256; b++) {
      char c = ByteLevel.charOf(b);
      assertTrue(chars.add(c), "duplicate char for byte " + b);
      assertEquals(b, ByteLevel.byteOf(c));
      assertTrue(!Character.isWhitespace(c) && !Character.isISOControl(c), "byte " + b);
    }
    assertEquals(256, chars.size());
  }

  @Test
  void matchesGpt2ForKnownBytes() {
    assertEquals('Ġ', ByteLevel.charOf(' ')); // U+0120
    assertEquals('Ċ', ByteLevel.charOf('\n')); // U+010A
    assertEquals('ĉ', ByteLevel.charOf('\t')); // U+0109
    assertEquals('Ā', ByteLevel.charOf(0)); // U+0100
    assertEquals('Ń', ByteLevel.charOf(0xAD)); // the last of the 68 remapped bytes, U+0143
    assertEquals('a', ByteLevel.charOf('a'));
    assertEquals('ÿ', ByteLevel.charOf(0xFF));
    assertEquals("ĠhÃ©", ByteLevel.encode(" hé"));
  }

  @Test
  void encodeDecodeRoundTripsAnyUtf8() {
    String text = "Hello,  wörld!\n\t日本語 👋 \u0000\u007f";
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    assertArrayEquals(bytes, ByteLevel.decode(ByteLevel.encode(text)));
    assertEquals(bytes.length, ByteLevel.encode(text).length());
  }

  @Test
  void decodeRejectsForeignCharacters() {
    assertThrows(IllegalArgumentException.class, () -> ByteLevel.decode("a b"));
    assertThrows(IllegalArgumentException.class, () -> ByteLevel.decode("日"));
  }
}
