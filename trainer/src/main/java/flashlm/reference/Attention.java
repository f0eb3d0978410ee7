package flashlm.reference;

import flashlm.model.ModelSpec;

/**
 * RoPE then causal multi-head softmax attention, double precision, forward and backward.
 * q, k, v are (B, T, C) with head h in columns [h*hd, (h+1)*hd). RoPE rotates the interleaved
 * pairs (x[2i], x[2i+1]) of each head by angle pos * theta^(-2i/hd). Scores are scaled by
 * 1/sqrt(hd).
 */
final class Attention {
  private final int b;
  private final int t;
  private final int c;
  private final int nh;
  private final int hd;
  private final double[] cos; // (T, hd/2)
  private final double[] sin; // (T, hd/2)
  private double[] qr; // (B, T, C) rotated
  private double[] kr; // (B, T, C) rotated
  private double[] v; // (B, T, C)
  private double[] p; // (B, H, T, T) softmax probabilities, zero above the diagonal

  Attention(ModelSpec spec, int batch) {
    b = batch;
    t = spec.seqLen();
    c = spec.dModel();
    nh = spec.nHeads();
    hd = spec.headDim();
    cos = new double[t * hd / 2];
    sin = new double[t * hd / 2];
    for (int pos = 0; pos < t; pos++) {
      for (int i = 0; i < hd / 2; i++) {
        double angle = pos * Math.pow(spec.ropeTheta(), -2.0 * i / hd);
        cos[pos * hd / 2 + i] = Math.cos(angle);
        sin[pos * hd / 2 + i] = Math.sin(angle);
      }
    }
  }

  /** out (B, T, C): rotates q and k, attends causally over v. */
  double[] forward(double[] q, double[] k, double[] v) {
    qr = rope(q, false);
    kr = rope(k, false);
    this.v = v;
    p = new double[b * nh * t * t];
    double[] out = new double[b * t * c];
    double scale = 1.0 / Math.sqrt(hd);
    for (int bi = 0; bi < b; bi++) {
      for (int h = 0; h < nh; h++) {
        for (int i = 0; i < t; i++) {
          int pRow = ((bi * nh + h) * t + i) * t;
          int qi = (bi * t + i) * c + h * hd;
          double max = Double.NEGATIVE_INFINITY;
          for (int j = 0; j <= i; j++) {
            int kj = (bi * t + j) * c + h * hd;
            double s = 0;
            for (int d = 0; d < hd; d++) {
              s += qr[qi + d] * kr[kj + d];
            }
            p[pRow + j] = s * scale;
            max = Math.max(max, p[pRow + j]);
          }
          double sum = 0;
          for (int j = 0; j <= i; j++) {
            p[pRow + j] = Math.exp(p[pRow + j] - max);
            sum += p[pRow + j];
          }
          for (int j = 0; j <= i; j++) {
            p[pRow + j] /= sum;
            int vj = (bi * t + j) * c + h * hd;
            for (int d = 0; d < hd; d++) {
              out[qi + d] += p[pRow + j] * v[vj + d];
            }
          }
        }
      }
    }
    return out;
  }

  /** {dq, dk, dv} (each B, T, C; dq and dk before the rotation) from dout (B, T, C). */
  double[][] backward(double[] dout) {
    double[] dqr = new double[b * t * c];
    double[] dkr = new double[b * t * c];
    double[] dv = new double[b * t * c];
    double scale = 1.0 / Math.sqrt(hd);
    double[] dp = new double[t];
    for (int bi = 0; bi < b; bi++) {
      for (int h = 0; h < nh; h++) {
        for (int i = 0; i < t; i++) {
          int pRow = ((bi * nh + h) * t + i) * t;
          int qi = (bi * t + i) * c + h * hd;
          double dot = 0;
          for (int j = 0; j <= i; j++) {
            int vj = (bi * t + j) * c + h * hd;
            double s = 0;
            for (int d = 0; d < hd; d++) {
              s += dout[qi + d] * v[vj + d];
              dv[vj + d] += p[pRow + j] * dout[qi + d];
            }
            dp[j] = s;
            dot += p[pRow + j] * s;
          }
          for (int j = 0; j <= i; j++) {
            double ds = p[pRow + j] * (dp[j] - dot) * scale;
            int kj = (bi * t + j) * c + h * hd;
            for (int d = 0; d < hd; d++) {
              dqr[qi + d] += ds * kr[kj + d];
              dkr[kj + d] += ds * qr[qi + d];
            }
          }
        }
      }
    }
    return new double[][] {rope(dqr, true), rope(dkr, true), dv};
  }

  /** Rotates each head's pairs by +angle, or by -angle (the transpose) for the backward. */
  private double[] rope(double[] x, boolean inverse) {
    double[] y = new double[x.length];
    double sign = inverse ? -1 : 1;
    for (int bi = 0; bi < b; bi++) {
      for (int pos = 0; pos < t; pos++) {
        for (int h = 0; h < nh; h++) {
          int base = (bi * t + pos) * c + h * hd;
          for (int i = 0; i < hd / 2; i++) {
            double co = cos[pos * hd / 2 + i];
            double si = sign * sin[pos * hd / 2 + i];
            double x0 = x[base + 2 * i];
            double x1 = x[base + 2 * i + 1];
            y[base + 2 * i] = x0 * co - x1 * si;
            y[base + 2 * i + 1] = x0 * si + x1 * co;
          }
        }
      }
    }
    return y;
  }
}
