package flashlm.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SequenceBatchesTest {
  private static final int SEQ = 6;
  private static final int W = SEQ + 1;

  @TempDir
  Path dir;

  /**
   * Row {@code id} (shard * 1000 + row) holds {@code id * 100 + col}: each id says where it came
   * from.
   */
  private SequencesFixture table(int shards, int rows, int rowsPerGroup) {
    SequencesFixture f = new SequencesFixture(dir.resolve("t"), SEQ);
    List<String> actions =
        new ArrayList<>(List.of(SequencesFixture.protocol(), f.metaData(1 << 20, shards)));
    for (int s = 0; s < shards; s++) {
      actions.add(f.add("train", s, SequencesFixture.rows(s, rows, SEQ, (id, c) -> id * 100 + c),
          rowsPerGroup));
      actions.add(f.add("validation", s, SequencesFixture.rows(s, 2, SEQ, (id, c) -> -id * 100 - c),
          0));
    }
    f.commit(actions);
    return f;
  }

  private SequencesSnapshot snapshot;

  private SequenceBatches.Builder loader(SequencesFixture f, int batch) {
    if (snapshot == null || !snapshot.table().equals(f.table())) {
      snapshot = SequencesSnapshot.open(f.conf(), f.table(), null);
    }
    return SequenceBatches.builder(snapshot).setSplit("train").setBatchSize(batch);
  }

  /** The row ids of a batch, checking that each row is intact. */
  private static int[] ids(int[] batch) {
    int[] ids = new int[batch.length / W];
    for (int r = 0; r < ids.length; r++) {
      ids[r] = batch[r * W] / 100;
      for (int c = 0; c < W; c++) {
        assertEquals(ids[r] * 100 + c, batch[r * W + c], "row " + r + " col " + c);
      }
    }
    return ids;
  }

  private static List<Integer> take(SequenceBatches b, int batches) {
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < batches; i++) {
      Arrays.stream(ids(b.next())).forEach(out::add);
    }
    return out;
  }

  @Test
  void tableOrderWithoutShuffleAcrossRowGroups() {
    SequencesFixture f = table(2, 5, 2); // row groups of 2, 2, 1 rows per file
    SequenceBatches b = loader(f, 2).optShuffle(false).build();
    assertEquals(10, b.rows());
    assertEquals(5, b.batchesPerEpoch());
    assertEquals(List.of(0, 1, 2, 3, 4, 1000, 1001, 1002, 1003, 1004, 0, 1), take(b, 6));
    assertEquals(new SequenceBatches.Position(1, 2), b.position());
  }

  @Test
  void ranksReadOnlyTheirShards() {
    SequencesFixture f = table(4, 3, 0);
    for (int rank = 0; rank < 2; rank++) {
      SequenceBatches b = loader(f, 3).optRank(rank, 2).optShuffle(false).build();
      assertEquals(6, b.rows());
      TreeSet<Integer> shards = new TreeSet<>();
      take(b, 2).forEach(id -> shards.add(id / 1000));
      assertEquals(rank == 0 ? List.of(0, 2) : List.of(1, 3), new ArrayList<>(shards));
    }
    SequenceBatches v = SequenceBatches.builder(SequencesSnapshot.open(f.conf(), f.table(), null))
        .setSplit("validation").setBatchSize(1).optShuffle(false).build();
    assertEquals(8, v.rows());
    int[] first = v.next();
    assertEquals(-1, first[1]); // validation row 0 of shard 0 holds 0, -1, -2, ...
  }

  @Test
  void shuffleIsDeterministicPerSeedAndEpochAndCoversEveryRow() {
    SequencesFixture f = table(3, 10, 3); // 12 row groups of <= 3 rows
    int perEpoch = 30 / 5;
    for (long window : new long[] {8 * W, 1L << 20}) { // several windows, and one
      List<Integer> a = take(loader(f, 5).optSeed(7).optWindowTokens(window).build(), 2 * perEpoch);
      List<Integer> again =
          take(loader(f, 5).optSeed(7).optWindowTokens(window).build(), 2 * perEpoch);
      List<Integer> other =
          take(loader(f, 5).optSeed(8).optWindowTokens(window).build(), 2 * perEpoch);
      assertEquals(a, again);
      assertFalse(a.equals(other), "seeds 7 and 8 gave the same order");
      List<Integer> epoch0 = a.subList(0, 30);
      List<Integer> epoch1 = a.subList(30, 60);
      assertFalse(epoch0.equals(epoch1), "epochs 0 and 1 gave the same order");
      assertEquals(new TreeSet<>(take(loader(f, 5).optShuffle(false).build(), perEpoch)),
          new TreeSet<>(epoch0));
      assertEquals(30, new TreeSet<>(epoch0).size());
      assertEquals(30, new TreeSet<>(epoch1).size());
    }
  }

  @Test
  void resumesExactlyFromAPosition() {
    SequencesFixture f = table(3, 10, 3);
    for (int stop : new int[] {0, 4, 9}) { // 4 batches of 7 per epoch, 2 rows dropped
      SequenceBatches whole = loader(f, 7).optSeed(3).optWindowTokens(8 * W).build();
      take(whole, stop);
      SequenceBatches.Position at = whole.position();
      List<Integer> rest = take(whole, 4);
      SequenceBatches resumed =
          loader(f, 7).optSeed(3).optWindowTokens(8 * W).optPosition(at).build();
      assertEquals(rest, take(resumed, 4), "resumed at " + at);
    }
  }

  @Test
  void malformedRowsNameTheFile() {
    SequencesFixture f = new SequencesFixture(dir.resolve("bad"), SEQ);
    int[][] rows = SequencesFixture.randomRows(3, SEQ, 10, 1);
    rows[2] = Arrays.copyOf(rows[2], SEQ); // one id short
    String add = f.add("train", 0, rows, 0);
    f.commit(List.of(SequencesFixture.protocol(), f.metaData(10, 1), add));
    SequenceBatches b = loader(f, 3).build();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, b::next);
    assertTrue(e.getMessage().contains("part-00000-c000.snappy.parquet row group 0 row 2")
        && e.getMessage().contains("expected exactly seq_len + 1 = 7"), e.getMessage());

    IllegalArgumentException small = assertThrows(IllegalArgumentException.class,
        () -> loader(f, 4).build());
    assertTrue(small.getMessage().contains("fewer than one batch of 4"), small.getMessage());
    IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
        () -> loader(f, 1).optRank(1, 2).build());
    assertTrue(empty.getMessage().contains("holds no rows"), empty.getMessage());
  }

  @Test
  void emptyAndLongRowsAreMalformedToo() {
    int[][] empty = SequencesFixture.randomRows(3, SEQ, 10, 2);
    empty[1] = new int[0];
    int[][] longer = SequencesFixture.randomRows(3, SEQ, 10, 3);
    longer[0] = Arrays.copyOf(longer[0], SEQ + 3);
    String[] expected = {"row 1: column tokens holds a null or empty value",
        "row 0: column tokens holds " + (SEQ + 3) + " ids"};
    int[][][] tables = {empty, longer};
    for (int i = 0; i < tables.length; i++) {
      SequencesFixture f = new SequencesFixture(dir.resolve("bad" + i), SEQ);
      f.commit(List.of(SequencesFixture.protocol(), f.metaData(10, 1),
          f.add("train", 0, tables[i], 0)));
      SequenceBatches b = loader(f, 3).build();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, b::next);
      assertTrue(e.getMessage().contains(expected[i]), e.getMessage());
    }
  }

  @Test
  void aFileRewrittenAfterItsFooterWasReadIsRefused() throws Exception {
    SequencesFixture f = new SequencesFixture(dir.resolve("rewritten"), SEQ);
    String add = f.add("train", 0, SequencesFixture.randomRows(3, SEQ, 10, 4), 0);
    f.commit(List.of(SequencesFixture.protocol(), f.metaData(10, 1), add));
    SequenceBatches b = loader(f, 3).build(); // reads the footers
    Path file;
    try (var files = Files.walk(dir.resolve("rewritten/split=train"))) {
      file = files.filter(p -> p.toString().endsWith(".parquet")).findFirst().orElseThrow();
    }
    Files.write(file, Arrays.copyOf(Files.readAllBytes(file), (int) Files.size(file) + 5));
    Files.deleteIfExists(file.resolveSibling("." + file.getFileName() + ".crc"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, b::next);
    assertTrue(e.getMessage().contains(file.getFileName() + " row group 0: the file is ")
        && e.getMessage().contains("changed since it was listed"), e.getMessage());
  }

  @Test
  void batchIntoACallerArray() {
    SequencesFixture f = table(1, 4, 0);
    SequenceBatches b = loader(f, 2).optShuffle(false).build();
    int[] out = new int[2 * W];
    b.next(out);
    assertArrayEquals(new int[] {0, 1}, ids(out));
  }

  @Test
  void rowGroupsLeaveOutTheRowsADeletionVectorDeletes() {
    SequencesFixture f = table(1, 7, 2); // row groups of rows 0-1, 2-3, 4-5, 6
    org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(
        dir.resolve("t/split=train/shard=0/part-00000-c000.snappy.parquet").toUri());
    long[] deleted = {0, 2, 3, 6}; // row groups 1 and 3 wholly, row group 0 in part
    List<TokenBlock> blocks = TokenBlock.of(f.conf(), file, 0, deleted, "test");
    assertEquals(List.of(0, 2), blocks.stream().map(TokenBlock::rowGroup).toList());
    assertEquals(List.of(1L, 2L), blocks.stream().map(TokenBlock::rows).toList());
    List<Integer> read = new ArrayList<>();
    for (TokenBlock b : blocks) {
      int[] out = new int[(int) b.rows() * W];
      b.read(f.conf(), W, out, 0, "test");
      Arrays.stream(ids(out)).forEach(read::add);
    }
    assertEquals(List.of(1, 4, 5), read);

    IllegalArgumentException past = assertThrows(IllegalArgumentException.class,
        () -> TokenBlock.of(f.conf(), file, 0, new long[] {7}, "test"));
    assertTrue(past.getMessage().contains("deletes row 7 of a file of 7 rows"),
        past.getMessage());
  }
}
