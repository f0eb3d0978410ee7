package flashlm.pipeline.audit;

import flashlm.fs.SerializableConfiguration;
import flashlm.table.SequencesTable;
import flashlm.table.TokenPages;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.HadoopReadOptions;
import org.apache.parquet.column.ColumnDescriptor;
import org.apache.parquet.column.ColumnReader;
import org.apache.parquet.column.impl.ColumnReadStoreImpl;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.column.page.PageReader;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Type;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.broadcast.Broadcast;

/**
 * One data file of a sequences table version, its rows checked in one Spark task straight from
 * parquet's page decoders ({@link TokenPages}): the {@code tokens} ids in a tight loop (a row
 * starts at repetition level 0), no row objects and no shuffle. The task returns a small summary:
 * its rows, its {@code seq_index} range and sum, how many rows are not exactly {@code width}
 * non-null ids or hold an id outside {@code [0, vocab)}, and the first {@code sample} of each.
 */
final class RowScan implements Function<RowScan.Target, RowScan.FileRows> {
  private static final long serialVersionUID = 1L;

  /** A data file to scan, with its partition values from the Delta log. */
  record Target(String file, String split, int shard) implements Serializable {}

  /**
   * A row that failed a check.
   *
   * @param seqIndex its seq_index, or null when that is null
   * @param row its index in the file, from 0
   */
  record BadRow(String file, String split, int shard, Long seqIndex, long row)
      implements Serializable {
    /** Reports list bad rows in the table's order. */
    static final Comparator<BadRow> ORDER = Comparator.comparing(BadRow::split,
            Comparator.nullsFirst(Comparator.<String>naturalOrder()))
        .thenComparingInt(BadRow::shard)
        .thenComparing(BadRow::seqIndex, Comparator.nullsFirst(Comparator.naturalOrder()))
        .thenComparing(BadRow::file).thenComparingLong(BadRow::row);

    /** "FILE (split/shard seq_index N, row R of the file)". */
    String describe() {
      return file + " (" + split + "/" + shard + " seq_index " + seqIndex + ", row " + row
          + " of the file)";
    }
  }

  /**
   * What one file holds, as the checks need it.
   *
   * @param indexed rows whose seq_index is not null (the min, max and sum are theirs)
   * @param badWidth rows that are null, hold a null id or not exactly width ids
   * @param badId rows holding an id outside the vocabulary
   * @param widthRows the first bad-width rows, at most the sample
   * @param idRows the first bad-id rows, at most the sample
   */
  record FileRows(Target target, long rows, long indexed, long seqMin, long seqMax, long seqSum,
      long badWidth, long badId, List<BadRow> widthRows, List<BadRow> idRows)
      implements Serializable {}

  /**
   * Broadcast, not a field of its own: a task deserializes its function, and a Hadoop
   * configuration is about 100 KB and several ms to read back, per task.
   */
  private final Broadcast<SerializableConfiguration> conf;
  private final int width;
  private final int vocab;
  private final int sample;

  RowScan(Broadcast<SerializableConfiguration> conf, int width, int vocab, int sample) {
    this.conf = conf;
    this.width = width;
    this.vocab = vocab;
    this.sample = sample;
  }

  @Override
  public FileRows call(Target t) {
    return scan(conf.value().get(), t, width, vocab, sample);
  }

