package flashlm.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class SamplerTest {
  private static final int DRAWS = 20_000;
  /** logits: token i has logit i / 2, so the most likely are the highest ids. */
  private static final float[] LOGITS = new float[20];

  static {
    for (int i = 0; i < LOGITS.length; i++) {
      LOGITS[i] = i / 2f;
    }
  }

  private static Set<Integer> drawn(Sampling s) {
    Sampler sampler = new Sampler(s);
    Set<Integer> seen = new TreeSet<>();
    for (int i = 0; i < DRAWS; i++) {
      seen.add(sampler.next(LOGITS, null));
    }
    return seen;
  }

  @Test
  void topKDrawsOnlyTheKMostLikelyAndAllOfThem() {
    assertEquals(Set.of(15, 16, 17, 18, 19), drawn(new Sampling(1.0, 5, 1.0, 1.0, 7L)));
  }

  @Test
  void topPDrawsOnlyTheSmallestSetReachingP() {
    // probabilities ~ e^(i/2): the top 4 hold 1 - e^-2 = 86.5% of the mass (of 20 tokens, the
    // rest is e^-2 (1 - e^-8) / ...); p = 0.8 needs exactly the top 4
    double[] p = new double[20];
    double total = 0;
    for (int i = 0; i < 20; i++) {
      p[i] = Math.exp(i / 2.0);
      total += p[i];
    }
    double top3 = (p[19] + p[18] + p[17]) / total;
    double top4 = top3 + p[16] / total;
    assertTrue(top3 < 0.8 && top4 >= 0.8, top3 + " " + top4);
    assertEquals(Set.of(16, 17, 18, 19), drawn(new Sampling(1.0, 0, 0.8, 1.0, 3L)));
  }

  @Test
  void topKThenTopPKeepsAtLeastOneToken() {
    assertEquals(Set.of(19), drawn(new Sampling(0.01, 3, 0.01, 1.0, 3L)));
  }

  @Test
  void aFixedSeedRepeatsItsDrawsAndAnotherSeedDoesNot() {
    Sampler a = new Sampler(new Sampling(1.5, 0, 1.0, 1.0, 42L));
    Sampler b = new Sampler(new Sampling(1.5, 0, 1.0, 1.0, 42L));
    Sampler c = new Sampler(new Sampling(1.5, 0, 1.0, 1.0, 43L));
    StringBuilder sa = new StringBuilder();
    StringBuilder sb = new StringBuilder();
    StringBuilder sc = new StringBuilder();
    for (int i = 0; i < 200; i++) {
      sa.append(a.next(LOGITS, null)).append(' ');
      sb.append(b.next(LOGITS, null)).append(' ');
      sc.append(c.next(LOGITS, null)).append(' ');
    }
    assertEquals(sa.toString(), sb.toString());
    assertNotEquals(sa.toString(), sc.toString());
  }

  @Test
  void greedyPicksTheLargestAndTheRepetitionPenaltyDemotesSeenTokens() {
    Sampler greedy = new Sampler(Sampling.greedy());
    assertEquals(19, greedy.next(LOGITS, null));
    boolean[] seen = new boolean[20];
    seen[19] = true;
    // 9.5 / 1.2 = 7.9 < 9.0 (token 18)
    assertEquals(18, new Sampler(new Sampling(0.0, 0, 1.0, 1.2, 1L)).next(LOGITS, seen));
    float[] negative = {-1f, -1.1f};
    boolean[] first = {true, false};
    // -1 * 1.2 = -1.2 < -1.1: a negative logit is multiplied
    assertEquals(1, new Sampler(new Sampling(0.0, 0, 1.0, 1.2, 1L)).next(negative, first));
  }
}
