package flashlm.data;

import io.delta.kernel.defaults.engine.DefaultEngine;
import io.delta.kernel.defaults.engine.DefaultJsonHandler;
import io.delta.kernel.engine.Engine;
import io.delta.kernel.engine.ExpressionHandler;
import io.delta.kernel.engine.FileSystemClient;
import io.delta.kernel.engine.JsonHandler;
import io.delta.kernel.engine.MetricsReporter;
import io.delta.kernel.engine.ParquetHandler;
import io.delta.kernel.internal.types.DataTypeJsonSerDe;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.column.values.bitpacking.Packer;
import org.apache.parquet.hadoop.metadata.ParquetMetadata;

/**
 * The Delta Kernel engine the trainer reads and writes its tables with: Kernel's default engine
 * (Hadoop file systems, Jackson for the log's JSON, parquet-mr for checkpoints and data files)
 * without its metrics reporter. That reporter serialises a JSON report of every snapshot and scan
 * with a second, shaded Jackson for an INFO line that this project's logging drops; on a cold JVM
 * it was about a tenth of a snapshot's open.
 */
public final class KernelEngine {
  private static final AtomicBoolean PRELOADING = new AtomicBoolean();

  private KernelEngine() {}

  /** Kernel's default engine over {@code conf}, reporting no metrics. */
  public static Engine create(Configuration conf) {
    return new Quiet(DefaultEngine.create(conf));
  }

  /**
   * Starts, once per JVM, a daemon thread that initialises the four libraries a first snapshot
   * needs and whose set-up does not depend on the table: Jackson (the log's JSON), Kernel's
   * shaded Jackson (the table schema), parquet's footer model and its bit-packing decoders (the
   * checkpoint). On a cold JVM that is most of a second of class loading on one core; the open
   * meanwhile starts Hadoop's file system on the other, and finds these ready or waits for the
   * class being initialised. A class whose initialisation fails here fails again, with its
   * error, where the open needs it.
   *
   * @return the thread, or null when an earlier call started it
   */
  static Thread preload() {
    if (!PRELOADING.compareAndSet(false, true)) {
      return null;
    }
    Thread t = new Thread(KernelEngine::initialise, "delta-kernel-preload");
    t.setDaemon(true);
    t.start();
    return t;
  }

  /** What {@link #preload} initialises, in the order the open needs them. */
  static List<String> preloaded() {
    return List.of(DefaultJsonHandler.class.getName(), ParquetMetadata.class.getName(),
        Packer.class.getName(), DataTypeJsonSerDe.class.getName());
  }

  /** Initialises {@link #preloaded}; returns how many initialised without an error. */
  static int initialise() {
    ClassLoader loader = KernelEngine.class.getClassLoader();
    int ok = 0;
    for (String name : preloaded()) {
      try {
        Class.forName(name, true, loader);
        ok++;
      } catch (ReflectiveOperationException | LinkageError e) {
        // the open initialises the class itself and reports its failure
      }
    }
    return ok;
  }

  /** Kernel's default engine's handlers, and no metrics reporters. */
  private record Quiet(Engine inner) implements Engine {
    @Override
    public ExpressionHandler getExpressionHandler() {
      return inner.getExpressionHandler();
    }

    @Override
    public JsonHandler getJsonHandler() {
      return inner.getJsonHandler();
    }

    @Override
    public FileSystemClient getFileSystemClient() {
      return inner.getFileSystemClient();
    }

    @Override
    public ParquetHandler getParquetHandler() {
      return inner.getParquetHandler();
    }

    @Override
    public List<MetricsReporter> getMetricsReporters() {
      return List.of();
    }
  }
}
