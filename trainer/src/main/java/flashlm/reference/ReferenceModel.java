package flashlm.reference;

import flashlm.model.ModelSpec;
import flashlm.model.ParamLayout;

/**
 * The slow double-precision reference of both architectures (v7 transformer, v6.1 ffn), over the
 * same flat parameter layout as the native model ({@link ParamLayout}). Plain loops, a forward and
 * a hand-written backward per layer; used to check the native model's logits, loss and every
 * gradient, and to run the trainer's tests without native code.
 *
 * <p>BitLinear (quant "ternary"): the weight is dequantized to {@code s*clamp(round(W/s),-1,1)},
 * {@code s = max(mean|W|, 1e-5)}, the input per token to {@code
 * clamp(round(x*127/g),-128,127)*g/127}, {@code g = max(max|x|, 1e-5)}; the output is their
 * product, equal to the integer product rescaled by {@code s*g/127}. The backward is the
 * straight-through estimator: {@code dX = dY W_deq}, {@code dW = dY^T X_deq}. Rounding is
 * half-to-even ({@link Math#rint}, as PyTorch's round).
 *
 * <p>The input gradient {@code dY W_deq} of a BitLinear is by default the native model's integer
 * dX (model.backward_dx int16): {@code dY} times the weight scale, quantised per token to int16
 * (q, k and v together, as the native model stacks them), against the ternary signs; see {@link
 * Ops#dx16}. With backward_dx fp32 it is the exact product. Its weight gradient {@code dY^T
 * X_deq} is likewise the native integer dW by default (model.backward_dw int16: {@code dY} times
 * the input's scale quantised to int16 per output and block of 256 tokens, against the int8
 * input; see {@link Ops#dw16}), the exact product with backward_dw fp32.
 *
 * <p>With learnable alpha every linear's output is scaled by its alpha: {@code y = alpha z}, {@code
 * z = X W^T} (dequantized operands if ternary); its backward is {@code dalpha = sum(dY z)} and the
 * linear's backward above with {@code alpha dY}.
 */
public final class ReferenceModel {
  private final ModelSpec spec;
  private final ParamLayout layout;
  private final boolean transformer;
  private final boolean ternary;
  private final boolean dx16;
  private final boolean dw16;
  private final double[] params;
  private final double[] grads;

  public ReferenceModel(ModelSpec spec) {
    this.spec = spec;
    this.layout = ParamLayout.of(spec);
    this.transformer = (spec.arch() == ModelSpec.Arch.TRANSFORMER);
    this.ternary = spec.ternary();
    this.dx16 = ternary && spec.backwardDx() == ModelSpec.BackwardDx.INT16;
    this.dw16 = ternary && spec.backwardDw() == ModelSpec.BackwardDw.INT16;
    this.params = new double[Math.toIntExact(layout.size())];
    this.grads = new double[params.length];
  }

  public ModelSpec spec() {
    return spec;
  }

  public ParamLayout layout() {
    return layout;
  }

  /** The parameters, {@link #layout()} order; callers write them directly. */
  public double[] params() {
    return params;
  }

  /** The gradients, added into by {@link #forwardBackward}. */
  public double[] grads() {
    return grads;
  }

  /**
   * Mean cross-entropy over tokens (batch, seq_len+1); fills {@code logits} (B*T, V) if not null.
   */
  public double forward(int[] tokens, int batch, double[] logits) {
    return run(tokens, batch, false, logits);
  }

  /** Mean cross-entropy; adds its gradient into {@link #grads()}. */
  public double forwardBackward(int[] tokens, int batch) {
    return run(tokens, batch, true, null);
  }

  private int off(String name) {
    return Math.toIntExact(layout.get(name).offset());
  }

