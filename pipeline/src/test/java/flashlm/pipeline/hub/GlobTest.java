package flashlm.pipeline.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.config.ConfigException;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class GlobTest {
  @Test
  void starStaysInsideOneSegment() {
    Pattern p = Glob.compile("sample/10BT/*.parquet");
    assertTrue(p.matcher("sample/10BT/000_00000.parquet").matches());
    assertFalse(p.matcher("sample/10BT/x/000_00000.parquet").matches());
    assertFalse(p.matcher("sample/100BT/000_00000.parquet").matches());
    assertEquals("sample/10BT", Glob.listingPrefix("sample/10BT/*.parquet"));
  }

  @Test
  void alternationAndDoubleStar() {
    Pattern p = Glob.compile("TinyStoriesV2-GPT4-{train,valid}.txt");
    assertTrue(p.matcher("TinyStoriesV2-GPT4-train.txt").matches());
    assertTrue(p.matcher("TinyStoriesV2-GPT4-valid.txt").matches());
    assertFalse(p.matcher("TinyStoriesV2-GPT4-test.txt").matches());
    assertEquals("", Glob.listingPrefix("TinyStoriesV2-GPT4-{train,valid}.txt"));
    Pattern deep = Glob.compile("data/**/*.parquet");
    assertTrue(deep.matcher("data/a.parquet").matches());
    assertTrue(deep.matcher("data/CC-MAIN-2024-10/b/a.parquet").matches());
    assertEquals("data", Glob.listingPrefix("data/**/*.parquet"));
    assertEquals("a/b", Glob.listingPrefix("a/b/c.txt"), "a literal path lists its folder");
  }

  @Test
  void classesEscapesAndErrors() {
    assertTrue(Glob.compile("part-[0-9].txt").matcher("part-3.txt").matches());
    assertFalse(Glob.compile("part-[!0-9].txt").matcher("part-3.txt").matches());
    assertTrue(Glob.compile("a\\*b").matcher("a*b").matches());
    assertTrue(Glob.compile("a.b").matcher("a.b").matches());
    assertFalse(Glob.compile("a.b").matcher("axb").matches(), "a dot is literal");
    assertThrows(ConfigException.class, () -> Glob.compile("{a,b"));
    assertThrows(ConfigException.class, () -> Glob.compile("a}"));
    assertThrows(ConfigException.class, () -> Glob.compile("[ab"));
  }
}
