package flashlm.pipeline.bpe;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PreTokenizerTest {
  @Test
  void wordsKeepTheirLeadingSpace() {
    assertEquals(List.of("Hello", " world", "!"), PreTokenizer.split("Hello world!"));
  }

  @Test
  void contractionsSplitOff() {
    assertEquals(List.of("I", "'m", " here", ",", " it", "'s", " we", "'ll", " go"),
        PreTokenizer.split("I'm here, it's we'll go"));
  }

  @Test
  void multipleSpacesLeaveTheLastOneToTheNextWord() {
    assertEquals(List.of("a", "  ", " b"), PreTokenizer.split("a   b"));
    assertEquals(List.of("hi", "   "), PreTokenizer.split("hi   "));
    assertEquals(List.of("  ", " x"), PreTokenizer.split("   x"));
  }

  @Test
  void newlinesAreTheirOwnWords() {
    assertEquals(List.of("line", "\n", "\n", "next"), PreTokenizer.split("line\n\nnext"));
    assertEquals(List.of("end", ".", "\n "), PreTokenizer.split("end.\n "));
    assertEquals(List.of("a", "\t", " b"), PreTokenizer.split("a\t b"));
  }

  @Test
  void numbersAndPunctuation() {
    assertEquals(
        List.of("pi", " 3", ".", "14", "!?", " $", "5"), PreTokenizer.split("pi 3.14!? $5"));
  }

  @Test
  void unicodeLettersEmojiAndUnicodeSpaces() {
    assertEquals(
        List.of("héllo", " wörld", " 日本語", " 👋!"), PreTokenizer.split("héllo wörld 日本語 👋!"));
    // U+00A0 (no-break space) is whitespace to Unicode, as to Oniguruma in the Rust library
    assertEquals(List.of("a", "\u00a0", " b"), PreTokenizer.split("a\u00a0 b"));
  }

  @Test
  void specialTokenStringsInADocumentAreOrdinaryText() {
    List<String> words = new ArrayList<>();
    PreTokenizer.words("The end.<|endoftext|>Once upon", words::add);
    assertEquals(List.of("The", "Ġend", ".<|", "endoftext", "|>", "Once", "Ġupon"), words);
  }

  @Test
  void splitCoversTheWholeTextInOrder() {
    String alphabet = "ab Z9 \n\t'.,!é日👋\u00a0-";
    Random rnd = new Random(7);
    for (int n = 0; n < 500; n++) {
      StringBuilder sb = new StringBuilder();
      int len = rnd.nextInt(40);
      for (int i = 0; i < len; i++) {
        sb.appendCodePoint(alphabet.codePointAt(alphabet.offsetByCodePoints(0,
            rnd.nextInt(alphabet.codePointCount(0, alphabet.length())))));
      }
      String text = sb.toString();
      assertEquals(text, String.join("", PreTokenizer.split(text)), "text: " + text);
    }
  }
}
