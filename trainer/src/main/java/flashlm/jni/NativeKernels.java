package flashlm.jni;

import flashlm.train.Kernels;
import java.nio.FloatBuffer;

/**
 * The trainer's update kernels in C (AVX2/NEON and OpenMP where available), over direct
 * buffers: model buffers from {@link flashlm.model.NativeModel} or {@code
 * ByteBuffer.allocateDirect(..).asFloatBuffer()}. Indices are absolute (from the buffer's element
 * 0), like {@link Kernels#JAVA}. Results match the Java twin to rounding: the same formulas,
 * vectorised.
 *
 * @throws NativeException for a heap buffer or a range outside a buffer
 */
public final class NativeKernels implements Kernels {
  /** Loads the library if needed. */
  public NativeKernels() {
    Native.lastError(); // class initialisation loads the library
  }

  /** The instruction set of the kernels in use ("avx2", "neon" or "scalar"). */
  public static String isa() {
    return Native.kernelsName();
  }

  @Override
  public void adamw(FloatBuffer params, FloatBuffer grads, FloatBuffer m, FloatBuffer v,
      long offset, long count, float lr, float beta1, float beta2, float eps, float weightDecay,
      long step) {
    Native.check(Native.adamw(params, grads, m, v, offset, count, lr, beta1, beta2, eps,
        weightDecay, step), "adamw");
  }

  @Override
  public void sgdMomentum(FloatBuffer params, FloatBuffer grads, FloatBuffer momentum, long offset,
      long count, float lr, float mu, float weightDecay) {
    Native.check(Native.sgdMomentum(params, grads, momentum, offset, count, lr, mu, weightDecay),
        "sgd momentum");
  }

  @Override
  public double sumSquares(FloatBuffer buf, long offset, long count) {
    double[] out = new double[1];
    Native.check(Native.sumSquares(buf, offset, count, out), "sum of squares");
    return out[0];
  }

  @Override
  public void scale(FloatBuffer buf, long offset, long count, float factor) {
    Native.check(Native.scale(buf, offset, count, factor), "scale");
  }
}