  private double run(int[] tokens, int batch, boolean backward, double[] logitsOut) {
    int t = spec.seqLen();
    int c = spec.dModel();
    int v = spec.vocabSize();
    int n = batch * t;
    if (tokens.length < batch * (t + 1)) {
      throw new IllegalArgumentException(
          "tokens holds " + tokens.length + " ids, need batch*(seq_len+1) = " + batch * (t + 1));
    }
    int[] inputs = new int[n];
    int[] targets = new int[n];
    for (int b = 0; b < batch; b++) {
      for (int i = 0; i < t; i++) {
        inputs[b * t + i] = tokens[b * (t + 1) + i];
        targets[b * t + i] = tokens[b * (t + 1) + i + 1];
      }
    }
    int emb = off("model.embed_tokens.weight");
    double[] x = new double[n * c];
    for (int i = 0; i < n; i++) {
      if (inputs[i] < 0 || inputs[i] >= v) {
        throw new IllegalArgumentException(
            "token id " + inputs[i] + " outside the vocabulary of " + v);
      }
      System.arraycopy(params, emb + inputs[i] * c, x, i * c, c);
    }
    Block[] blocks = new Block[spec.nLayers()];
    for (int l = 0; l < blocks.length; l++) {
      blocks[l] = transformer ? new AttentionBlock(l, batch) : new FfnBlock(l);
      x = blocks[l].forward(x, n);
    }
    int normOff = off("model.norm.weight");
    double[] xf = new double[n * c];
    double[] rstd = new double[n];
    Ops.rmsnormForward(xf, rstd, x, params, normOff, n, c, spec.normEps());
    double[] logits = new double[n * v];
    Ops.matmulForward(logits, xf, slice(emb, v * c), n, c, v); // tied head: h E^T
    if (logitsOut != null) {
      System.arraycopy(logits, 0, logitsOut, 0, logits.length);
    }
    double[] dlogits = backward ? new double[n * v] : null;
    double loss = Ops.crossEntropy(dlogits, logits, targets, n, v);
    if (!backward) {
      return loss;
    }
    double[] dxf = new double[n * c];
    Ops.matmulBackward(dxf, grads, emb, dlogits, xf, slice(emb, v * c), n, c, v);
    double[] dx = new double[n * c];
    Ops.rmsnormBackward(dx, grads, dxf, x, rstd, params, normOff, n, c);
    for (int l = blocks.length - 1; l >= 0; l--) {
      dx = blocks[l].backward(dx, n);
    }
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < c; j++) {
        grads[emb + inputs[i] * c + j] += dx[i * c + j];
      }
    }
    return loss;
  }

  private double[] slice(int offset, int length) {
    double[] out = new double[length];
    System.arraycopy(params, offset, out, 0, length);
    return out;
  }

  /** A residual block: forward keeps what its backward needs. */
  private interface Block {
    double[] forward(double[] x, int n);

    double[] backward(double[] dy, int n);
  }

  /**
   * A BitLinear (or plain linear) y = alpha * x W^T (alpha 1 unless learnable), keeping its
   * dequantized input and weight and its unscaled output.
   */
  private final class Linear {
    final int wOff;
    final int aOff; // -1: no learnable alpha
    final int in;
    final int out;
    double[] xq;
    double[] w;
    double[] z;

    Linear(String name, int in, int out) {
      this.wOff = off(name);
      this.aOff = spec.learnableAlpha() ? off(ParamLayout.alphaName(name)) : -1;
      this.in = in;
      this.out = out;
    }

    double[] forward(double[] xq, int n) {
      this.xq = xq;
      this.w = Ops.weights(params, wOff, out, in, ternary);
      z = new double[n * out];
      Ops.matmulForward(z, xq, w, n, in, out);
      if (aOff < 0) {
        return z;
      }
      double[] y = new double[z.length];
      for (int i = 0; i < y.length; i++) {
        y[i] = params[aOff] * z[i];
      }
      return y;
    }

    /** dalpha and dW; returns the gradient of the unscaled output z (alpha dy). */
    double[] weightBackward(double[] dy, int n) {
      if (aOff >= 0) {
        double dalpha = 0;
        double[] scaled = new double[dy.length];
        for (int i = 0; i < dy.length; i++) {
          dalpha += dy[i] * z[i];
          scaled[i] = params[aOff] * dy[i];
        }
        grads[aOff] += dalpha;
        dy = scaled;
      }
      if (dw16) {
        Ops.dw16(grads, wOff, dy, xq, n, in, out);
      } else {
        Ops.matmulBackward(null, grads, wOff, dy, xq, w, n, in, out);
      }
      return dy;
    }

    /** dx (N, in), or adds into {@code dxAcc} when it is not null. */
    double[] backward(double[] dy, int n, double[] dxAcc) {
      dy = weightBackward(dy, n);
      double[] dx = new double[n * in];
      if (dx16) {
        Ops.dx16(dx, new double[][] {dy}, new double[][] {w}, new int[] {out}, n, in);
      } else {
        Ops.matmulDx(dx, dy, w, n, in, out);
      }
      if (dxAcc != null) {
        for (int i = 0; i < dx.length; i++) {
          dxAcc[i] += dx[i];
        }
        return dxAcc;
      }
      return dx;
    }
  }

  /** An RMSNorm keeping its input and 1/rms for the backward. */
  private final class Norm {
    final int wOff;
    double[] x;
    double[] rstd;

    Norm(String name) {
      this.wOff = off(name);
    }

    double[] forward(double[] x, int n) {
      int c = spec.dModel();
      this.x = x;
      this.rstd = new double[n];
      double[] y = new double[n * c];
      Ops.rmsnormForward(y, rstd, x, params, wOff, n, c, spec.normEps());
      return y;
    }

    double[] backward(double[] dy, int n) {
      double[] dx = new double[x.length];
      Ops.rmsnormBackward(dx, grads, dy, x, rstd, params, wOff, n, spec.dModel());
      return dx;
    }
  }

  /** v6.1: x + down(SiLU(up(RMSNorm(x)))). */
  private final class FfnBlock implements Block {
    final Norm norm;
    final Linear up;
    final Linear down;
    double[] pre;

    FfnBlock(int l) {
      String p = "model.layers." + l + ".";
      int c = spec.dModel();
      int f = spec.ffnDim();
      norm = new Norm(p + "input_layernorm.weight");
      up = new Linear(p + "mlp.up_proj.weight", c, f);
      down = new Linear(p + "mlp.down_proj.weight", f, c);
    }

    @Override
    public double[] forward(double[] x, int n) {
      int c = spec.dModel();
      pre = up.forward(Ops.activations(norm.forward(x, n), n, c, ternary), n);
      double[] h = new double[pre.length];
      for (int i = 0; i < h.length; i++) {
        h[i] = Ops.silu(pre[i]);
      }
      double[] y = down.forward(Ops.activations(h, n, spec.ffnDim(), ternary), n);
      for (int i = 0; i < y.length; i++) {
        y[i] += x[i];
      }
      return y;
    }

    @Override
    public double[] backward(double[] dy, int n) {
      double[] dh = down.backward(dy, n, null);
      for (int i = 0; i < dh.length; i++) {
        dh[i] *= Ops.siluGrad(pre[i]);
      }
      double[] dx = norm.backward(up.backward(dh, n, null), n);
      for (int i = 0; i < dx.length; i++) {
        dx[i] += dy[i];
      }
      return dx;
    }
  }

  /** v7: x + O(attn(RoPE(Q), RoPE(K), V)) then + down(SiLU(gate) * up), each on RMSNorm'd input. */
  private final class AttentionBlock implements Block {
    final Norm norm1;
    final Norm norm2;
    final Linear q;
    final Linear k;
    final Linear v;
    final Linear o;
    final Linear gate;
    final Linear up;
    final Linear down;
    final Attention attention;
    double[] g;
    double[] u;

    AttentionBlock(int l, int batch) {
      String p = "model.layers." + l + ".";
      int c = spec.dModel();
      int f = spec.ffnDim();
      norm1 = new Norm(p + "input_layernorm.weight");
      norm2 = new Norm(p + "post_attention_layernorm.weight");
      q = new Linear(p + "self_attn.q_proj.weight", c, c);
      k = new Linear(p + "self_attn.k_proj.weight", c, c);
      v = new Linear(p + "self_attn.v_proj.weight", c, c);
      o = new Linear(p + "self_attn.o_proj.weight", c, c);
      gate = new Linear(p + "mlp.gate_proj.weight", c, f);
      up = new Linear(p + "mlp.up_proj.weight", c, f);
      down = new Linear(p + "mlp.down_proj.weight", f, c);
      attention = new Attention(spec, batch);
    }

    @Override
    public double[] forward(double[] x, int n) {
      int c = spec.dModel();
      int f = spec.ffnDim();
      double[] xq = Ops.activations(norm1.forward(x, n), n, c, ternary);
      double[] a = attention.forward(q.forward(xq, n), k.forward(xq, n), v.forward(xq, n));
      double[] x2 = o.forward(Ops.activations(a, n, c, ternary), n);
      for (int i = 0; i < x2.length; i++) {
        x2[i] += x[i];
      }
      double[] xq2 = Ops.activations(norm2.forward(x2, n), n, c, ternary);
      g = gate.forward(xq2, n);
      u = up.forward(xq2, n);
      double[] h = new double[n * f];
      for (int i = 0; i < h.length; i++) {
        h[i] = Ops.silu(g[i]) * u[i];
      }
      double[] y = down.forward(Ops.activations(h, n, f, ternary), n);
      for (int i = 0; i < y.length; i++) {
        y[i] += x2[i];
      }
      return y;
    }

    @Override
    public double[] backward(double[] dy, int n) {
      double[] dh = down.backward(dy, n, null);
      double[] dg = new double[dh.length];
      double[] du = new double[dh.length];
      for (int i = 0; i < dh.length; i++) {
        dg[i] = dh[i] * u[i] * Ops.siluGrad(g[i]);
        du[i] = dh[i] * Ops.silu(g[i]);
      }
      double[] dxn2 = up.backward(du, n, gate.backward(dg, n, null));
      double[] dx2 = norm2.backward(dxn2, n);
      for (int i = 0; i < dx2.length; i++) {
        dx2[i] += dy[i];
      }
      double[] da = o.backward(dx2, n, null);
      double[][] dqkv = attention.backward(da);
      double[] dxn1;
      if (dx16) { // one quantisation of dq|dk|dv per token, as the native stacked QKV backward
        double[][] dys = {q.weightBackward(dqkv[0], n), k.weightBackward(dqkv[1], n),
            v.weightBackward(dqkv[2], n)};
        dxn1 = new double[n * spec.dModel()];
        Ops.dx16(dxn1, dys, new double[][] {q.w, k.w, v.w}, new int[] {q.out, k.out, v.out}, n,
            q.in);
      } else {
        dxn1 = q.backward(dqkv[0], n, null);
        k.backward(dqkv[1], n, dxn1);
        v.backward(dqkv[2], n, dxn1);
      }
      double[] dx = norm1.backward(dxn1, n);
      for (int i = 0; i < dx.length; i++) {
        dx[i] += dx2[i];
      }
      return dx;
    }
  }
}
