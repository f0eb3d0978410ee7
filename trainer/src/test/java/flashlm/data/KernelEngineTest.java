package flashlm.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.delta.kernel.defaults.engine.DefaultEngine;
import io.delta.kernel.engine.Engine;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

class KernelEngineTest {
  @Test
  void theEngineHasDefaultHandlersAndNoMetricsReporter() {
    Configuration conf = new Configuration();
    Engine ours = KernelEngine.create(conf);
    Engine kernels = DefaultEngine.create(conf);
    assertTrue(ours.getMetricsReporters().isEmpty());
    assertEquals(1, kernels.getMetricsReporters().size(), "Kernel's default logs its metrics");
    assertEquals(kernels.getJsonHandler().getClass(), ours.getJsonHandler().getClass());
    assertEquals(kernels.getParquetHandler().getClass(), ours.getParquetHandler().getClass());
    assertEquals(kernels.getFileSystemClient().getClass(),
        ours.getFileSystemClient().getClass());
    assertEquals(kernels.getExpressionHandler().getClass(),
        ours.getExpressionHandler().getClass());
  }

  @Test
  void preloadStartsOneDaemonThread() throws Exception {
    Thread first = KernelEngine.preload();
    // another test of this JVM may have opened a table and started it already
    if (first != null) {
      assertTrue(first.isDaemon());
      first.join(60_000);
      assertFalse(first.isAlive());
    }
    assertNull(KernelEngine.preload());
  }

  @Test
  void everyPreloadedClassInitialises() {
    assertEquals(KernelEngine.preloaded().size(), KernelEngine.initialise());
  }
}
