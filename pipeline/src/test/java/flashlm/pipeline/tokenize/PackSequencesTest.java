package flashlm.pipeline.tokenize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import scala.Tuple2;

class PackSequencesTest {
  private static final Groups GROUPS = new Groups(3); // train 0..2, validation 3..5

  private static Tuple2<DocKey, int[]> doc(int group, int from, int count) {
    return new Tuple2<>(new DocKey(group, String.format("d%05d", from)),
        IntStream.range(from, from + count).toArray());
  }

  private static List<PackedRow> rows(int seqLen, int blockRows, List<PackedBlock> blocks)
      throws Exception {
    List<PackedRow> rows = new ArrayList<>();
    for (PackedBlock b : blocks) {
      new BlockRows(GROUPS, seqLen).call(b).forEachRemaining(rows::add);
    }
    return rows;
  }

  private static List<PackedBlock> pack(int seqLen, int blockRows,
      List<Tuple2<DocKey, int[]>> docs) throws Exception {
    Iterator<PackedBlock> it = new PackSequences(seqLen, blockRows).call(docs.iterator());
    List<PackedBlock> blocks = new ArrayList<>();
    it.forEachRemaining(blocks::add);
    return blocks;
  }

  @Test
  void packsBackToBackPerGroupAndDropsEachGroupsTail() throws Exception {
    int seqLen = 3; // rows of 4
    List<PackedBlock> blocks = pack(seqLen, 1024, List.of(
        doc(0, 0, 3), doc(0, 3, 6), doc(0, 9, 0), // 9 ids: 2 rows
        doc(1, 100, 4), // exactly one row, no tail
        doc(3, 200, 1), doc(3, 201, 2))); // validation, 3 ids: no row
    List<PackedRow> rows = rows(seqLen, 1024, blocks);
    assertEquals(3, rows.size());
    assertRow(rows.get(0), "train", 0, 0, 0, 1, 2, 3);
    assertRow(rows.get(1), "train", 0, 1, 4, 5, 6, 7);
    assertRow(rows.get(2), "train", 1, 0, 100, 101, 102, 103);
    // Each group's last block carries its totals.
    List<PackedBlock> last = blocks.stream().filter(PackedBlock::last).toList();
    assertEquals(List.of(0, 1, 3), last.stream().map(PackedBlock::group).toList());
    assertTotals(last.get(0), 3, 9, 1);
    assertTotals(last.get(1), 1, 4, 0);
    assertTotals(last.get(2), 2, 3, 3);
  }

  @Test
  void longDocumentSpansManyRows() throws Exception {
    List<PackedRow> rows = rows(1, 1024, pack(1, 1024, List.of(doc(2, 0, 7))));
    assertEquals(3, rows.size());
    assertRow(rows.get(2), "train", 2, 2, 4, 5);
  }

  @Test
  void rowsAreTheSameWhateverTheBlockSize() throws Exception {
    List<Tuple2<DocKey, int[]>> docs = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      docs.add(doc(i < 30 ? 4 : 5, i * 100, 1 + (i * 7) % 23));
    }
    List<PackedRow> big = rows(4, 1024, pack(4, 1024, docs));
    for (int blockRows : new int[] {1, 2, 3, 7}) {
      List<PackedBlock> blocks = pack(4, blockRows, docs);
      assertTrue(blocks.stream().allMatch(b -> b.rows() <= blockRows));
      List<PackedRow> small = rows(4, blockRows, blocks);
      assertEquals(big.size(), small.size(), "block rows " + blockRows);
      for (int i = 0; i < big.size(); i++) {
        PackedRow want = big.get(i);
        assertRow(small.get(i), want.getSplit(), want.getShard(), want.getSeqIndex(),
            want.getTokens());
      }
    }
  }

  private static void assertRow(PackedRow r, String split, int shard, long index, int... ids) {
    assertEquals(split, r.getSplit());
    assertEquals(shard, r.getShard());
    assertEquals(index, r.getSeqIndex());
    assertArrayEquals(ids, r.getTokens());
  }

  private static void assertTotals(PackedBlock b, long docs, long tokens, long dropped) {
    assertEquals(docs, b.documents());
    assertEquals(tokens, b.groupTokens());
    assertEquals(dropped, b.droppedTail());
  }
}
