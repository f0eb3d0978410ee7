package flashlm.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.config.Configs;
import flashlm.data.SequencesFixture;
import flashlm.table.RunsTable;
import io.delta.kernel.Scan;
import io.delta.kernel.Snapshot;
import io.delta.kernel.Table;
import io.delta.kernel.data.ColumnarBatch;
import io.delta.kernel.data.FilteredColumnarBatch;
import io.delta.kernel.data.Row;
import io.delta.kernel.defaults.engine.DefaultEngine;
import io.delta.kernel.engine.Engine;
import io.delta.kernel.engine.FileReadResult;
import io.delta.kernel.internal.InternalScanFileUtils;
import io.delta.kernel.internal.util.Utils;
import io.delta.kernel.internal.util.VectorUtils;
import io.delta.kernel.types.StructField;
import io.delta.kernel.utils.CloseableIterator;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every run appends its row to the runs table, written with Delta Kernel. */
class RunsRegistryTest {
  private static final int SEQ = 8;
  private static final int VOCAB = 64;

  @TempDir
  Path dir;

  private String table() {
    Path t = dir.resolve("data/sequences");
    if (!Files.exists(t)) {
      SequencesFixture.random(t, SEQ, VOCAB, 2, 7, 3, 11);
    }
    return t.toString();
  }

  private TrainConfig config(String... extra) {
    List<String> o = new ArrayList<>(List.of("backend=reference", "model.arch=transformer",
        "model.vocab_size=" + VOCAB, "model.d_model=16", "model.n_layers=1", "model.n_heads=2",
        "model.ffn_dim=24", "model.seq_len=" + SEQ, "data.table=" + table(), "data.batch_size=3",
        "max_steps=4", "schedule.warmup=1", "eval_every=0", "eval_batches=1", "log.every=1",
        "checkpoint.dir=" + dir.resolve("ckpt"), "checkpoint.every=2", "checkpoint.keep=5"));
    o.addAll(List.of(extra));
    return Configs.load(null, TrainConfig.class, o);
  }

  private static Trainer.Result train(TrainConfig c, boolean resume) {
    return Trainer.builder(c).optResume(resume)
        .optOut(new PrintStream(new ByteArrayOutputStream(), true)).build().run();
  }

  @Test
  void everyRunAppendsOneRowSayingWhatItTrainedOnAndHowItEnded() {
    TrainConfig first = config();
    Trainer.Result a = train(first, false);
    Trainer.Result b = train(config("max_steps=6"), true);

    String runs = "file:" + dir.resolve("data/runs");
    List<Map<String, Object>> rows = rows(runs);
    assertEquals(2, rows.size());
    Map<String, Object> r0 = rows.get(0);
    assertEquals("max_steps", r0.get(RunsTable.STATUS));
    assertEquals("file:" + table(), r0.get(RunsTable.TABLE));
    assertEquals(0L, r0.get(RunsTable.TABLE_VERSION));
    assertEquals(0L, r0.get(RunsTable.START_STEP));
    assertEquals(4L, r0.get(RunsTable.END_STEP));
    assertNull(r0.get(RunsTable.RESUMED_FROM));
    assertEquals(a.trainLoss(), (double) r0.get(RunsTable.TRAIN_LOSS));
    assertEquals(a.valLoss(), (double) r0.get(RunsTable.VAL_LOSS));
    assertEquals(a.checkpoint(), r0.get(RunsTable.CHECKPOINT));
    assertEquals(List.of(a.checkpoint().replace("0004", "0002"), a.checkpoint()),
        r0.get(RunsTable.CHECKPOINTS));
    assertEquals(Configs.fingerprint(first), r0.get(RunsTable.CONFIG_SHA256));
    assertEquals("file:" + dir.resolve("ckpt"), r0.get(RunsTable.CHECKPOINT_DIR));
    assertEquals("train", r0.get(RunsTable.TRAIN_SPLIT));
    assertEquals(1, r0.get(RunsTable.WORLD_SIZE));
    assertTrue((long) r0.get(RunsTable.ENDED_AT) >= (long) r0.get(RunsTable.STARTED_AT));

    Map<String, Object> r1 = rows.get(1);
    assertFalse(r1.get(RunsTable.RUN_ID).equals(r0.get(RunsTable.RUN_ID)));
    assertEquals(a.checkpoint(), r1.get(RunsTable.RESUMED_FROM));
    assertEquals(4L, r1.get(RunsTable.START_STEP));
    assertEquals(6L, r1.get(RunsTable.END_STEP));
    assertEquals(List.of(b.checkpoint()), r1.get(RunsTable.CHECKPOINTS));
  }

