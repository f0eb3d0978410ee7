package flashlm.data;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.schema.MessageType;

/**
 * One part of a classic Delta checkpoint: a parquet file with one action per row ({@code
 * protocol}, {@code metaData}, {@code add}, {@code remove}, {@code txn}, ...), each a nullable
 * struct column. Read with parquet's example Group API; checkpoints are small next to the data.
 */
final class DeltaCheckpoint {
  private DeltaCheckpoint() {}

  /** Applies the protocol, metaData and add rows of {@code part} to {@code state}. */
  static void read(Configuration conf, Path part, DeltaSnapshot.LogReplay state) throws IOException {
    String where = part.toString();
    try (ParquetFileReader reader = TokenBlock.open(conf, part)) {
      MessageType schema = reader.getFooter().getFileMetaData().getSchema();
      PageReadStore pages;
      long row = 0;
      while ((pages = reader.readNextRowGroup()) != null) {
        RecordReader<Group> records = new ColumnIOFactory().getColumnIO(schema)
            .getRecordReader(pages, new GroupRecordConverter(schema));
        for (long i = 0; i < pages.getRowCount(); i++, row++) {
          apply(records.read(), state, where + " row " + row);
        }
      }
    } catch (RuntimeException e) {
      if (e instanceof IllegalArgumentException) {
        throw e;
      }
      throw new IllegalArgumentException("Delta table " + state.table + ": cannot read checkpoint "
          + where + ": " + e, e);
    }
  }

  private static void apply(Group row, DeltaSnapshot.LogReplay state, String where) {
    if (has(row, "protocol")) {
      Group p = row.getGroup("protocol", 0);
      state.protocol(has(p, "minReaderVersion") ? p.getInteger("minReaderVersion", 0) : 1,
          has(p, "readerFeatures") ? list(p.getGroup("readerFeatures", 0)) : List.of(), where);
    }
    if (has(row, "metaData")) {
      Group m = row.getGroup("metaData", 0);
      state.metaData(has(m, "schemaString") ? m.getString("schemaString", 0) : null,
          has(m, "partitionColumns") ? list(m.getGroup("partitionColumns", 0)) : List.of(),
          has(m, "configuration") ? map(m.getGroup("configuration", 0)) : Map.of(), where);
    }
    if (has(row, "add")) {
      Group a = row.getGroup("add", 0);
      if (has(a, "deletionVector")) {
        throw state.deletionVectors(where);
      }
      state.add(a.getString("path", 0),
          has(a, "partitionValues") ? map(a.getGroup("partitionValues", 0)) : Map.of(),
          has(a, "size") ? a.getLong("size", 0) : 0, where);
    }
    // remove rows in a checkpoint are tombstones of files already absent from it: nothing to do
  }

  private static boolean has(Group g, String field) {
    return g.getType().containsField(field) && g.getFieldRepetitionCount(field) > 0;
  }

  /** A parquet LIST of strings (3-level, or the legacy 2-level form). */
  private static List<String> list(Group listGroup) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < listGroup.getFieldRepetitionCount(0); i++) {
      if (listGroup.getType().getType(0).isPrimitive()) {
        out.add(listGroup.getString(0, i));
      } else {
        Group e = listGroup.getGroup(0, i);
        out.add(e.getFieldRepetitionCount(0) > 0 ? e.getString(0, 0) : null);
      }
    }
    return out;
  }

  /** A parquet MAP of strings: repeated key_value { key; value }. */
  private static Map<String, String> map(Group mapGroup) {
    Map<String, String> out = new TreeMap<>();
    for (int i = 0; i < mapGroup.getFieldRepetitionCount(0); i++) {
      Group kv = mapGroup.getGroup(0, i);
      out.put(kv.getString(0, 0), kv.getFieldRepetitionCount(1) > 0 ? kv.getString(1, 0) : null);
    }
    return out;
  }
}
