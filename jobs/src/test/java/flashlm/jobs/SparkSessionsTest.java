package flashlm.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.Map;
import org.junit.jupiter.api.Test;

class SparkSessionsTest {
  @Test
  void embeddedSparkWithoutALoopbackLocalIpRunsWithoutItsUi() {
    assertEquals("false", SparkSessions.settings("a", "local[2]", null, false)
        .get("spark.ui.enabled"));
    assertEquals("false", SparkSessions.settings("a", "local[2]", "10.1.2.3", false)
        .get("spark.ui.enabled"));
  }

  @Test
  void embeddedSparkOnALoopbackLocalIpKeepsItsUi() {
    assertNull(SparkSessions.settings("a", "local[2]", "127.0.0.1", false)
        .get("spark.ui.enabled"));
  }

  @Test
  void aUserWhoSetsTheUiThemselvesDecides() {
    assertNull(SparkSessions.settings("a", "local[2]", null, true).get("spark.ui.enabled"));
  }

  @Test
  void clusterMastersKeepTheClustersUiSettings() {
    Map<String, String> conf = SparkSessions.settings("a", "yarn", null, false);
    assertFalse(conf.containsKey("spark.ui.enabled"));
    assertFalse(conf.containsKey("spark.driver.bindAddress"));
  }

  @Test
  void executorsGetTheOfflineFlagsOfTheBuild() {
    assertEquals(JvmFlags.offline(), SparkSessions.settings("a", "yarn", null, false)
        .get("spark.executor.extraJavaOptions"));
    assertEquals("-DOPT_OUT_TRACKING=true -Dai.djl.offline=true", JvmFlags.offline());
  }
}