  @Test
  void aRunThatFailsIsRecordedWithItsErrorAndTheErrorStillStopsIt() {
    TrainConfig diverging = config("optimizer.lr=1e30", "grad_clip=0", "runs_table="
        + dir.resolve("elsewhere/runs"));
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> train(diverging, false));
    assertTrue(e.getMessage().contains("diverged"), e.getMessage());
    List<Map<String, Object>> rows = rows("file:" + dir.resolve("elsewhere/runs"));
    assertEquals(1, rows.size());
    assertEquals(RunsTable.FAILED, rows.get(0).get(RunsTable.STATUS));
    assertEquals(e.getMessage(), rows.get(0).get(RunsTable.ERROR));
  }

  @Test
  void anUnwritableRunsTableStopsTheRunBeforeItTrains() throws Exception {
    Path file = Files.writeString(dir.resolve("a-file"), "not a directory");
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> train(config("runs_table=" + file.resolve("runs")), false));
    assertTrue(e.getMessage().contains("cannot create the runs table")
        && e.getMessage().contains(file.resolve("runs").toString()), e.getMessage());
    assertEquals(List.of(), new CheckpointDir(new Configuration(), dir.resolve("ckpt").toString())
        .list());
  }

  @Test
  void theRegistryIsCheckpointedEveryTenCommitsSoReadersReplayFew() {
    TrainConfig c = config("runs_table=" + dir.resolve("many"));
    RunsRegistry registry = RunsRegistry.of(new Configuration(), c);
    Engine engine = DefaultEngine.create(new Configuration());
    registry.ensureTable(engine);
    for (int i = 0; i < 10; i++) {
      Map<String, Object> row = new LinkedHashMap<>();
      for (StructField f : RunsRegistry.SCHEMA.fields()) {
        if (!f.isNullable()) {
          row.put(f.getName(), f.getDataType() instanceof io.delta.kernel.types.StringType
              ? "x" + i : f.getDataType() instanceof io.delta.kernel.types.IntegerType ? 1
              : (Object) (long) i);
        }
      }
      registry.append(engine, row);
    }
    assertTrue(Files.exists(
        dir.resolve("many/_delta_log/00000000000000000010.checkpoint.parquet")));
    assertEquals(10, rows("file:" + dir.resolve("many")).size());
  }

  @Test
  void theDefaultRunsTableLiesBesideTheSequencesTable() {
    assertEquals("/data/x/runs", RunsTable.beside("/data/x/sequences/"));
    assertEquals("s3a://bucket/runs", RunsTable.beside("s3a://bucket/sequences"));
    assertEquals("s3a://bucket/runs", RunsTable.beside("s3a://bucket"));
    assertEquals("runs", RunsTable.beside("sequences"));
  }

  /** Every row of the runs table, column name to value (arrays as lists), by started_at. */
  static List<Map<String, Object>> rows(String table) {
    Engine engine = DefaultEngine.create(new Configuration());
    Snapshot snapshot = Table.forPath(engine, table).getLatestSnapshot(engine);
    Scan scan = snapshot.getScanBuilder().build();
    Row state = scan.getScanState(engine);
    List<Map<String, Object>> out = new ArrayList<>();
    try (CloseableIterator<FilteredColumnarBatch> files = scan.getScanFiles(engine)) {
      while (files.hasNext()) {
        try (CloseableIterator<Row> scanFiles = files.next().getRows()) {
          while (scanFiles.hasNext()) {
            Row scanFile = scanFiles.next();
            CloseableIterator<ColumnarBatch> physical = engine.getParquetHandler()
                .readParquetFiles(Utils.singletonCloseableIterator(
                    InternalScanFileUtils.getAddFileStatus(scanFile)),
                    RunsRegistry.SCHEMA, Optional.empty()).map(FileReadResult::getData);
            try (CloseableIterator<FilteredColumnarBatch> data =
                Scan.transformPhysicalData(engine, state, scanFile, physical)) {
              while (data.hasNext()) {
                ColumnarBatch b = data.next().getData();
                for (int i = 0; i < b.getSize(); i++) {
                  Map<String, Object> row = new LinkedHashMap<>();
                  for (int c = 0; c < b.getSchema().length(); c++) {
                    StructField f = b.getSchema().at(c);
                    Object v = VectorUtils.getValueAsObject(b.getColumnVector(c),
                        f.getDataType(), i);
                    row.put(f.getName(), v instanceof io.delta.kernel.data.ArrayValue a
                        ? VectorUtils.toJavaList(a) : v);
                  }
                  out.add(row);
                }
              }
            }
          }
        }
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    out.sort(Comparator.comparing(r -> (Long) r.get(RunsTable.STARTED_AT)));
    return out;
  }
}
