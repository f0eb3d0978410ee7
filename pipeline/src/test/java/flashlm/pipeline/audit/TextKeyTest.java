package flashlm.pipeline.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

class TextKeyTest {
  @Test
  void theSameTextAfterNfcAndCollapsedWhitespaceHasOneKeyAndCaseIsKept() {
    String text = "Once upon a time, the caf\u00e9 opened.";
    assertEquals(TextKey.of(text), TextKey.of("  Once upon\n\ta  time,\u00a0the cafe\u0301"
        + " opened.\u2028"));
    assertEquals("Once upon a time, the caf\u00e9 opened.",
        TextKey.normalize(" Once \r\n upon a time, the cafe\u0301 opened. "));
    assertNotEquals(TextKey.of(text), TextKey.of(text.toLowerCase(java.util.Locale.ROOT)));
    assertNotEquals(TextKey.of("ab"), TextKey.of("a b"));
    assertNull(TextKey.of(null));
  }
}
