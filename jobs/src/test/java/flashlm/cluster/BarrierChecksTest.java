package flashlm.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import flashlm.config.ConfigException;
import flashlm.train.TrainConfig;
import java.time.Duration;
import java.util.Map;
import java.util.OptionalInt;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/** The refusals before a barrier stage, and the world size "auto" gives with accelerators. */
class BarrierChecksTest {
  @Test
  void dynamicAllocationIsRefusedNamingTheSetting() {
    ConfigException e = assertThrows(ConfigException.class, () -> BarrierChecks.checkSettings(
        new SparkConf(false).set("spark.dynamicAllocation.enabled", "true")));
    assertTrue(e.getMessage().contains("spark.dynamicAllocation.enabled=false"), e.getMessage());
    BarrierChecks.checkSettings(new SparkConf(false));
  }

  @Test
  void tooFewSlotsNameTheMasterOrTheExecutorSettings() {
    String local = BarrierChecks.slotsMessage("local[2]", true, 2, 3, 0, 1, Duration.ZERO);
    assertTrue(local.contains("distributed.world_size 3") && local.contains("--master local[3]"),
        local);
    String cluster = BarrierChecks.slotsMessage("spark://h:7077", false, 4, 8, 2, 2,
        Duration.ofSeconds(30));
    assertTrue(cluster.contains("2 executors run 4") && cluster.contains("spark.executor.cores")
        && cluster.contains("spark.task.cpus (2)"), cluster);
  }

  @Test
  void autoWithAcceleratorsIsOneRankPerAccelerator() {
    SparkConf conf = new SparkConf(false).set("spark.task.resource.gpu.amount", "1")
        .set("spark.executor.resource.gpu.amount", "4");
    assertEquals(OptionalInt.of(12), WorldSize.accelerators(conf, 3));
    conf.set("spark.task.resource.gpu.amount", "0.5");
    assertEquals(OptionalInt.of(24), WorldSize.accelerators(conf, 3));
    assertEquals(OptionalInt.empty(), WorldSize.accelerators(new SparkConf(false), 3));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> WorldSize.accelerators(new SparkConf(false).set("spark.task.resource.npu.amount",
            "1"), 2));
    assertTrue(e.getMessage().contains("spark.executor.resource.npu.amount"), e.getMessage());
  }

  @Test
  void theSubmitLineTurnsDynamicAllocationOffAndSizesTasksOnAClusterOnly() {
    TrainConfig.Distributed d = new TrainConfig.Distributed("4", 8, null, null, null);
    assertEquals(Map.of("spark.dynamicAllocation.enabled", "false", "spark.task.cpus", "8"),
        ClusterTraining.submitSettings(d, "yarn"));
    assertEquals(Map.of("spark.dynamicAllocation.enabled", "false"),
        ClusterTraining.submitSettings(d, "local[4]"));
    assertEquals("local[4]", ClusterTraining.localMaster(d));
  }
}