  /** Scans {@code t}'s rows. */
  static FileRows scan(Configuration conf, Target t, int width, int vocab, int sample) {
    Path path = new Path(t.file());
    // Read options from conf: without them parquet parses a fresh Hadoop Configuration per file.
    try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromPath(path, conf),
        HadoopReadOptions.builder(conf, path).build())) {
      MessageType schema = reader.getFooter().getFileMetaData().getSchema();
      ColumnDescriptor tokens = column(schema, SequencesTable.TOKENS, PrimitiveTypeName.INT32, 1,
          t.file());
      ColumnDescriptor index = column(schema, SequencesTable.SEQ_INDEX, PrimitiveTypeName.INT64,
          0, t.file());
      MessageType projection = new MessageType(schema.getName(),
          schema.getType(SequencesTable.SEQ_INDEX), schema.getType(SequencesTable.TOKENS));
      reader.setRequestedSchema(projection);
      String createdBy = reader.getFooter().getFileMetaData().getCreatedBy();
      Summary s = new Summary(t, width, vocab, sample);
      PageReadStore pages;
      while ((pages = reader.readNextRowGroup()) != null) {
        ColumnReadStoreImpl store = new ColumnReadStoreImpl(pages,
            new GroupRecordConverter(projection).getRootConverter(), projection, createdBy);
        s.rowGroup(store.getColumnReader(index), index.getMaxDefinitionLevel(),
            pages.getPageReader(tokens), tokens, pages.getRowCount());
      }
      return s.result();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + t.file() + ": " + e.getMessage(), e);
    }
  }

  /** The running summary of one file, fed the tokens column's entries in order. */
  private static final class Summary implements TokenPages.Sink {
    private final Target t;
    private final int width;
    private final int vocab;
    private final int sample;
    private long rows;
    private long indexed;
    private long seqMin = Long.MAX_VALUE;
    private long seqMax = Long.MIN_VALUE;
    private long seqSum;
    private long badWidth;
    private long badId;
    private final List<BadRow> widthRows = new ArrayList<>();
    private final List<BadRow> idRows = new ArrayList<>();
    /** The row group's seq_index column, one value a row. */
    private ColumnReader seq;
    private int seqDef;
    /** The current row: whether there is one, its seq_index, ids, and what is wrong with it. */
    private boolean inRow;
    private Long seqIndex;
    private int count;
    private boolean hole;
    private boolean outside;

    Summary(Target t, int width, int vocab, int sample) {
      this.t = t;
      this.width = width;
      this.vocab = vocab;
      this.sample = sample;
    }

    void rowGroup(ColumnReader seq, int seqDef, PageReader tokens, ColumnDescriptor column,
        long n) {
      this.seq = seq;
      this.seqDef = seqDef;
      long first = rows;
      try {
        TokenPages.read(tokens, column, this, t.file());
      } catch (IllegalArgumentException e) {
        throw new AuditException(e.getMessage(), e);
      }
      endRow();
      if (rows - first != n) {
        throw new AuditException(t.file() + ": a row group of " + n + " rows holds "
            + (rows - first) + " rows of " + SequencesTable.TOKENS);
      }
    }

    @Override
    public void rowStart() {
      endRow();
      inRow = true;
      seqIndex = null;
      if (seq.getCurrentDefinitionLevel() == seqDef) {
        long v = seq.getLong();
        seqIndex = v;
        indexed++;
        seqMin = Math.min(seqMin, v);
        seqMax = Math.max(seqMax, v);
        seqSum += v;
      }
      seq.consume();
      count = 0;
      hole = false;
      outside = false;
    }

    @Override
    public void id(int id) {
      count++;
      outside |= id < 0 || id >= vocab;
    }

    @Override
    public void hole() {
      hole = true;
    }

    private void endRow() {
      if (!inRow) {
        return;
      }
      if (hole || count != width) {
        badWidth++;
        keep(widthRows, seqIndex);
      }
      if (outside) {
        badId++;
        keep(idRows, seqIndex);
      }
      rows++;
      inRow = false;
    }

    /** Keeps the {@code sample} first bad rows in the table's order. */
    private void keep(List<BadRow> kept, Long seqIndex) {
      BadRow b = new BadRow(t.file(), t.split(), t.shard(), seqIndex, rows);
      if (kept.size() < sample) {
        kept.add(b);
      } else if (sample > 0 && BadRow.ORDER.compare(b, kept.get(sample - 1)) < 0) {
        kept.set(sample - 1, b);
      } else {
        return;
      }
      kept.sort(BadRow.ORDER);
    }

    FileRows result() {
      return new FileRows(t, rows, indexed, seqMin, seqMax, seqSum, badWidth, badId,
          List.copyOf(widthRows), List.copyOf(idRows));
    }
  }

  /**
   * The leaf column of {@code name} with the type and repetition the sequences table gives it
   * ({@code tokens}: a 3-level or legacy 2-level list of INT32; {@code seq_index}: INT64).
   */
  private static ColumnDescriptor column(MessageType schema, String name,
      PrimitiveTypeName type, int repetition, String file) {
    if (!schema.containsField(name)) {
      throw new AuditException(file + ": no column '" + name + "' in the parquet schema "
          + schema);
    }
    for (ColumnDescriptor c : schema.getColumns()) {
      if (c.getPath()[0].equals(name)) {
        Type leaf = schema.getType(c.getPath());
        if (leaf.isPrimitive() && leaf.asPrimitiveType().getPrimitiveTypeName() == type
            && c.getMaxRepetitionLevel() == repetition) {
          return c;
        }
      }
    }
    throw new AuditException(file + ": column '" + name + "' is not "
        + (repetition == 0 ? type : "a list of " + type) + " in the parquet schema " + schema);
  }
}
