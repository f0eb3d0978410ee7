package flashlm.pipeline.tokenize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class PackSequencesTest {
  private static TokenizedDoc doc(String split, int shard, int from, int count) {
    return new TokenizedDoc("d" + from, split, shard, IntStream.range(from, from + count).toArray());
  }

  @Test
  void packsBackToBackPerGroupAndDropsEachGroupsTail() throws Exception {
    int seqLen = 3; // rows of 4
    List<TokenizedDoc> docs = List.of(
        doc("train", 0, 0, 3), doc("train", 0, 3, 6), doc("train", 0, 9, 0), // 9 ids: 2 rows
        doc("train", 1, 100, 4), // exactly one row, no tail
        doc("validation", 0, 200, 1), doc("validation", 0, 201, 2)); // 3 ids: no row
    Iterator<PackedRow> it = new PackSequences(seqLen).call(docs.iterator());
    List<PackedRow> rows = new ArrayList<>();
    it.forEachRemaining(rows::add);
    assertEquals(3, rows.size());
    assertRow(rows.get(0), "train", 0, 0, 0, 1, 2, 3);
    assertRow(rows.get(1), "train", 0, 1, 4, 5, 6, 7);
    assertRow(rows.get(2), "train", 1, 0, 100, 101, 102, 103);
  }

  @Test
  void longDocumentSpansManyRows() throws Exception {
    Iterator<PackedRow> it = new PackSequences(1).call(List.of(doc("train", 2, 0, 7)).iterator());
    List<PackedRow> rows = new ArrayList<>();
    it.forEachRemaining(rows::add);
    assertEquals(3, rows.size());
    assertRow(rows.get(2), "train", 2, 2, 4, 5);
  }

  private static void assertRow(PackedRow r, String split, int shard, long index, int... ids) {
    assertEquals(split, r.getSplit());
    assertEquals(shard, r.getShard());
    assertEquals(index, r.getSeqIndex());
    assertArrayEquals(ids, r.getTokens());
  }
}
