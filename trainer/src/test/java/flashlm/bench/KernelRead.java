package flashlm.bench;

import flashlm.table.SequencesTable;
import io.delta.kernel.Scan;
import io.delta.kernel.Snapshot;
import io.delta.kernel.Table;
import io.delta.kernel.data.ArrayValue;
import io.delta.kernel.data.ColumnVector;
import io.delta.kernel.data.ColumnarBatch;
import io.delta.kernel.data.FilteredColumnarBatch;
import io.delta.kernel.data.Row;
import io.delta.kernel.defaults.engine.DefaultEngine;
import io.delta.kernel.engine.Engine;
import io.delta.kernel.engine.FileReadResult;
import io.delta.kernel.internal.InternalScanFileUtils;
import io.delta.kernel.internal.util.Utils;
import io.delta.kernel.types.ArrayType;
import io.delta.kernel.types.IntegerType;
import io.delta.kernel.types.StructType;
import io.delta.kernel.utils.CloseableIterator;
import io.delta.kernel.utils.FileStatus;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;

/**
 * {@link SnapshotBench}'s other reader: every row's {@code tokens} through Delta Kernel's default
 * parquet reader and {@link Scan#transformPhysicalData}, copied into an {@code int[]} row as the
 * trainer's batches need them.
 */
final class KernelRead {
  private KernelRead() {}

  static void run(Configuration conf, String table, int run) throws IOException {
    long c0 = SnapshotBench.CPU.getCurrentThreadCpuTime();
    long t0 = System.nanoTime();
    Engine engine = DefaultEngine.create(conf);
    Snapshot snapshot = Table.forPath(engine, table).getLatestSnapshot(engine);
    StructType tokens = new StructType()
        .add(SequencesTable.TOKENS, new ArrayType(IntegerType.INTEGER, true));
    Scan scan = snapshot.getScanBuilder().withReadSchema(tokens).build();
    Row scanState = scan.getScanState(engine);
    List<Row> files = new ArrayList<>();
    try (CloseableIterator<FilteredColumnarBatch> batches = scan.getScanFiles(engine)) {
      while (batches.hasNext()) {
        try (CloseableIterator<Row> rows = batches.next().getRows()) {
          rows.forEachRemaining(files::add);
        }
      }
    }
    long t1 = System.nanoTime();
    long c1 = SnapshotBench.CPU.getCurrentThreadCpuTime();
    long rows = 0;
    long ids = 0;
    long checksum = 0;
    int[] row = new int[0];
    for (Row file : files) {
      FileStatus status = InternalScanFileUtils.getAddFileStatus(file);
      CloseableIterator<ColumnarBatch> physical = engine.getParquetHandler()
          .readParquetFiles(Utils.singletonCloseableIterator(status), tokens, Optional.empty())
          .map(FileReadResult::getData);
      try (CloseableIterator<FilteredColumnarBatch> data =
          Scan.transformPhysicalData(engine, scanState, file, physical)) {
        while (data.hasNext()) {
          FilteredColumnarBatch b = data.next();
          ColumnVector column = b.getData().getColumnVector(
              b.getData().getSchema().indexOf(SequencesTable.TOKENS));
          for (int i = 0; i < column.getSize(); i++) {
            if (b.getSelectionVector().isPresent() && !b.getSelectionVector().get().getBoolean(i)) {
              continue;
            }
            ArrayValue a = column.getArray(i);
            ColumnVector elements = a.getElements();
            if (row.length != a.getSize()) {
              row = new int[a.getSize()];
            }
            for (int j = 0; j < row.length; j++) {
              row[j] = elements.getInt(j);
            }
            checksum += row[0] + row[row.length - 1];
            ids += row.length;
            rows++;
          }
        }
      }
    }
    long t2 = System.nanoTime();
    long c2 = SnapshotBench.CPU.getCurrentThreadCpuTime();
    System.out.printf("run=%d version=%d open_ms=%.1f list_ms=0.0 read_ms=%.1f rows=%d"
        + " mb=%.1f checksum=%d open_cpu=%.1f list_cpu=0.0 read_cpu=%.1f%n", run,
        snapshot.getVersion(), (t1 - t0) / 1e6, (t2 - t1) / 1e6, rows, ids * 4 / 1e6, checksum,
        (c1 - c0) / 1e6, (c2 - c1) / 1e6);
  }
}
