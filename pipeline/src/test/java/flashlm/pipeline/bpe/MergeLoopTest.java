package flashlm.pipeline.bpe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MergeLoopTest {
  private static final List<String> NO_LOG = new ArrayList<>();

  /** The HuggingFace course's corpus: hug 10, pug 5, pun 12, bun 4, hugs 5. */
  private static MergeLoop.Result textbook(int learned, long minFrequency) {
    return MergeLoop.run(List.of("hug", "pug", "pun", "bun", "hugs"), new long[] {10, 5, 12, 4, 5},
        learned, minFrequency, null, NO_LOG::add);
  }

  @Test
  void learnsTheTextbookMerges() {
    MergeLoop.Result r = textbook(100, 1);
    // u+g 20, u+n 16, h+ug 15, p+un 12, then hug+s and p+ug tie at 5 ("hug" < "p"), b+un 4
    assertEquals(List.of("u g", "u n", "h ug", "p un", "hug s", "p ug", "b un"), r.mergeStrings());
    assertEquals(List.of(20L, 16L, 15L, 12L, 5L, 5L, 4L),
        r.merges().stream().map(MergeLoop.Merge::count).toList());
    assertEquals(256 + 7, r.tokens().size());
    assertEquals("ug", r.tokens().get(256));
    assertEquals("hugs", r.tokens().get(260));
  }

  @Test
  void stopsAtTheRequestedSizeOrMinFrequency() {
    assertEquals(List.of("u g", "u n", "h ug"), textbook(3, 1).mergeStrings());
    assertEquals(List.of("u g", "u n", "h ug", "p un"), textbook(100, 6).mergeStrings());
  }

  @Test
  void resultDoesNotDependOnWordOrder() {
    List<String> words = new ArrayList<>();
    List<Long> counts = new ArrayList<>();
    Random rnd = new Random(3);
    for (int i = 0; i < 300; i++) {
      StringBuilder w = new StringBuilder(rnd.nextBoolean() ? "Ġ" : "");
      for (int j = rnd.nextInt(8) + 1; j > 0; j--) {
        w.append((char) ('a' + rnd.nextInt(5)));
      }
      if (!words.contains(w.toString())) {
        words.add(w.toString());
        counts.add(1L + rnd.nextInt(20));
      }
    }
    MergeLoop.Result first = runOn(words, counts);
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < words.size(); i++) {
      order.add(i);
    }
    Collections.shuffle(order, new Random(11));
    List<String> w2 = new ArrayList<>();
    List<Long> c2 = new ArrayList<>();
    for (int i : order) {
      w2.add(words.get(i));
      c2.add(counts.get(i));
    }
    MergeLoop.Result second = runOn(w2, c2);
    assertEquals(first.mergeStrings(), second.mergeStrings());
    assertEquals(first.tokens(), second.tokens());
  }

  private static MergeLoop.Result runOn(List<String> words, List<Long> counts) {
    return MergeLoop.run(words, counts.stream().mapToLong(Long::longValue).toArray(), 200, 2, null,
        NO_LOG::add);
  }

  @Test
  void replaceIsLeftToRightAndNonOverlapping() {
    assertArrayEquals(new int[] {9, 1}, MergeLoop.replace(new int[] {1, 1, 1}, 1, 1, 9));
    assertArrayEquals(new int[] {9, 9}, MergeLoop.replace(new int[] {1, 1, 1, 1}, 1, 1, 9));
    assertArrayEquals(
        new int[] {0, 9, 3, 9}, MergeLoop.replace(new int[] {0, 1, 2, 3, 1, 2}, 1, 2, 9));
  }

  @Test
  void repeatedSymbolsAreCountedAndMergedConsistently() {
    MergeLoop.Result r = MergeLoop.run(List.of("aaaa", "aaa"), new long[] {3, 2}, 10, 1, null,
        NO_LOG::add);
    // a+a: 3*3 + 2*2 = 13; then aa+aa (3) and aa+a (2)
    assertEquals(List.of("a a", "aa aa", "aa a"), r.mergeStrings());
  }

  @Test
  void rejectsPairCountsThatDisagreeWithTheWords() {
    assertThrows(
        IllegalStateException.class,
        () ->
            MergeLoop.run(
                List.of("ab"),
                new long[] {2},
                5,
                1,
                Map.of(MergeLoop.pair('a', 'b'), 3L),
                NO_LOG::add));
  }
}
