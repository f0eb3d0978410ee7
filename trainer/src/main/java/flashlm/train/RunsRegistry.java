package flashlm.train;

import flashlm.config.Configs;
import flashlm.data.KernelEngine;
import flashlm.data.SequencesSnapshot;
import flashlm.dist.Collective;
import flashlm.fs.HadoopFiles;
import flashlm.table.RunsTable;
import io.delta.kernel.DataWriteContext;
import io.delta.kernel.Operation;
import io.delta.kernel.Snapshot;
import io.delta.kernel.Table;
import io.delta.kernel.Transaction;
import io.delta.kernel.TransactionCommitResult;
import io.delta.kernel.data.ColumnVector;
import io.delta.kernel.data.ColumnarBatch;
import io.delta.kernel.data.FilteredColumnarBatch;
import io.delta.kernel.data.Row;
import io.delta.kernel.engine.Engine;
import io.delta.kernel.exceptions.KernelException;
import io.delta.kernel.exceptions.TableNotFoundException;
import io.delta.kernel.hook.PostCommitHook;
import io.delta.kernel.internal.util.Utils;
import io.delta.kernel.internal.util.VectorUtils;
import io.delta.kernel.types.ArrayType;
import io.delta.kernel.types.DataType;
import io.delta.kernel.types.DoubleType;
import io.delta.kernel.types.IntegerType;
import io.delta.kernel.types.LongType;
import io.delta.kernel.types.StringType;
import io.delta.kernel.types.StructType;
import io.delta.kernel.types.TimestampType;
import io.delta.kernel.utils.CloseableIterable;
import io.delta.kernel.utils.CloseableIterator;
import io.delta.kernel.utils.DataFileStatus;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Supplier;
import org.apache.hadoop.conf.Configuration;

/**
 * The runs registry's writer: every run appends one row to the runs Delta table ({@link
 * RunsTable}) when it ends, written with Delta Kernel (no Spark): the row as a parquet file, then
 * a commit of its add action. The table is created, if missing, before training starts, so that
 * an unwritable location fails the run before any work rather than after it. Blind appends do not
 * conflict: Kernel retries a commit that lost a race with another run's.
 *
 * <p>Only rank 0 writes. A run that fails after the loop started is recorded too, with status
 * {@link RunsTable#FAILED} and its error, and the error is rethrown; a process killed outright
 * leaves no row.
 */
final class RunsRegistry {
  private static final String ENGINE_INFO = "flashlm-train";

  /** The table's columns in {@link RunsTable}'s order. */
  static final StructType SCHEMA = new StructType()
      .add(RunsTable.RUN_ID, StringType.STRING, false)
      .add(RunsTable.STATUS, StringType.STRING, false)
      .add(RunsTable.STARTED_AT, TimestampType.TIMESTAMP, false)
      .add(RunsTable.ENDED_AT, TimestampType.TIMESTAMP, false)
      .add(RunsTable.HOST, StringType.STRING, true)
      .add(RunsTable.CONFIG_SHA256, StringType.STRING, false)
      .add(RunsTable.CONFIG, StringType.STRING, false)
      .add(RunsTable.TABLE, StringType.STRING, false)
      .add(RunsTable.TABLE_VERSION, LongType.LONG, false)
      .add(RunsTable.TRAIN_SPLIT, StringType.STRING, false)
      .add(RunsTable.VALIDATION_SPLIT, StringType.STRING, false)
      .add(RunsTable.WORLD_SIZE, IntegerType.INTEGER, false)
      .add(RunsTable.START_STEP, LongType.LONG, false)
      .add(RunsTable.END_STEP, LongType.LONG, false)
      .add(RunsTable.RESUMED_FROM, StringType.STRING, true)
      .add(RunsTable.TRAIN_LOSS, DoubleType.DOUBLE, true)
      .add(RunsTable.VAL_LOSS, DoubleType.DOUBLE, true)
      .add(RunsTable.CHECKPOINT_DIR, StringType.STRING, true)
      .add(RunsTable.CHECKPOINT, StringType.STRING, true)
      .add(RunsTable.CHECKPOINTS, new ArrayType(StringType.STRING, true), true)
      .add(RunsTable.ERROR, StringType.STRING, true);

