package flashlm.jni;

import flashlm.train.Kernels;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * The trainer's update kernels in C (AVX2/NEON and OpenMP where available), over direct
 * buffers: model buffers from {@link flashlm.model.NativeModel} or {@code
 * ByteBuffer.allocateDirect(..).order(ByteOrder.nativeOrder()).asFloatBuffer()}. Indices are
 * absolute (from the buffer's element 0), like {@link Kernels#JAVA}, and the range must lie below
 * the buffer's limit (a closed model's buffers have limit 0, so they are refused here). Results
 * match the Java twin to rounding: the same formulas, vectorised.
 *
 * @throws NativeException ({@link NativeException#EINVAL}) for a heap buffer, a buffer in the
 *     other byte order, a read-only buffer the kernel would write, or a range outside a buffer
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
    String what = "adamw";
    writable(params, offset, count, what, "params");
    readable(grads, offset, count, what, "grads");
    writable(m, offset, count, what, "adam m");
    writable(v, offset, count, what, "adam v");
    Native.check(Native.adamw(params, grads, m, v, offset, count, lr, beta1, beta2, eps,
        weightDecay, step), what);
  }

  @Override
  public void sgdMomentum(FloatBuffer params, FloatBuffer grads, FloatBuffer momentum, long offset,
      long count, float lr, float mu, float weightDecay) {
    String what = "sgd momentum";
    writable(params, offset, count, what, "params");
    readable(grads, offset, count, what, "grads");
    writable(momentum, offset, count, what, "momentum");
    Native.check(Native.sgdMomentum(params, grads, momentum, offset, count, lr, mu, weightDecay),
        what);
  }

  @Override
  public double sumSquares(FloatBuffer buf, long offset, long count) {
    readable(buf, offset, count, "sum of squares", "buffer");
    double[] out = new double[1];
    Native.check(Native.sumSquares(buf, offset, count, out), "sum of squares");
    return out[0];
  }

  @Override
  public void scale(FloatBuffer buf, long offset, long count, float factor) {
    writable(buf, offset, count, "scale", "buffer");
    Native.check(Native.scale(buf, offset, count, factor), "scale");
  }

  private static void writable(FloatBuffer b, long offset, long count, String call, String what) {
    readable(b, offset, count, call, what);
    if (b.isReadOnly()) {
      throw invalid(call, what + " is read-only");
    }
  }

  /**
   * Checks what the C side cannot see (the byte order, the limit) and the range, in Java first
   * for a clear message: offset and count non-negative and offset + count at most the limit,
   * compared without overflow. (The C side checks the range again against the capacity, in
   * bytes.)
   */
  private static void readable(FloatBuffer b, long offset, long count, String call, String what) {
    if (b == null) {
      throw invalid(call, what + " is null");
    }
    if (!b.isDirect()) {
      throw invalid(call, what + " is not a direct buffer");
    }
    if (b.order() != ByteOrder.nativeOrder()) {
      throw invalid(call, what + " is in byte order " + b.order() + ", the native code reads "
          + ByteOrder.nativeOrder() + " (make it with .order(ByteOrder.nativeOrder()))");
    }
    // limit - offset cannot overflow (both non-negative), offset + count could
    if (offset < 0 || count < 0 || offset > b.limit() || count > b.limit() - offset) {
      String range = offset >= 0 && count >= 0 && count > Long.MAX_VALUE - offset
          ? "offset " + offset + " + count " + count + " (overflows a long)"
          : "[" + offset + ", " + (offset + count) + ")";
      String closed = b.limit() == 0 && b.capacity() > 0
          ? " (its limit is 0: a closed NativeModel's buffers have limit 0)" : "";
      throw invalid(call, what + ": " + range + " outside its " + b.limit() + " floats" + closed);
    }
  }

  private static NativeException invalid(String call, String message) {
    return new NativeException(NativeException.EINVAL, call + ": " + message);
  }
}
