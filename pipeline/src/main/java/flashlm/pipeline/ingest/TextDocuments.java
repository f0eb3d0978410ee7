package flashlm.pipeline.ingest;

import flashlm.fs.SerializableConfiguration;
import java.io.IOException;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The second pass over text files, in Spark tasks: streams each file through a {@link
 * TextSplitter} and yields one row per non-blank document, (source_file, source_offset,
 * source_split, text), the text stripped of surrounding whitespace. Rows are produced lazily, so a
 * task holds one document at a time whatever the file's size.
 */
final class TextDocuments implements FlatMapFunction<Iterator<SourceFile>, Row> {
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
  public Iterator<Row> call(Iterator<SourceFile> files) {
    return new Rows(files);
  }

  /** Iterates the documents of one file after another. */
  private final class Rows implements Iterator<Row> {
    private final Iterator<SourceFile> files;
    private SourceFile file;
    private TextSplitter splitter;
    private Row next;

    Rows(Iterator<SourceFile> files) {
      this.files = files;
    }

    @Override
    public boolean hasNext() {
      while (next == null) {
        if (splitter == null) {
          if (!files.hasNext()) {
            return false;
          }
          file = files.next();
          splitter = open(file);
        }
        if (!splitter.hasNext()) {
          splitter.closeQuietly();
          splitter = null;
          continue;
        }
        TextSplitter.Segment s = splitter.next();
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

    private TextSplitter open(SourceFile f) {
      Path path = new Path(f.getLocation());
      try {
        TextSplitter opened = new TextSplitter(f.getLocation(),
            path.getFileSystem(conf.get()).open(path, BUFFER), separator);
        TaskContext task = TaskContext.get();
        if (task != null) {
          // Closes the stream when the task ends early (a failure, a limit).
          task.addTaskCompletionListener(
              (org.apache.spark.util.TaskCompletionListener) ctx -> opened.closeQuietly());
        }
        return opened;
      } catch (IOException e) {
        throw new IngestException(f.getLocation() + ": cannot open: " + e.getMessage(), e);
      }
    }
  }
}
