package flashlm.report;

import flashlm.data.DeltaSnapshot;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.schema.GroupType;
import org.apache.parquet.schema.Type;

/**
 * The rows of an {@code evals} Delta table (written by {@code flashlm eval}), read with Delta
 * Kernel's file listing and parquet directly, as the trainer reads its tables: no Spark.
 */
final class EvalRows {
  private EvalRows() {}

  /** Every row as column name to value (String, Long, Integer, Double or null), by evaluated_at. */
  static List<Map<String, Object>> read(Configuration conf, String table) {
    List<Map<String, Object>> rows = new ArrayList<>();
    DeltaSnapshot snap = DeltaSnapshot.load(conf, table, null);
    for (DeltaSnapshot.DataFile f : snap.files()) {
      long index = -1;
      try (ParquetReader<Group> reader = ParquetReader.builder(new GroupReadSupport(), f.path())
          .withConf(conf).build()) {
        for (Group g = reader.read(); g != null; g = reader.read()) {
          index++;
          if (Arrays.binarySearch(f.deletedRows(), index) >= 0) {
            continue;
          }
          rows.add(values(g));
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + f.path() + ": " + e.getMessage(), e);
      }
    }
    rows.sort((a, b) -> String.valueOf(a.get("evaluated_at"))
        .compareTo(String.valueOf(b.get("evaluated_at"))));
    return rows;
  }

  private static Map<String, Object> values(Group g) {
    Map<String, Object> m = new LinkedHashMap<>();
    GroupType type = g.getType();
    for (int i = 0; i < type.getFieldCount(); i++) {
      Type t = type.getType(i);
      if (!t.isPrimitive() || g.getFieldRepetitionCount(i) == 0) {
        m.put(t.getName(), null);
        continue;
      }
      m.put(t.getName(), switch (t.asPrimitiveType().getPrimitiveTypeName()) {
        case INT64 -> g.getLong(i, 0);
        case INT32 -> g.getInteger(i, 0);
        case DOUBLE -> g.getDouble(i, 0);
        case FLOAT -> (double) g.getFloat(i, 0);
        case BOOLEAN -> g.getBoolean(i, 0);
        default -> g.getValueToString(i, 0);
      });
    }
    return m;
  }
}
