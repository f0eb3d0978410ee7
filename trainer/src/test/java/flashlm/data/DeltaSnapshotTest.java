package flashlm.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.table.SequencesTable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DeltaSnapshotTest {
  private static final int SEQ = 8;

  @TempDir
  Path dir;

  private static Set<String> names(DeltaSnapshot s) {
    return s.files().stream().map(f -> f.partitionValues().get("split") + "/"
        + f.partitionValues().get("shard") + "/" + f.path().getName()).collect(Collectors.toSet());
  }

  @Test
  void readsMetadataAndFilesOfTheLatestVersion() {
    SequencesFixture f = SequencesFixture.random(dir.resolve("t"), SEQ, 50, 2, 3, 2, 1);
    DeltaSnapshot s = DeltaSnapshot.load(f.conf(), f.table(), null);
    assertEquals(0, s.version());
    assertEquals(List.of("split", "shard"), s.partitionColumns());
    assertEquals("8", s.configuration().get(SequencesTable.PROP_SEQ_LEN));
    assertEquals(4, s.files().size());
    assertTrue(s.files().stream().allMatch(a -> a.size() > 0 && a.path().isAbsolute()));
  }

  @Test
  void timeTravelAndRemoveActions() {
    SequencesFixture f = new SequencesFixture(dir.resolve("t"), SEQ);
    String a0 = f.add("train", 0, SequencesFixture.randomRows(3, SEQ, 50, 1), 0);
    f.commit(List.of(SequencesFixture.protocol(), f.metaData(50, 1), a0));
    String a1 = f.add("train", 0, SequencesFixture.randomRows(2, SEQ, 50, 2), 0);
    f.commit(List.of(a1));
    f.commit(List.of(f.remove(a0)));

    assertEquals(Set.of("train/0/part-00000-c000.snappy.parquet"),
        names(DeltaSnapshot.load(f.conf(), f.table(), 0L)));
    assertEquals(2, DeltaSnapshot.load(f.conf(), f.table(), 1L).files().size());
    DeltaSnapshot latest = DeltaSnapshot.load(f.conf(), f.table(), null);
    assertEquals(2, latest.version());
    assertEquals(Set.of("train/0/part-00001-c000.snappy.parquet"), names(latest));

    SequencesSnapshot seq = SequencesSnapshot.open(f.conf(), f.table(), 0L);
    assertEquals(3, seq.rows("train", 0, 1));
    assertEquals(2, SequencesSnapshot.open(f.conf(), f.table(), null).rows("train", 0, 1));
  }

  @Test
  void checkpointThenCommitsWithOldCommitsCleanedUp() throws Exception {
    SequencesFixture f = new SequencesFixture(dir.resolve("t"), SEQ);
    String a0 = f.add("train", 0, SequencesFixture.randomRows(3, SEQ, 50, 1), 0);
    f.commit(List.of(SequencesFixture.protocol(), f.metaData(50, 2), a0));
    String a1 = f.add("train", 1, SequencesFixture.randomRows(4, SEQ, 50, 2), 0);
    f.commit(List.of(a1, f.remove(a0)));
    f.checkpoint(); // version 1: a1 live, a0 a tombstone
    f.commit(List.of(f.add("validation", 0, SequencesFixture.randomRows(5, SEQ, 50, 3), 0)));
    // log cleanup removes the commits before the checkpoint's version, not the version itself
    Files.delete(dir.resolve("t/_delta_log/00000000000000000000.json"));

    DeltaSnapshot s = DeltaSnapshot.load(f.conf(), f.table(), null);
    assertEquals(2, s.version());
    assertEquals(Set.of("train/1/part-00001-c000.snappy.parquet",
        "validation/0/part-00002-c000.snappy.parquet"), names(s));
    assertEquals("2", s.configuration().get(SequencesTable.PROP_NUM_SHARDS));
    assertEquals(List.of("split", "shard"), s.partitionColumns());
    assertEquals(1, DeltaSnapshot.load(f.conf(), f.table(), 1L).files().size());

    IllegalArgumentException old = assertThrows(IllegalArgumentException.class,
        () -> DeltaSnapshot.load(f.conf(), f.table(), 0L));
    assertTrue(old.getMessage().contains(f.table() + ": cannot read version 0")
        && old.getMessage().contains("earliest available version is 1"), old.getMessage());

    Files.delete(dir.resolve("t/_delta_log/00000000000000000001.checkpoint.parquet"));
    IllegalArgumentException damaged = assertThrows(IllegalArgumentException.class,
        () -> DeltaSnapshot.load(f.conf(), f.table(), null));
    assertTrue(damaged.getMessage().contains(f.table())
        && damaged.getMessage().contains("Missing checkpoint at version 1"), damaged.getMessage());
  }

  @Test
  void aVersionWhoseFilesWereVacuumedIsRefusedNamingTheOldestReadableVersion() throws Exception {
    SequencesFixture f = new SequencesFixture(dir.resolve("t"), SEQ);
    String a0 = f.add("train", 0, SequencesFixture.randomRows(3, SEQ, 50, 1), 0);
    f.commit(List.of(SequencesFixture.protocol(), f.metaData(50, 1), a0));
    String a1 = f.add("train", 0, SequencesFixture.randomRows(2, SEQ, 50, 2), 0);
    f.commit(List.of(a1, f.remove(a0)));
    f.commit(List.of(f.add("validation", 0, SequencesFixture.randomRows(2, SEQ, 50, 3), 0)));
    // what VACUUM does: the files only version 0 reads are deleted, the log stays
    Files.delete(dir.resolve("t/train/shard=0/part-00000-c000.snappy.parquet".replace("train/",
        "split=train/")));

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> DeltaSnapshot.load(f.conf(), f.table(), 0L));
    assertTrue(e.getMessage().contains("Delta table " + f.table() + " version 0 cannot be read")
        && e.getMessage().contains("1 of its 1 data files are gone")
        && e.getMessage().contains("part-00000-c000.snappy.parquet")
        && e.getMessage().contains("the oldest version still readable is 1 (the latest is 2)"),
        e.getMessage());
    assertEquals(2, DeltaSnapshot.load(f.conf(), f.table(), null).files().size());
  }

  @Test
  void clearErrorsForAMissingTableAndAMissingVersion() {
    IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
        () -> DeltaSnapshot.load(new Configuration(), dir.resolve("nope").toString(), null));
    assertTrue(none.getMessage().contains("no _delta_log") && none.getMessage().contains("nope"),
        none.getMessage());

    SequencesFixture f = SequencesFixture.random(dir.resolve("t"), SEQ, 50, 1, 2, 2, 1);
    IllegalArgumentException future = assertThrows(IllegalArgumentException.class,
        () -> DeltaSnapshot.load(f.conf(), f.table(), 7L));
    assertTrue(future.getMessage().contains("no version 7 (versions go up to 0)"),
        future.getMessage());
  }

  @Test
  void refusesReaderFeaturesKernelLacksAndColumnMapping() {
    SequencesFixture g = new SequencesFixture(dir.resolve("g"), SEQ);
    g.commit(List.of("{\"protocol\":{\"minReaderVersion\":3,\"minWriterVersion\":7,"
        + "\"readerFeatures\":[\"fromTheFuture\"]}}", g.metaData(50, 1)));
    IllegalArgumentException feature = assertThrows(IllegalArgumentException.class,
        () -> DeltaSnapshot.load(g.conf(), g.table(), null));
    assertTrue(feature.getMessage().contains(g.table())
        && feature.getMessage().contains("fromTheFuture"), feature.getMessage());

    SequencesFixture m = new SequencesFixture(dir.resolve("m"), SEQ);
    m.commit(List.of("{\"protocol\":{\"minReaderVersion\":2,\"minWriterVersion\":5}}",
        m.metaData(Map.of("delta.columnMapping.mode", "name"))));
    IllegalArgumentException mapping = assertThrows(IllegalArgumentException.class,
        () -> DeltaSnapshot.load(m.conf(), m.table(), null));
    assertTrue(mapping.getMessage().contains(m.table() + " version 0 uses column mapping mode"
        + " 'name'"), mapping.getMessage());
  }

  @Test
  void refusesATableThatIsNotASequencesTable() {
    SequencesFixture h = new SequencesFixture(dir.resolve("h"), SEQ);
    h.commit(List.of(SequencesFixture.protocol(),
        h.metaData(Map.of(SequencesTable.PROP_FORMAT_VERSION, "9"))));
    IllegalArgumentException format = assertThrows(IllegalArgumentException.class,
        () -> SequencesSnapshot.open(h.conf(), h.table(), null));
    assertTrue(format.getMessage().contains(h.table() + " version 0")
        && format.getMessage().contains("format_version is 9"), format.getMessage());

    SequencesFixture t = new SequencesFixture(dir.resolve("longs"), SEQ);
    t.commit(List.of(SequencesFixture.protocol(), t.metaData(50, 1)
        .replace("\\\"elementType\\\":\\\"integer\\\"", "\\\"elementType\\\":\\\"long\\\"")));
    IllegalArgumentException longs = assertThrows(IllegalArgumentException.class,
        () -> SequencesSnapshot.open(t.conf(), t.table(), null));
    assertTrue(longs.getMessage().contains("column tokens has type array[long"),
        longs.getMessage());
  }
}
