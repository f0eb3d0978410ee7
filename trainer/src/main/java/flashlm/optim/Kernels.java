package flashlm.optim;

import java.nio.FloatBuffer;

/**
 * The update kernels the training loop runs over flat buffers, element range
 * [offset, offset+count). The native library provides fast ones; {@link #JAVA} is the portable
 * fp32 twin used with the reference model and when no native library is loaded.
 */
public interface Kernels {
  /**
   * torch.optim.AdamW, one step ({@code step} counts from 1): p -= lr*wd*p; m = b1 m + (1-b1) g;
   * v = b2 v + (1-b2) g^2; p -= lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps).
   */
  void adamw(FloatBuffer params, FloatBuffer grads, FloatBuffer m, FloatBuffer v, long offset,
      long count, float lr, float beta1, float beta2, float eps, float weightDecay, long step);

  /** torch.optim.SGD with momentum: g += wd p; buf = mu buf + g; p -= lr buf. */
  void sgdMomentum(FloatBuffer params, FloatBuffer grads, FloatBuffer momentum, long offset,
      long count, float lr, float mu, float weightDecay);

  /** Sum of squares, accumulated in double. */
  double sumSquares(FloatBuffer buf, long offset, long count);

  /** buf *= factor. */
  void scale(FloatBuffer buf, long offset, long count, float factor);

  /** Plain Java, fp32 arithmetic, sequential (so bit-for-bit reproducible). */
  Kernels JAVA = new JavaKernels();
}
