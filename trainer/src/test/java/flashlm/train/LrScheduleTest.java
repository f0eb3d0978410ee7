package flashlm.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import flashlm.train.TrainConfig.Schedule;
import org.junit.jupiter.api.Test;

class LrScheduleTest {
  private static final double EXACT = 1e-12;

  @Test
  void wsdWarmsUpHoldsThenDecaysLinearly() {
    LrSchedule s = new LrSchedule(new Schedule(Schedule.Type.WSD, 4, 0.25, 0.0), 1.0, 100);
    assertEquals(0.25, s.lr(0, null), EXACT);
    assertEquals(1.0, s.lr(3, null), EXACT);
    assertEquals(1.0, s.lr(74, null), EXACT);
    assertEquals(1.0, s.lr(75, null), EXACT); // decay starts at 100 - 25
    assertEquals(0.52, s.lr(87, null), EXACT);
    assertEquals(0.04, s.lr(99, null), EXACT);
  }

  @Test
  void cosineFromPeakToMin() {
    LrSchedule s = new LrSchedule(new Schedule(Schedule.Type.COSINE, 0, null, 0.1), 1.0, 100);
    assertEquals(1.0, s.lr(0, null), EXACT);
    assertEquals(0.55, s.lr(50, null), EXACT);
    assertEquals(0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * 0.99)), s.lr(99, null), EXACT);
  }

  @Test
  void budgetWindowIsSizedFromThePaceAndDecaysFromTheCurrentRate() {
    LrSchedule wsd = new LrSchedule(new Schedule(Schedule.Type.WSD, 0, 0.2, 0.0), 2.0, 1000);
    LrSchedule.BudgetDecay w = wsd.budgetDecay(40); // 40 updates used 80%: 10 more fit in 20%
    assertEquals(new LrSchedule.BudgetDecay(40, 50, 2.0), w);
    assertEquals(2.0, wsd.lr(40, w), EXACT);
    assertEquals(1.0, wsd.lr(45, w), EXACT);
    assertEquals(0.2, wsd.lr(49, w), EXACT);
    assertEquals(1000, wsd.budgetDecay(999).end()); // never past max_steps

    LrSchedule cos = new LrSchedule(new Schedule(Schedule.Type.COSINE, 0, 0.5, 0.0), 1.0, 1000);
    LrSchedule.BudgetDecay c = cos.budgetDecay(7);
    assertEquals(14, c.end());
    double from = cos.lr(7, null);
    assertEquals(from, cos.lr(7, c), EXACT);
    assertEquals(from * 0.5 * (1 + Math.cos(Math.PI * 6 / 7)), cos.lr(13, c), EXACT);

    LrSchedule none = new LrSchedule(new Schedule(Schedule.Type.WSD, 0, 0.0, 0.0), 1.0, 1000);
    assertEquals(5, none.budgetDecay(5).end()); // no decay share: stop at the budget
  }
}
