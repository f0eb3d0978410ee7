package flashlm.tests.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.pipeline.DatasetPaths;
import flashlm.pipeline.ingest.DocumentsTable;
import flashlm.pipeline.ingest.Ingest;
import flashlm.pipeline.ingest.IngestConfig;
import flashlm.tests.SparkTestSession;
import flashlm.tests.fixtures.TinyStoriesFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A large text file is read by several tasks, with document boundaries exactly as one task's. */
class IngestRangesTest {
  private static final String RANGE_CONF = "spark.sql.files.maxPartitionBytes";
  private static final Path VALIDATION =
      Path.of("src/test/resources/fixtures/tinystories/tinystories_validation_head_794KB.txt");

  @TempDir Path dir;

  @Test
  void aTextFileReadInManyRangesGivesTheSameDocumentsIdsAndOffsetsAsOneTask() throws Exception {
    SparkSession spark = SparkTestSession.get();
    Path in = Files.createDirectories(dir.resolve("in"));
    Files.writeString(in.resolve("stories.txt"), TinyStoriesFixture.train(256 << 10));
    // Paragraphs separated by blank lines, runs of newlines included: a separator that matches
    // itself overlapping, where a scan that starts mid-run would cut elsewhere.
    Files.writeString(in.resolve("paragraphs.txt"), Files.readString(VALIDATION)
        .substring(0, 200_000).replace("\n\n", "\n\n\n"));
    for (String separator : List.of(TinyStoriesFixture.SEPARATOR, "\n\n")) {
      String file = separator.equals("\n\n") ? "paragraphs.txt" : "stories.txt";
      IngestConfig config = IngestConfig.defaults()
          .withFiles(List.of(in.resolve(file).toString()))
          .withSeparator(separator);
      DatasetPaths oneTask = new DatasetPaths(dir.resolve("one-" + file).toString());
      DatasetPaths ranges = new DatasetPaths(dir.resolve("ranges-" + file).toString());
      int oneTaskMax = ingest(spark, oneTask, config, null);
      int rangesMax = ingest(spark, ranges, config, "16k");

      assertTrue(oneTaskMax <= 2, "one file, one task by default (128 MiB ranges)");
      assertTrue(rangesMax >= 8, "tasks reading the file: " + rangesMax);
      List<Row> want = documents(spark, oneTask);
      List<Row> got = documents(spark, ranges);
      assertTrue(want.size() > 100, "documents: " + want.size());
      assertEquals(want.size(), got.size(), separator);
      for (int i = 0; i < want.size(); i++) {
        assertEquals(want.get(i), got.get(i), file + " document " + i);
      }
    }
  }

  /** Ingests with {@code rangeBytes} per task (null: the default); returns the most tasks. */
  private static int ingest(SparkSession spark, DatasetPaths paths, IngestConfig config,
      String rangeBytes) throws Exception {
    MostTasks listener = new MostTasks();
    spark.sparkContext().addSparkListener(listener);
    if (rangeBytes != null) {
      spark.conf().set(RANGE_CONF, rangeBytes);
    }
    try {
      // Delta's own jobs run 1 or 2 tasks here: the most tasks are the read's.
      Ingest.run(spark, paths, config);
      spark.sparkContext().listenerBus().waitUntilEmpty();
      return listener.most.get();
    } finally {
      spark.conf().unset(RANGE_CONF);
      spark.sparkContext().removeSparkListener(listener);
    }
  }

  /** The most tasks of any stage submitted while it listens. */
  private static final class MostTasks extends SparkListener {
    final AtomicInteger most = new AtomicInteger();

    @Override
    public void onStageSubmitted(SparkListenerStageSubmitted e) {
      most.accumulateAndGet(e.stageInfo().numTasks(), Math::max);
    }
  }

  private static List<Row> documents(SparkSession spark, DatasetPaths paths) {
    return spark.read().format("delta").load(paths.documents())
        .select(DocumentsTable.DOC_ID, DocumentsTable.SOURCE_FILE, DocumentsTable.SOURCE_OFFSET,
            DocumentsTable.TEXT)
        .orderBy(DocumentsTable.SOURCE_OFFSET)
        .collectAsList();
  }
}
