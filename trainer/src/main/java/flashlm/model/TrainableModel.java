package flashlm.model;

import java.nio.FloatBuffer;

/**
 * What the training loop needs from a model: one flat fp32 parameter buffer and one gradient
 * buffer with the same {@link ParamLayout}, and a fused forward + backward over a batch.
 * Implemented by the native model (C kernels) and by the double-precision Java reference model.
 */
public interface TrainableModel extends AutoCloseable {
  ModelSpec spec();

  /** Named views into {@link #params()} and {@link #grads()}. */
  ParamLayout layout();

  /** All parameters, flat fp32, {@link #layout()} order; writes are seen by the next forward. */
  FloatBuffer params();

  /** All gradients, same layout as {@link #params()}; {@link #forwardBackward} adds into it. */
  FloatBuffer grads();

  void zeroGrads();

  /**
   * Forward and backward over {@code tokens} (batch, seq_len + 1) row-major: inputs are columns
   * {@code [0, seq_len)}, targets {@code [1, seq_len]}. Adds the gradient of the mean
   * cross-entropy into {@link #grads()}.
   *
   * @return the mean cross-entropy over batch x seq_len positions
   */
  float forwardBackward(int[] tokens, int batch);

  /** The mean cross-entropy, forward only. */
  float loss(int[] tokens, int batch);

  /** Idempotent. */
  @Override
  void close();
}
