package flashlm.infer;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Chooses tokens from logits by a {@link Sampling}; one per generation (it holds the draws'
 * random stream). Ties go to the lower id. Probabilities are computed in double.
 */
public final class Sampler {
  private final Sampling s;
  private final SplittableRandom random;

  public Sampler(Sampling sampling) {
    this.s = sampling;
    this.random = new SplittableRandom(sampling.seed());
  }

  /**
   * The next token.
   *
   * @param logits the model's logits (vocab); not changed
   * @param seen tokens in the context, for the repetition penalty (null: none)
   */
  public int next(float[] logits, boolean[] seen) {
    int v = logits.length;
    double[] x = new double[v];
    double penalty = s.repetitionPenalty();
    for (int i = 0; i < v; i++) {
      double l = logits[i];
      if (seen != null && seen[i] && penalty != 1) {
        l = l > 0 ? l / penalty : l * penalty;
      }
      x[i] = l;
    }
    if (s.greedyChoice()) {
      return argmax(x);
    }
    int[] order = candidates(x);
    int n = order.length;
    double max = x[order[0]];
    double[] p = new double[n];
    double total = 0;
    for (int i = 0; i < n; i++) {
      p[i] = Math.exp((x[order[i]] - max) / s.temperature());
      total += p[i];
    }
    if (s.topP() < 1) { // order is by descending logit: keep the shortest prefix reaching top_p
      double cum = 0;
      int keep = 0;
      while (keep < n && cum < s.topP() * total) {
        cum += p[keep++];
      }
      n = Math.max(1, keep);
      total = cum;
    }
    double u = random.nextDouble() * total;
    for (int i = 0; i < n; i++) {
      u -= p[i];
      if (u < 0) {
        return order[i];
      }
    }
    return order[n - 1]; // rounding left u a hair above the last probability
  }

  /** Token ids by descending logit (ties: lower id first), the top_k first when it is set. */
  private int[] candidates(double[] x) {
    int v = x.length;
    int k = s.topK() > 0 ? Math.min(s.topK(), v) : v;
    long[] keys = new long[v];
    for (int i = 0; i < v; i++) {
      keys[i] = (long) sortable(x[i]) << 32 | (0xffffffffL - i);
    }
    Arrays.sort(keys);
    int[] order = new int[k];
    for (int i = 0; i < k; i++) {
      order[i] = (int) (0xffffffffL - (keys[v - 1 - i] & 0xffffffffL));
    }
    return order;
  }

  /** An int whose order is the order of the float value of x. */
  private static int sortable(double x) {
    int bits = Float.floatToIntBits((float) x);
    return bits >= 0 ? bits : bits ^ 0x7fffffff;
  }

  static int argmax(double[] x) {
    int best = 0;
    for (int i = 1; i < x.length; i++) {
      if (x[i] > x[best]) {
        best = i;
      }
    }
    return best;
  }
}
