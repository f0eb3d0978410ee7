package flashlm.jni;

import java.nio.Buffer;
import java.nio.ByteBuffer;

/**
 * Every native method of libflashlm (one C file implements them: native/src/jni/flashlm_jni.c).
 * Methods that can fail return a status code (0 = ok); pass it to {@link #check}, which throws a
 * {@link NativeException} carrying {@link #lastError()}, the C side's text for the last failure
 * on this thread. Buffers are direct NIO buffers; offsets and counts are in floats. Loading this
 * class loads the library ({@link NativeLoader}).
 */
public final class Native {
  static {
    NativeLoader.load();
  }

  private Native() {}

  /** Throws a {@link NativeException} naming {@code what} if {@code status} is not 0. */
  public static void check(int status, String what) {
    if (status != 0) {
      throw new NativeException(status, what + ": " + lastError());
    }
  }

  /** The text of the last error on this thread ("" if none). */
  public static native String lastError();

  /** The kernel table chosen for this CPU: "avx2", "neon" or "scalar". */
  public static native String kernelsName();

  /**
   * Sets the OpenMP threads of native calls made from the calling Java thread (the setting is
   * per calling thread; the default is OMP_NUM_THREADS, else one per core). n must be >= 1.
   */
  public static native int setNumThreads(int n);

  /** The OpenMP threads native calls from the calling thread use. */
  public static native int numThreads();

  /** Creates a model; handle[0] receives it. Arch 0 = transformer, 1 = ffn. */
  public static native int modelCreate(long[] handle, int arch, int vocab, int dModel, int nLayers,
      int nHeads, int ffnDim, int seqLen, boolean ternary, boolean learnableAlpha, double ropeTheta,
      double normEps, int maxBatch);

  /** Frees a model (0 is a no-op). */
  public static native void modelFree(long handle);

  public static native long modelNumParams(long handle);

  /** A direct buffer over the model's parameters ({@code grads} false) or gradients. */
  public static native ByteBuffer modelBuffer(long handle, boolean grads);

  public static native int modelNumTensors(long handle);

  /** Tensor {@code i}: name[0] and info = {offset, ndim, shape0, shape1, decay (0/1)}. */
  public static native int modelTensor(long handle, int i, String[] name, long[] info);

  public static native void modelZeroGrads(long handle);

  /**
   * Forward (and backward if {@code backward}: adds into the gradients) over tokens (batch,
   * seq_len + 1); loss[0] receives the mean cross-entropy.
   */
  public static native int modelRun(long handle, int[] tokens, int batch, boolean backward,
      float[] loss);

  /** out (batch, vocab) = logits at position len-1 of tokens (batch, len). */
  public static native int modelLastLogits(long handle, int[] tokens, int batch, int len,
      float[] out);

  /** torch.optim.AdamW over [offset, offset+count) of each buffer. */
  public static native int adamw(Buffer params, Buffer grads, Buffer m, Buffer v, long offset,
      long count, float lr, float beta1, float beta2, float eps, float weightDecay, long step);

  /** torch.optim.SGD with momentum over [offset, offset+count). */
  public static native int sgdMomentum(Buffer params, Buffer grads, Buffer momentum, long offset,
      long count, float lr, float mu, float weightDecay);

  /** out[0] = sum of squares over [offset, offset+count), in double. */
  public static native int sumSquares(Buffer buf, long offset, long count, double[] out);

  /** buf[offset, offset+count) *= factor. */
  public static native int scale(Buffer buf, long offset, long count, float factor);
}
