package flashlm.pipeline.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class LineageChainTest {
  private static Lineage.Segment run(String id, String status, long from, long to, long version) {
    return new Lineage.Segment(id, status, null, null, from, to, "t", version, "train",
        "validation", null, null, "d", null);
  }

  @Test
  void aCheckpointsRunsAreFollowedBackThroughResumesLeavingOutAbandonedAndFailedOnes() {
    Lineage.Segment a = run("a", "max_steps", 0, 100, 0);
    Lineage.Segment abandoned = run("b", "signal", 100, 160, 0);
    Lineage.Segment failed = run("c", "failed", 100, 100, 1);
    Lineage.Segment resumed = run("d", "max_steps", 100, 200, 1); // restarted from step 100
    List<Lineage.Segment> runs = List.of(a, abandoned, failed, resumed);

    assertEquals(List.of(a, resumed), Lineage.chain(runs, 200));
    assertEquals(List.of(a, resumed), Lineage.chain(runs, 150));
    assertEquals(List.of(a), Lineage.chain(runs, 100));
    assertEquals(List.of(), Lineage.chain(runs, 300));
  }
}
