package flashlm.data;

import flashlm.table.SequencesTable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.HadoopReadOptions;
import org.apache.parquet.column.ColumnDescriptor;
import org.apache.parquet.column.ColumnReader;
import org.apache.parquet.column.impl.ColumnReadStoreImpl;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.metadata.BlockMetaData;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Type;

/**
 * The unit of reading and shuffling: one parquet row group of one data file of the sequences
 * table. Its rows' {@code tokens} column is decoded straight from the column reader (repetition
 * level 0 starts a row), so no per-row objects are made.
 *
 * @param file the data file
 * @param rowGroup index of the row group in the file
 * @param rows rows in the row group (from the footer)
 * @param shard the file's shard partition value
 */
record TokenBlock(Path file, int rowGroup, long rows, int shard) {

  /**
   * Opens {@code file} with read options built from {@code conf}: without them parquet builds a
   * fresh Hadoop Configuration per file, which costs about 10 ms of XML parsing each time.
   */
  static ParquetFileReader open(Configuration conf, Path file) throws IOException {
    return ParquetFileReader.open(HadoopInputFile.fromPath(file, conf),
        HadoopReadOptions.builder(conf, file).build());
  }

  /** The row groups of {@code file}, from its footer only. */
  static List<TokenBlock> of(Configuration conf, Path file, int shard, String context) {
    try (ParquetFileReader reader = TokenBlock.open(conf, file)) {
      List<TokenBlock> out = new ArrayList<>();
      List<BlockMetaData> groups = reader.getRowGroups();
      for (int i = 0; i < groups.size(); i++) {
        if (groups.get(i).getRowCount() > 0) {
          out.add(new TokenBlock(file, i, groups.get(i).getRowCount(), shard));
        }
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(context + ": cannot read the parquet footer of " + file + ": "
          + e.getMessage(), e);
    }
  }

  /**
   * Reads this row group's {@code tokens} into {@code out} from {@code offset}: {@code rows x
   * width} ids, row-major.
   *
   * @throws IllegalArgumentException naming the file, row group and row when a row is null, holds
   *     a null id or does not hold exactly {@code width} ids
   */
  void read(Configuration conf, int width, int[] out, int offset, String context) {
    String where = context + ": " + file + " row group " + rowGroup;
    try (ParquetFileReader reader = TokenBlock.open(conf, file)) {
      MessageType schema = reader.getFooter().getFileMetaData().getSchema();
      ColumnDescriptor column = tokensColumn(schema, where);
      MessageType projection = new MessageType(schema.getName(), schema.getType(SequencesTable.TOKENS));
      reader.setRequestedSchema(projection);
      PageReadStore pages = reader.readRowGroup(rowGroup);
      if (pages == null || pages.getRowCount() != rows) {
        throw new IllegalArgumentException(where + ": expected " + rows + " rows, found "
            + (pages == null ? 0 : pages.getRowCount()) + " (the file changed since it was listed?)");
      }
      ColumnReader values = new ColumnReadStoreImpl(pages,
          new GroupRecordConverter(projection).getRootConverter(), projection,
          reader.getFooter().getFileMetaData().getCreatedBy()).getColumnReader(column);
      int maxDef = column.getMaxDefinitionLevel();
      long total = values.getTotalValueCount();
      long row = -1;
      int inRow = 0;
      int pos = offset - width;
      for (long i = 0; i < total; i++) {
        if (values.getCurrentRepetitionLevel() == 0) {
          if (row >= 0 && inRow != width) {
            throw badRow(where, row, inRow + " ids", width);
          }
          row++;
          inRow = 0;
          pos += width;
        }
        if (values.getCurrentDefinitionLevel() < maxDef) {
          // null list, empty list or null element: all are malformed rows here
          throw badRow(where, row, "a null or empty value", width);
        }
        if (inRow < width) {
          out[pos + inRow] = values.getInteger();
        }
        inRow++;
        values.consume();
      }
      if (row + 1 != rows || (row >= 0 && inRow != width)) {
        throw badRow(where, row, inRow + " ids (or " + (row + 1) + " rows of " + rows + ")", width);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(where + ": " + e.getMessage(), e);
    }
  }

  private static IllegalArgumentException badRow(String where, long row, String found, int width) {
    return new IllegalArgumentException(where + " row " + row + ": column " + SequencesTable.TOKENS
        + " holds " + found + ", expected exactly seq_len + 1 = " + width + " non-null ids");
  }

  /** The leaf INT32 column under {@code tokens} (3-level or legacy 2-level list). */
  private static ColumnDescriptor tokensColumn(MessageType schema, String where) {
    if (!schema.containsField(SequencesTable.TOKENS)) {
      throw new IllegalArgumentException(where + ": no column '" + SequencesTable.TOKENS
          + "' in the parquet schema " + schema);
    }
    for (ColumnDescriptor c : schema.getColumns()) {
      String[] path = c.getPath();
      if (path[0].equals(SequencesTable.TOKENS)) {
        Type leaf = schema.getType(path);
        if (leaf.isPrimitive()
            && leaf.asPrimitiveType().getPrimitiveTypeName() == PrimitiveTypeName.INT32
            && c.getMaxRepetitionLevel() == 1) {
          return c;
        }
      }
    }
    throw new IllegalArgumentException(where + ": column '" + SequencesTable.TOKENS
        + "' is not ARRAY<INT> in the parquet schema " + schema);
  }
}
