package flashlm.optim;

import java.nio.FloatBuffer;

/** The portable fp32 update kernels; see {@link Kernels}. */
final class JavaKernels implements Kernels {
  @Override
  public void adamw(
      FloatBuffer params,
      FloatBuffer grads,
      FloatBuffer m,
      FloatBuffer v,
      long offset,
      long count,
      float lr,
      float beta1,
      float beta2,
      float eps,
      float weightDecay,
      long step) {
    float bc1 = (float) (1 - Math.pow(beta1, step));
    float bc2 = (float) (1 - Math.pow(beta2, step));
    int end = Math.toIntExact(offset + count);
    for (int i = (int) offset; i < end; i++) {
      float g = grads.get(i);
      float mi = beta1 * m.get(i) + (1 - beta1) * g;
      float vi = beta2 * v.get(i) + (1 - beta2) * g * g;
      m.put(i, mi);
      v.put(i, vi);
      float p = params.get(i);
      p -= lr * weightDecay * p;
      p -= lr * (mi / bc1) / ((float) Math.sqrt(vi / bc2) + eps);
      params.put(i, p);
    }
  }

  @Override
  public void sgdMomentum(FloatBuffer params, FloatBuffer grads, FloatBuffer momentum, long offset,
      long count, float lr, float mu, float weightDecay) {
    int end = Math.toIntExact(offset + count);
    for (int i = (int) offset; i < end; i++) {
      float p = params.get(i);
      float g = grads.get(i) + weightDecay * p;
      float b = mu * momentum.get(i) + g;
      momentum.put(i, b);
      params.put(i, p - lr * b);
    }
  }

  @Override
  public double sumSquares(FloatBuffer buf, long offset, long count) {
    double s = 0;
    int end = Math.toIntExact(offset + count);
    for (int i = (int) offset; i < end; i++) {
      double x = buf.get(i);
      s += x * x;
    }
    return s;
  }

  @Override
  public void scale(FloatBuffer buf, long offset, long count, float factor) {
    int end = Math.toIntExact(offset + count);
    for (int i = (int) offset; i < end; i++) {
      buf.put(i, buf.get(i) * factor);
    }
  }
}
