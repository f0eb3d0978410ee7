package flashlm.pipeline.ingest;

import flashlm.fs.SerializableConfiguration;
import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The second pass over text files, in Spark tasks: streams each byte range of a file ({@link
 * TextRange}: a large file is read by several tasks) through a {@link TextSplitter} and yields one
 * row per non-blank document that starts in it, (source_file, source_offset, source_split, text),
 * the text stripped of surrounding whitespace. Rows are produced lazily, so a task holds one
 * document at a time whatever the range's size.
 */
final class TextDocuments implements FlatMapFunction<Iterator<TextRange>, Row> {
  private static final long serialVersionUID = 1L;
  private static final int BUFFER = 1 << 20;

  /** The rows' schema. */
  static final StructType SCHEMA = new StructType()
      .add(DocumentsTable.SOURCE_FILE, DataTypes.StringType, false)
      .add(DocumentsTable.SOURCE_OFFSET, DataTypes.LongType, false)
      .add(DocumentsTable.SOURCE_SPLIT, DataTypes.StringType, true)
      .add(DocumentsTable.TEXT, DataTypes.StringType, false);

  private final SerializableConfiguration conf;
  private final String separator;

  TextDocuments(SerializableConfiguration conf, String separator) {
    this.conf = conf;
    this.separator = separator;
  }

  @Override
  public Iterator<Row> call(Iterator<TextRange> ranges) {
    return new Rows(ranges);
  }

  /** Iterates the documents of one range after another. */
  private final class Rows implements Iterator<Row> {
    private final Iterator<TextRange> ranges;
    private SourceFile file;
    private Iterator<TextSplitter.Segment> segments;
    private Row next;

    Rows(Iterator<TextRange> ranges) {
      this.ranges = ranges;
    }

    @Override
    public boolean hasNext() {
      while (next == null) {
        if (segments == null) {
          if (!ranges.hasNext()) {
            return false;
          }
          TextRange range = ranges.next();
          file = range.file();
          segments = open(range);
        }
        if (!segments.hasNext()) {
          segments = null; // the range's iterator closed its stream
          continue;
        }
        TextSplitter.Segment s = segments.next();
        String text = s.text().strip();
        if (!text.isEmpty()) {
          next = RowFactory.create(file.getPath(), s.offset(), file.getSplit(), text);
        }
      }
      return true;
    }

    @Override
    public Row next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      Row r = next;
      next = null;
      return r;
    }

    private Iterator<TextSplitter.Segment> open(TextRange range) {
      SourceFile f = range.file();
      Path path = new Path(f.getLocation());
      List<Closeable> opened = new ArrayList<>();
      TaskContext task = TaskContext.get();
      if (task != null) {
        // Closes the streams when the task ends early (a failure, a limit).
        task.addTaskCompletionListener(
            (org.apache.spark.util.TaskCompletionListener) ctx -> closeAll(opened));
      }
      try {
        FileSystem fs = path.getFileSystem(conf.get());
        return range.segments(offset -> {
          FSDataInputStream in = fs.open(path, BUFFER);
          opened.add(in);
          in.seek(offset);
          return in;
        }, separator);
      } catch (IOException e) {
        throw new IngestException(f.getLocation() + ": cannot open: " + e.getMessage(), e);
      }
    }
  }

  private static void closeAll(List<Closeable> streams) {
    for (Closeable c : streams) {
      try {
        c.close();
      } catch (IOException e) {
        // the task is over: a stream that fails to close holds nothing it still needs
      }
    }
  }
}