  private final Configuration conf;
  private final TrainConfig config;
  private final String location;

  private RunsRegistry(Configuration conf, TrainConfig config) {
    this.conf = conf;
    this.config = config;
    this.location = HadoopFiles.qualify(conf, config.runsTableOrDefault());
  }

  /** The registry {@code config} names ({@link TrainConfig#runsTableOrDefault}). */
  static RunsRegistry of(Configuration conf, TrainConfig config) {
    return new RunsRegistry(conf, config);
  }

  /** The table's qualified location. */
  String location() {
    return location;
  }

  /**
   * Runs {@code loop} and, on rank 0, appends its row: how it ended, or that it failed (then the
   * failure is rethrown). The table is created first if it does not exist.
   *
   * @param from the checkpoint header resumed from, or null for a fresh run
   * @param fromPath its path, or null
   * @param dir the checkpoint directory, or null
   */
  Trainer.Result record(Collective collective, SequencesSnapshot table, Checkpoint.Header from,
      String fromPath, CheckpointDir dir, Supplier<Trainer.Result> loop) {
    if (collective.rank() != 0) {
      return loop.get();
    }
    Engine engine = KernelEngine.create(conf);
    ensureTable(engine);
    Map<String, Object> row = new LinkedHashMap<>();
    row.put(RunsTable.RUN_ID, UUID.randomUUID().toString());
    row.put(RunsTable.STARTED_AT, micros(Instant.now()));
    row.put(RunsTable.HOST, host());
    row.put(RunsTable.CONFIG_SHA256, Configs.fingerprint(config));
    row.put(RunsTable.CONFIG, Configs.toJson(config));
    row.put(RunsTable.TABLE, HadoopFiles.qualify(conf, table.table()));
    row.put(RunsTable.TABLE_VERSION, table.version());
    row.put(RunsTable.TRAIN_SPLIT, config.data().trainSplit());
    row.put(RunsTable.VALIDATION_SPLIT, config.data().validationSplit());
    row.put(RunsTable.WORLD_SIZE, collective.worldSize());
    long startStep = from == null ? 0 : from.step();
    row.put(RunsTable.START_STEP, startStep);
    row.put(RunsTable.RESUMED_FROM, fromPath);
    row.put(RunsTable.CHECKPOINT_DIR, dir == null ? null : dir.toString());
    Trainer.Result result;
    try {
      result = loop.get();
    } catch (RuntimeException | Error e) {
      row.put(RunsTable.STATUS, RunsTable.FAILED);
      row.put(RunsTable.ENDED_AT, micros(Instant.now()));
      row.put(RunsTable.END_STEP, startStep);
      row.put(RunsTable.ERROR, String.valueOf(e.getMessage()));
      try {
        append(engine, row);
      } catch (RuntimeException appendFailed) {
        e.addSuppressed(appendFailed);
      }
      throw e;
    }
    row.put(RunsTable.STATUS, result.stopReason().id());
    row.put(RunsTable.ENDED_AT, micros(Instant.now()));
    row.put(RunsTable.END_STEP, result.steps());
    row.put(RunsTable.TRAIN_LOSS, finite(result.trainLoss()));
    row.put(RunsTable.VAL_LOSS, finite(result.valLoss()));
    row.put(RunsTable.CHECKPOINT, result.checkpoint());
    row.put(RunsTable.CHECKPOINTS, dir == null ? null : written(dir, startStep));
    try {
      append(engine, row);
    } catch (RuntimeException e) {
      throw new IllegalStateException("the run ended (" + result.stopReason().id() + " at step "
          + result.steps() + ", checkpoint " + result.checkpoint() + ") but its row could not be"
          + " appended to the runs table " + location + ": " + e.getMessage()
          + "; --resume appends it without training further", e);
    }
    return result;
  }

