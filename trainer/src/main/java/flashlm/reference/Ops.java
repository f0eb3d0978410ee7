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
      matmulDx(dx, dy, w, n, in, out);
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

  /** dx (N, in) = dy (N, out) W (out, in). */
  static void matmulDx(double[] dx, double[] dy, double[] w, int n, int in, int out) {
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

  /**
   * The integer dX of BitLinears (the native default, model.backward_dx int16): dx (N, in) =
   * sum_j dy_j W_j over linears j stacked along their outputs (q, k, v share one), each W_j a
   * dequantized ternary weight s_j * sign. Per token, v = (dy_j * s_j over all j and outputs) is
   * quantised to q = round(v * 32767 / m) with m = max|v| (round half to even), and dx = m / 32767
   * * sum q sign(W). A token whose v are all zero gets dx 0. In double, so it agrees with the
   * native float version up to the rounding of v and of its q at a half step.
   */
  static void dx16(double[] dx, double[][] dys, double[][] ws, int[] outs, int n, int in) {
    double[] s = new double[ws.length];
    for (int j = 0; j < ws.length; j++) {
      for (double w : ws[j]) {
        s[j] = Math.max(s[j], Math.abs(w)); // every nonzero weight is +-s
      }
    }
    for (int i = 0; i < n; i++) {
      double m = 0;
      for (int j = 0; j < dys.length; j++) {
        for (int o = 0; o < outs[j]; o++) {
          m = Math.max(m, Math.abs(dys[j][i * outs[j] + o] * s[j]));
        }
      }
      for (int k = 0; k < in; k++) {
        dx[i * in + k] = 0;
      }
      if (m == 0) {
        continue;
      }
      for (int j = 0; j < dys.length; j++) {
        for (int o = 0; o < outs[j]; o++) {
          double q = Math.rint(dys[j][i * outs[j] + o] * s[j] * 32767 / m);
          for (int k = 0; k < in; k++) {
            dx[i * in + k] += q * Math.signum(ws[j][o * in + k]);
          }
        }
      }
      for (int k = 0; k < in; k++) {
        dx[i * in + k] *= m / 32767;
      }
    }
  }

  /** Tokens per block of the integer dW (flashlm.h FL_DW16_TOKENS). */
  static final int DW16_TOKENS = 256;

  /**
   * The integer dW of a BitLinear (the native default, model.backward_dw int16): g[wOff..] (out,
   * in) += dy^T x for x (N, in) the dequantized int8 input (per token {@code q * g / 127} with
   * {@code |q| <= 127} and g the token's absmax, recovered from x). Over blocks of {@link
   * #DW16_TOKENS} tokens in order: per output o, v = dy[t,o] * g_t / 127 is quantised to
   * round(v * 32767 / m) with m = max|v| over the block (round half to even; a block where m is
   * 0 adds nothing), and m / 32767 * sum_t round(..) q[t,k] is added. In double, so it agrees with
   * the native float version up to the rounding of v and of its q at a half step.
   */
  static void dw16(double[] g, int wOff, double[] dy, double[] x, int n, int in, int out) {
    double[] scale = new double[n];
    int[] q = new int[n * in];
    for (int i = 0; i < n; i++) {
      double m = 0;
      for (int k = 0; k < in; k++) {
        m = Math.max(m, Math.abs(x[i * in + k]));
      }
      scale[i] = m / 127; // the absmax element is +-127 steps exactly
      for (int k = 0; k < in && m > 0; k++) {
        q[i * in + k] = (int) Math.rint(x[i * in + k] / scale[i]);
      }
    }
    for (int t0 = 0; t0 < n; t0 += DW16_TOKENS) {
      int t1 = Math.min(n, t0 + DW16_TOKENS);
      for (int o = 0; o < out; o++) {
        double m = 0;
        for (int i = t0; i < t1; i++) {
          m = Math.max(m, Math.abs(dy[i * out + o] * scale[i]));
        }
        if (m == 0) {
          continue;
        }
        for (int k = 0; k < in; k++) {
          long acc = 0;
          for (int i = t0; i < t1; i++) {
            acc += (long) Math.rint(dy[i * out + o] * scale[i] * 32767 / m) * q[i * in + k];
          }
          g[wOff + o * in + k] += acc * (m / 32767);
        }
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
