package flashlm.dist;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * The allreduce check shared by the thread and process tests: rank r's input element i is a
 * fixed function of (r, i, seed), so each rank can compute the float64 reference of the mean by
 * itself, and a 64-bit hash of the result's bits tells runs and ranks apart.
 */
public final class AllreduceCase {
  /**
   * fp32 unit roundoff. The ring's mean is fl(fl(sum of w terms) * fl(1/w)): each term of the
   * sum and the two roundings of the scaling err by at most this much of their size, so the
   * result is within (w + 1) * u * sum|x_r| / w of the exact mean.
   */
  public static final double UNIT_ROUNDOFF = 0x1p-24;

  private AllreduceCase() {}

  /** Element i of rank r: values of both signs over four binary orders of magnitude. */
  public static float input(int rank, long i, long seed) {
    long h = mix(seed * 0x9E3779B97F4A7C15L + rank * 0xBF58476D1CE4E5B9L + i);
    float unit = ((h >>> 40) / (float) (1 << 24)) * 2f - 1f;
    return unit * (1 << (int) (h & 3));
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** Rank r's input of n floats, in a direct buffer as the ring wants. */
  public static FloatBuffer inputs(int rank, int n, long seed) {
    FloatBuffer b = ByteBuffer.allocateDirect(n * Float.BYTES).order(ByteOrder.nativeOrder())
        .asFloatBuffer();
    for (int i = 0; i < n; i++) {
      b.put(i, input(rank, i, seed));
    }
    return b;
  }

  /** FNV-1a over the floats' raw bits. */
  public static long hash(FloatBuffer x) {
    long h = 0xcbf29ce484222325L;
    for (int i = 0; i < x.capacity(); i++) {
      h = (h ^ Float.floatToRawIntBits(x.get(i))) * 0x100000001b3L;
    }
    return h;
  }

  /**
   * Null when x is the mean over {@code world} ranks' inputs within fp32 rounding; otherwise the
   * number of elements off, the largest difference and the first ones.
   */
  public static String check(FloatBuffer x, int world, long seed) {
    int bad = 0;
    double worst = 0;
    StringBuilder first = new StringBuilder();
    for (int i = 0; i < x.capacity(); i++) {
      double sum = 0;
      double abs = 0;
      for (int r = 0; r < world; r++) {
        double v = input(r, i, seed);
        sum += v;
        abs += Math.abs(v);
      }
      double diff = Math.abs(x.get(i) - sum / world);
      double bound = (world + 1) * UNIT_ROUNDOFF * abs / world;
      worst = Math.max(worst, diff);
      if (!(diff <= bound)) {
        if (bad++ < 3) {
          first.append(String.format(" [%d] %s vs %s (bound %.3g)", i, x.get(i), sum / world,
              bound));
        }
      }
    }
    return bad == 0 ? null : bad + " of " + x.capacity() + " elements off the float64 mean, max"
        + " difference " + worst + ", first:" + first;
  }
}