  /** Creates the table with {@link #SCHEMA} unless it exists; refuses one of another schema. */
  void ensureTable(Engine engine) {
    Table t = Table.forPath(engine, location);
    try {
      checkSchema(t.getLatestSnapshot(engine));
      return;
    } catch (TableNotFoundException e) {
      // created below
    } catch (KernelException | UncheckedIOException e) {
      throw new IllegalStateException("cannot read the runs table " + location + ": "
          + e.getMessage() + "; set runs_table to another location", e);
    }
    try {
      t.createTransactionBuilder(engine, ENGINE_INFO, Operation.CREATE_TABLE)
          .withSchema(engine, SCHEMA).build(engine)
          .commit(engine, CloseableIterable.emptyIterable());
    } catch (RuntimeException e) {
      try { // another run may have created it in the meantime
        checkSchema(t.getLatestSnapshot(engine));
      } catch (RuntimeException stillMissing) {
        throw new IllegalStateException("cannot create the runs table " + location + ": "
            + e.getMessage() + "; set runs_table to a location this run can write", e);
      }
    }
  }

  private void checkSchema(Snapshot s) {
    if (!s.getSchema().equals(SCHEMA)) {
      throw new IllegalStateException("the runs table " + location + " has the schema "
          + s.getSchema() + ", not the runs registry's; set runs_table to another location");
    }
  }

  /** Appends {@code row} (column name to value) in one commit. */
  void append(Engine engine, Map<String, Object> row) {
    try {
      Transaction txn = Table.forPath(engine, location)
          .createTransactionBuilder(engine, ENGINE_INFO, Operation.WRITE).build(engine);
      Row state = txn.getTransactionState(engine);
      CloseableIterator<FilteredColumnarBatch> data = Utils.singletonCloseableIterator(
          new FilteredColumnarBatch(batch(row), java.util.Optional.empty()));
      CloseableIterator<FilteredColumnarBatch> physical =
          Transaction.transformLogicalData(engine, state, data, Map.of());
      DataWriteContext context = Transaction.getWriteContext(engine, state, Map.of());
      CloseableIterator<DataFileStatus> files = engine.getParquetHandler().writeParquetFiles(
          context.getTargetDirectory(), physical, context.getStatisticsColumns());
      CloseableIterator<Row> actions =
          Transaction.generateAppendActions(engine, state, files, context);
      TransactionCommitResult done =
          txn.commit(engine, CloseableIterable.inMemoryIterable(actions));
      // Kernel leaves its housekeeping to the writer: a checkpoint every tenth commit (and the
      // version checksum), so that readers of a registry of many runs replay few commits.
      for (PostCommitHook hook : done.getPostCommitHooks()) {
        try {
          hook.threadSafeInvoke(engine);
        } catch (IOException | RuntimeException e) {
          // the row is committed; a missing checkpoint only makes the next read longer
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write to the runs table " + location + ": "
          + e.getMessage(), e);
    }
  }

  /** One row of {@link #SCHEMA} from {@code row}; missing columns are null. */
  private static ColumnarBatch batch(Map<String, Object> row) {
    ColumnVector[] vectors = new ColumnVector[SCHEMA.length()];
    for (int i = 0; i < vectors.length; i++) {
      DataType type = SCHEMA.at(i).getDataType();
      Object v = row.get(SCHEMA.at(i).getName());
      if (v instanceof List<?> list) {
        v = VectorUtils.buildArrayValue(list, StringType.STRING);
      }
      vectors[i] = VectorUtils.buildColumnVector(Arrays.asList(v), type);
    }
    return new OneRow(vectors);
  }

  /** A batch of one row. */
  private record OneRow(ColumnVector[] vectors) implements ColumnarBatch {
    @Override
    public StructType getSchema() {
      return SCHEMA;
    }

    @Override
    public ColumnVector getColumnVector(int ordinal) {
      return vectors[ordinal];
    }

    @Override
    public int getSize() {
      return 1;
    }
  }

  /** The checkpoints after {@code startStep} still in {@code dir}: this run's, not pruned. */
  private static List<String> written(CheckpointDir dir, long startStep) {
    String first = dir.path(startStep); // names are zero-padded: they sort by step
    List<String> out = new ArrayList<>();
    for (String path : dir.list()) {
      if (path.compareTo(first) > 0) {
        out.add(path);
      }
    }
    return out;
  }

  private static Long micros(Instant t) {
    return ChronoUnit.MICROS.between(Instant.EPOCH, t);
  }

  private static Double finite(double v) {
    return Double.isFinite(v) ? v : null;
  }

  private static String host() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return null;
    }
  }
}
