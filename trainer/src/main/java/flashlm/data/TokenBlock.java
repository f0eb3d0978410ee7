package flashlm.data;

import flashlm.table.SequencesTable;
import flashlm.table.TokenPages;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.HadoopReadOptions;
import org.apache.parquet.ParquetReadOptions;
import org.apache.parquet.column.ColumnDescriptor;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.metadata.BlockMetaData;
import org.apache.parquet.hadoop.metadata.ParquetMetadata;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.io.InputFile;
import org.apache.parquet.io.SeekableInputStream;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Type;

/**
 * The unit of reading and shuffling: one parquet row group of one data file of the sequences
 * table. Its rows' {@code tokens} column is decoded page by page with parquet's decoders ({@link
 * TokenPages}; repetition level 0 starts a row), so no per-row objects are made. Rows that the
 * file's deletion vector deletes are decoded and left out.
 *
 * @param file the data file
 * @param rowGroup index of the row group in the file
 * @param firstRow index in the file of the row group's first row
 * @param groupRows rows in the row group (from the footer)
 * @param rows rows of the row group that are not deleted
 * @param shard the file's shard partition value
 * @param deleted the deleted row indexes of the whole file, ascending (shared by its blocks)
 * @param listed the file's footer and length as listed (shared by its blocks): reading a row
 *     group does not read the footer again
 */
record TokenBlock(Path file, int rowGroup, long firstRow, long groupRows, long rows, int shard,
    long[] deleted, Listed listed) {

  /** A data file's footer and its length when the footer was read. */
  record Listed(ParquetMetadata footer, long length) {}

  /**
   * Read options built from {@code conf}: without them parquet builds a fresh Hadoop
   * Configuration per file, which costs about 10 ms of XML parsing each time.
   */
  private static ParquetReadOptions options(Configuration conf, Path file) {
    return HadoopReadOptions.builder(conf, file).build();
  }

  /**
   * Opens the file with its footer known: the footer is not read again. A file whose length is
   * not the listed one is refused (data files are never rewritten in place; the listed footer's
   * offsets would not fit it).
   */
  private static ParquetFileReader open(Configuration conf, Path file, Listed listed,
      String where) throws IOException {
    InputFile input = HadoopInputFile.fromPath(file, conf);
    if (input.getLength() != listed.length()) {
      throw new IllegalArgumentException(where + ": the file is " + input.getLength()
          + " bytes, it was " + listed.length() + " when its footer was read (it changed since"
          + " it was listed?)");
    }
    SeekableInputStream in = input.newStream();
    try {
      return ParquetFileReader.open(input, listed.footer(), options(conf, file), in);
    } catch (IOException | RuntimeException e) {
      in.close();
      throw e;
    }
  }

  /**
   * The row groups of {@code file} that hold rows not in {@code deleted} (ascending row indexes of
   * the file), from its footer only.
   */
  static List<TokenBlock> of(Configuration conf, Path file, int shard, long[] deleted,
      String context) {
    try {
      InputFile input = HadoopInputFile.fromPath(file, conf);
      Listed listed;
      try (ParquetFileReader reader = ParquetFileReader.open(input, options(conf, file))) {
        listed = new Listed(reader.getFooter(), input.getLength());
      }
      List<TokenBlock> out = new ArrayList<>();
      List<BlockMetaData> groups = listed.footer().getBlocks();
      long first = 0;
      for (int i = 0; i < groups.size(); i++) {
        long n = groups.get(i).getRowCount();
        long live = n - (lowerBound(deleted, first + n) - lowerBound(deleted, first));
        if (live > 0) {
          out.add(new TokenBlock(file, i, first, n, live, shard, deleted, listed));
        }
        first += n;
      }
      if (deleted.length > 0 && deleted[deleted.length - 1] >= first) {
        throw new IllegalArgumentException(context + ": the deletion vector of " + file
            + " deletes row " + deleted[deleted.length - 1] + " of a file of " + first + " rows");
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
    try (ParquetFileReader reader = open(conf, file, listed, where)) {
      MessageType schema = listed.footer().getFileMetaData().getSchema();
      ColumnDescriptor column = tokensColumn(schema, where);
      MessageType projection =
          new MessageType(schema.getName(), schema.getType(SequencesTable.TOKENS));
      reader.setRequestedSchema(projection);
      PageReadStore pages = reader.readRowGroup(rowGroup);
      if (pages == null || pages.getRowCount() != groupRows) {
        throw new IllegalArgumentException(where + ": expected " + groupRows + " rows, found "
            + (pages == null ? 0 : pages.getRowCount())
            + " (the file changed since it was listed?)");
      }
      Rows rows = new Rows(where, width, out, offset);
      TokenPages.read(pages.getPageReader(column), column, rows, where);
      rows.end();
    } catch (IOException e) {
      throw new UncheckedIOException(where + ": " + e.getMessage(), e);
    }
  }

  /**
   * The row group's entries into {@code out}: a row of exactly {@code width} non-null ids each;
   * the rows the deletion vector deletes are decoded, neither checked nor copied.
   */
  private final class Rows implements TokenPages.Sink {
    private final String where;
    private final int width;
    private final int[] out;
    private int pos;
    private long row = -1;
    private int inRow;
    private int nextDeleted = lowerBound(deleted, firstRow);
    private boolean skip;

    Rows(String where, int width, int[] out, int offset) {
      this.where = where;
      this.width = width;
      this.out = out;
      this.pos = offset - width;
    }

    @Override
    public void rowStart() {
      if (row >= 0 && !skip && inRow != width) {
        throw badRow(where, row, inRow + " ids", width);
      }
      row++;
      inRow = 0;
      skip = nextDeleted < deleted.length && deleted[nextDeleted] == firstRow + row;
      if (skip) {
        nextDeleted++;
      } else {
        pos += width;
      }
    }

    @Override
    public void id(int id) {
      if (!skip && inRow < width) {
        out[pos + inRow] = id;
      }
      inRow++;
    }

    @Override
    public void hole() {
      if (!skip) {
        // null list, empty list or null element: all are malformed rows here
        throw badRow(where, row, "a null or empty value", width);
      }
      inRow++;
    }

    /** After the last entry: the last row's width and the row count. */
    void end() {
      if (row + 1 != groupRows || (row >= 0 && !skip && inRow != width)) {
        throw badRow(where, row, inRow + " ids (or " + (row + 1) + " rows of " + groupRows
            + ")", width);
      }
    }
  }

  /** The index of the first element of {@code sorted} at or above {@code key}. */
  private static int lowerBound(long[] sorted, long key) {
    int i = Arrays.binarySearch(sorted, key);
    if (i < 0) {
      return -i - 1;
    }
    while (i > 0 && sorted[i - 1] == key) {
      i--;
    }
    return i;
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
