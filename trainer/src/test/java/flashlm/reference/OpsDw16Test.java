package flashlm.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link Ops#dw16}, the integer dW, over more tokens than one block: 600 tokens are blocks of 256,
 * 256 and 88, each quantised on its own.
 */
class OpsDw16Test {
  static final int N = 600;
  static final int IN = 5;
  static final int OUT = 3;

  /** Dequantised int8 activations: per token a scale g / 127 times integers with |q| <= 127. */
  static double[] int8Input(SplittableRandom r) {
    double[] x = new double[N * IN];
    for (int t = 0; t < N; t++) {
      double g = 0.1 + r.nextDouble() * 3;
      for (int k = 0; k < IN; k++) {
        x[t * IN + k] = r.nextInt(-127, 128) * g / 127;
      }
      x[t * IN + r.nextInt(IN)] = (r.nextBoolean() ? 127 : -127) * g / 127; // the absmax
    }
    return x;
  }

  static double[] gradient(SplittableRandom r) {
    double[] dy = new double[N * OUT];
    for (int i = 0; i < dy.length; i++) {
      dy[i] = r.nextGaussian();
    }
    dy[0] = 1e3; // an outlier in the first block: it must not coarsen the other blocks
    return dy;
  }

  /** dw16 over tokens [from, to) only, added into g. */
  static void dw16Over(double[] g, double[] dy, double[] x, int from, int to) {
    Ops.dw16(g, 0, Arrays.copyOfRange(dy, from * OUT, to * OUT),
        Arrays.copyOfRange(x, from * IN, to * IN), to - from, IN, OUT);
  }

  @Test
  void dw16QuantisesEachBlockOf256TokensOnItsOwn() {
    SplittableRandom r = new SplittableRandom(3);
    double[] x = int8Input(r);
    double[] dy = gradient(r);
    double[] whole = new double[OUT * IN];
    Ops.dw16(whole, 0, dy, x, N, IN, OUT);
    double[] blocks = new double[OUT * IN];
    dw16Over(blocks, dy, x, 0, 256);
    dw16Over(blocks, dy, x, 256, 512);
    dw16Over(blocks, dy, x, 512, N);
    assertArrayEquals(blocks, whole, 0, "blocks of 256 tokens in order, the last one shorter");
    double[] other = new double[OUT * IN];
    dw16Over(other, dy, x, 0, 300);
    dw16Over(other, dy, x, 300, N);
    assertFalse(Arrays.equals(other, whole), "blocks of 300 gave the same bits: not per block");
  }

  @Test
  void dw16IsWithinHalfAStepOfEachBlocksLargestValueOfTheExactProduct() {
    SplittableRandom r = new SplittableRandom(5);
    double[] x = int8Input(r);
    double[] dy = gradient(r);
    double[] got = new double[OUT * IN];
    Ops.dw16(got, 0, dy, x, N, IN, OUT);
    double[] exact = new double[OUT * IN];
    Ops.matmulBackward(null, exact, 0, dy, x, null, N, IN, OUT);
    // v = dy * s (s = the token's g / 127) is off by at most m / 32767 / 2 (m = the largest |v|
    // of its output in its block), so each product v * q with the int8 q by that times |q|
    double[] bound = new double[OUT * IN];
    for (int t0 = 0; t0 < N; t0 += 256) {
      int t1 = Math.min(N, t0 + 256);
      for (int o = 0; o < OUT; o++) {
        double m = 0;
        for (int t = t0; t < t1; t++) {
          m = Math.max(m, Math.abs(dy[t * OUT + o]) * scale(x, t));
        }
        for (int t = t0; t < t1; t++) {
          for (int k = 0; k < IN; k++) {
            bound[o * IN + k] += m / 32767 / 2 * Math.abs(x[t * IN + k] / scale(x, t));
          }
        }
      }
    }
    boolean differs = false;
    for (int i = 0; i < got.length; i++) {
      double d = Math.abs(got[i] - exact[i]);
      assertTrue(d <= bound[i] * (1 + 1e-9), "dW[" + i + "] off by " + d + " > " + bound[i]);
      differs |= d > 0;
    }
    assertTrue(differs, "dw16 gave the exact product: not quantised");
  }

  @Test
  void aBlockWhoseGradientIsZeroAddsNothing() {
    SplittableRandom r = new SplittableRandom(7);
    double[] x = int8Input(r);
    double[] dy = gradient(r);
    Arrays.fill(dy, 512 * OUT, N * OUT, 0);
    double[] whole = new double[OUT * IN];
    Ops.dw16(whole, 0, dy, x, N, IN, OUT);
    double[] first = new double[OUT * IN];
    dw16Over(first, dy, x, 0, 512);
    assertArrayEquals(first, whole, 0);
    assertEquals(0, Arrays.stream(whole).filter(Double::isNaN).count(), "no 0/0");
  }

  static double scale(double[] x, int t) {
    double m = 0;
    for (int k = 0; k < IN; k++) {
      m = Math.max(m, Math.abs(x[t * IN + k]));
    }
    return m / 127;
  }
}
