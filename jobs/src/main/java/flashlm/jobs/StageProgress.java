package flashlm.jobs;

import java.io.PrintStream;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.executor.TaskMetrics;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
import org.apache.spark.sql.SparkSession;

/**
 * Progress of the Spark stages on the console (ingest, tokenize, train-tokenizer, eval): a line
 * every {@link #EVERY_MILLIS} while a stage runs and one when it ends (stages shorter than
 * {@link #QUIET_MILLIS} say nothing: Delta's own small jobs), each with the job's description,
 * tasks done of all, rows and bytes read and written so far (input and shuffle), the elapsed
 * time and an ETA from the tasks still to run at the pace of those done.
 *
 * <pre>
 * spark: tokenize: encode, pack and count (stage 7): 6/8 tasks, 412,310 rows 25.3 MB in,
 *     2,019 rows 4.1 MB out, 12s, eta 4s
 * </pre>
 */
final class StageProgress extends SparkListener {
  static final long EVERY_MILLIS = 10_000;
  static final long QUIET_MILLIS = 2_000;
  /** Applications already reporting (one listener per SparkContext). */
  private static final Set<String> ATTACHED = ConcurrentHashMap.newKeySet();

  private final PrintStream out;
  private final Map<Integer, Stage> stages = new HashMap<>();

  private static final class Stage {
    final String name;
    final int tasks;
    final long start = System.currentTimeMillis();
    long lastLine = start;
    int done;
    long rowsIn;
    long bytesIn;
    long rowsOut;
    long bytesOut;

    Stage(String name, int tasks) {
      this.name = name;
      this.tasks = tasks;
    }
  }

  StageProgress(PrintStream out) {
    this.out = out;
  }

  /** Adds a listener to {@code spark}'s context, once per application. */
  static void attach(SparkSession spark, PrintStream out) {
    if (ATTACHED.add(spark.sparkContext().applicationId())) {
      spark.sparkContext().addSparkListener(new StageProgress(out));
    }
  }

  @Override
  public void onStageSubmitted(SparkListenerStageSubmitted e) {
    StageInfo info = e.stageInfo();
    String job = e.properties() == null ? null
        : e.properties().getProperty("spark.job.description");
    stages.put(info.stageId(), new Stage((job != null ? job : info.name()) + " (stage "
        + info.stageId() + ")", info.numTasks()));
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd e) {
    Stage s = stages.get(e.stageId());
    TaskMetrics m = e.taskMetrics();
    if (s == null || m == null) {
      return;
    }
    s.done++;
    s.rowsIn += m.inputMetrics().recordsRead() + m.shuffleReadMetrics().recordsRead();
    s.bytesIn += m.inputMetrics().bytesRead() + m.shuffleReadMetrics().totalBytesRead();
    s.rowsOut += m.outputMetrics().recordsWritten() + m.shuffleWriteMetrics().recordsWritten();
    s.bytesOut += m.outputMetrics().bytesWritten() + m.shuffleWriteMetrics().bytesWritten();
    long now = System.currentTimeMillis();
    if (now - s.lastLine >= EVERY_MILLIS && s.done < s.tasks) {
      line(s, now, true);
    }
  }

  @Override
  public void onStageCompleted(SparkListenerStageCompleted e) {
    Stage s = stages.remove(e.stageInfo().stageId());
    long now = System.currentTimeMillis();
    if (s != null && now - s.start >= QUIET_MILLIS) {
      line(s, now, false);
    }
  }

  private void line(Stage s, long now, boolean running) {
    double secs = (now - s.start) / 1e3;
    String eta = running && s.done > 0
        ? ", eta " + duration(secs / s.done * (s.tasks - s.done)) : running ? "" : ", done";
    out.printf(Locale.ROOT, "spark: %s: %d/%d tasks, %,d rows %s in, %,d rows %s out, %s%s%n",
        s.name, s.done, s.tasks, s.rowsIn, bytes(s.bytesIn), s.rowsOut, bytes(s.bytesOut),
        duration(secs), eta);
    out.flush();
    s.lastLine = now;
  }

  static String bytes(long b) {
    return b < 1 << 20 ? String.format(Locale.ROOT, "%.1f KB", b / 1024.0)
        : b < 1L << 30 ? String.format(Locale.ROOT, "%.1f MB", b / 1048576.0)
        : String.format(Locale.ROOT, "%.2f GB", b / 1073741824.0);
  }

  static String duration(double seconds) {
    long s = Math.round(seconds);
    return s < 60 ? s + "s" : s < 3600 ? String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60)
        : String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
  }
}
