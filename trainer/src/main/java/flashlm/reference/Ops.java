package flashlm.reference;

/**
 * The layers of the reference models as forward/backward pairs in double precision, plain loops.
 * Outputs first, inputs next, dimensions last; {@code x} is (N, C) row-major where N = B*T.
 * Backward functions add into the gradients of parameters and overwrite input gradients.
 */
final class Ops {
  /** Guards the weight scale mean|W| and the activation scale max|x| (BitNet b1.58). */
  static final double QUANT_EPS = 1e-5;

  private Ops() {}

  /** y = x / sqrt(mean(x^2) + eps) * w; rstd (N) is saved for the backward. */
  static void rmsnormForward(double[] y, double[] rstd, double[] x, double[] p, int wOff,
      int n, int c, double eps) {
    for (int i = 0; i < n; i++) {
      double ss = 0;
      for (int j = 0; j < c; j++) {
        double v = x[i * c + j];
        ss += v * v;
      }
      double r = 1.0 / Math.sqrt(ss / c + eps);
      rstd[i] = r;
      for (int j = 0; j < c; j++) {
        y[i * c + j] = x[i * c + j] * r * p[wOff + j];
      }
    }
  }

  /** dx = r*w*dy - x*r^3/C*sum(dy*w*x); dw += dy*x*r. */
  static void rmsnormBackward(double[] dx, double[] g, double[] dy, double[] x, double[] rstd,
      double[] p, int wOff, int n, int c) {
    for (int i = 0; i < n; i++) {
      double r = rstd[i];
      double dot = 0;
      for (int j = 0; j < c; j++) {
        dot += dy[i * c + j] * p[wOff + j] * x[i * c + j];
      }
      for (int j = 0; j < c; j++) {
        int k = i * c + j;
        g[wOff + j] += dy[k] * x[k] * r;
        dx[k] = r * p[wOff + j] * dy[k] - x[k] * r * r * r / c * dot;
      }
    }
  }

  /** The weight matrix W (out, in) at wOff, dequantized to s*clamp(round(W/s),-1,1) if ternary. */
  static double[] weights(double[] p, int wOff, int out, int in, boolean ternary) {
    double[] w = new double[out * in];
    System.arraycopy(p, wOff, w, 0, w.length);
    if (!ternary) {
      return w;
    }
    double s = 0;
    for (double v : w) {
      s += Math.abs(v);
    }
    s = Math.max(s / w.length, QUANT_EPS);
    for (int i = 0; i < w.length; i++) {
      w[i] = Math.max(-1, Math.min(1, Math.rint(w[i] / s))) * s;
    }
    return w;
  }

  /** Per-token absmax int8 activations, dequantized: clamp(round(x*127/g),-128,127)*g/127. */
  static double[] activations(double[] x, int n, int c, boolean ternary) {
    if (!ternary) {
      return x;
    }
    double[] q = new double[n * c];
    for (int i = 0; i < n; i++) {
      double gamma = 0;
      for (int j = 0; j < c; j++) {
        gamma = Math.max(gamma, Math.abs(x[i * c + j]));
      }
      gamma = Math.max(gamma, QUANT_EPS);
      for (int j = 0; j < c; j++) {
        double v = Math.max(-128, Math.min(127, Math.rint(x[i * c + j] * 127 / gamma)));
        q[i * c + j] = v * gamma / 127;
      }
    }
    return q;
  }

  /** y (N, out) = x (N, in) W^T with W (out, in). */
  static void matmulForward(double[] y, double[] x, double[] w, int n, int in, int out) {
    for (int i = 0; i < n; i++) {
      for (int o = 0; o < out; o++) {
        double acc = 0;
        for (int k = 0; k < in; k++) {
          acc += x[i * in + k] * w[o * in + k];
        }
        y[i * out + o] = acc;
      }
    }
  }

  /** dx (N, in) = dy W (may be null: skipped); dW[wOff] (out, in) += dy^T x. */
  static void matmulBackward(double[] dx, double[] g, int wOff, double[] dy, double[] x,
      double[] w, int n, int in, int out) {
    if (dx != null) {
      for (int i = 0; i < n; i++) {
        for (int k = 0; k < in; k++) {
          double acc = 0;
          for (int o = 0; o < out; o++) {
            acc += dy[i * out + o] * w[o * in + k];
          }
          dx[i * in + k] = acc;
        }
      }
    }
    for (int o = 0; o < out; o++) {
      for (int k = 0; k < in; k++) {
        double acc = 0;
        for (int i = 0; i < n; i++) {
          acc += dy[i * out + o] * x[i * in + k];
        }
        g[wOff + o * in + k] += acc;
      }
    }
  }

  static double silu(double x) {
    return x / (1 + Math.exp(-x));
  }

  /** d silu(x) / dx = sig(x) * (1 + x * (1 - sig(x))). */
  static double siluGrad(double x) {
    double s = 1 / (1 + Math.exp(-x));
    return s * (1 + x * (1 - s));
  }

  /**
   * Mean cross-entropy of logits (N, V) against targets; if dlogits is not null, writes
   * (softmax - onehot) / N into it.
   */
  static double crossEntropy(double[] dlogits, double[] logits, int[] targets, int n, int v) {
    double total = 0;
    for (int i = 0; i < n; i++) {
      double max = Double.NEGATIVE_INFINITY;
      for (int j = 0; j < v; j++) {
        max = Math.max(max, logits[i * v + j]);
      }
      double sum = 0;
      for (int j = 0; j < v; j++) {
        sum += Math.exp(logits[i * v + j] - max);
      }
      double lse = max + Math.log(sum);
      total += lse - logits[i * v + targets[i]];
      if (dlogits != null) {
        for (int j = 0; j < v; j++) {
          double pj = Math.exp(logits[i * v + j] - lse);
          dlogits[i * v + j] = (pj - (j == targets[i] ? 1 : 0)) / n;
        }
      }
    }
    return total / n;
  }
}
