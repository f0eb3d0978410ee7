package flashlm.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
}
