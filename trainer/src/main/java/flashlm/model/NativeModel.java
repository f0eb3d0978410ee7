package flashlm.model;

import flashlm.jni.Native;
import flashlm.jni.NativeException;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The model in C (libflashlm): v7 transformer or v6.1 ffn, BitLinear (ternary) or fp32 linears,
 * forward and backward over one flat parameter buffer in {@link ParamLayout} order.
 *
 * <p>{@link #params()} and {@link #grads()} are direct buffers over native memory: writes (e.g.
 * {@link flashlm.model.Init#normal}) are seen by the next forward without a copy. Parameters and
 * gradients start at zero; the caller initialises the parameters. The buffers must not be used
 * after {@link #close()}, which frees that memory. Methods are synchronized: one call at a time
 * (the C side is parallel inside, with OpenMP's OMP_NUM_THREADS threads).
 *
 * <p>{@link #close()} frees the native memory and is idempotent. Afterwards every method throws
 * {@link IllegalStateException}, and the two buffers this model handed out get limit 0, so a
 * read or write through them throws {@link IndexOutOfBoundsException} and the native kernels
 * refuse them, instead of touching freed memory. (A {@code duplicate()} or {@code slice()} made
 * before the close keeps its own limit: do not keep such views past the model.)
 */
public final class NativeModel implements TrainableModel {
  private final ModelSpec spec;
  private final ParamLayout layout;
  private final int maxBatch;
  private final FloatBuffer params;
  private final FloatBuffer grads;
  private long handle;

  private NativeModel(ModelSpec spec, ParamLayout layout, int maxBatch, long handle) {
    this.spec = spec;
    this.layout = layout;
    this.maxBatch = maxBatch;
    this.handle = handle;
    this.params = Native.modelBuffer(handle, false);
    this.grads = Native.modelBuffer(handle, true);
  }

  /**
   * Creates the model for batches of up to {@code maxBatch} rows of {@code spec.seqLen()} tokens
   * (activations for the backward are sized for that).
   *
   * @throws flashlm.jni.NativeException if the spec is invalid or memory is short
   */
  public static NativeModel create(ModelSpec spec, int maxBatch) {
    ParamLayout expected = ParamLayout.of(spec);
    long[] h = new long[1];
    Native.check(Native.modelCreate(h, (spec.arch() == ModelSpec.Arch.TRANSFORMER) ? 0 : 1,
        spec.vocabSize(), spec.dModel(), spec.nLayers(), spec.nHeads(), spec.ffnDim(),
        spec.seqLen(), spec.ternary(), spec.learnableAlpha(),
        spec.backwardDx() == ModelSpec.BackwardDx.FP32 ? 1 : 0,
        spec.backwardDw() == ModelSpec.BackwardDw.FP32 ? 1 : 0, spec.ropeTheta(), spec.normEps(),
        maxBatch), "creating the native " + spec.arch().id() + " model");
    try {
      ParamLayout actual = readLayout(h[0]);
      if (!actual.tensors().equals(expected.tensors())) {
        throw new IllegalStateException("the native model's parameter layout differs from "
            + "ParamLayout: native " + actual.tensors() + ", Java " + expected.tensors());
      }
      return new NativeModel(spec, expected, maxBatch, h[0]);
    } catch (RuntimeException e) {
      int rc = Native.modelFree(h[0]);
      if (rc != 0) {
        e.addSuppressed(new NativeException(rc, "freeing the native model: " + Native.lastError()));
      }
      throw e;
    }
  }

  private static ParamLayout readLayout(long h) {
    List<ParamLayout.Tensor> tensors = new ArrayList<>();
    String[] name = new String[1];
    long[] info = new long[5];
    int[] n = new int[1];
    Native.check(Native.modelNumTensors(h, n), "counting the tensors");
    for (int i = 0; i < n[0]; i++) {
      Native.check(Native.modelTensor(h, i, name, info), "reading tensor " + i);
      int[] shape = info[1] == 2 ? new int[] {(int) info[2], (int) info[3]}
          : new int[] {(int) info[2]};
      tensors.add(new ParamLayout.Tensor(name[0], info[0], shape, info[4] != 0));
    }
    return ParamLayout.of(tensors);
  }

  @Override
  public ModelSpec spec() {
    return spec;
  }

  @Override
  public ParamLayout layout() {
    return layout;
  }

  /** The largest batch a call accepts. */
  public int maxBatch() {
    return maxBatch;
  }

  /** @throws IllegalStateException after {@link #close()} */
  @Override
  public synchronized FloatBuffer params() {
    open();
    return params;
  }

  /** @throws IllegalStateException after {@link #close()} */
  @Override
  public synchronized FloatBuffer grads() {
    open();
    return grads;
  }

  @Override
  public synchronized void zeroGrads() {
    Native.check(Native.modelZeroGrads(open()), "zeroing the gradients");
  }

  @Override
  public synchronized float forwardBackward(int[] tokens, int batch) {
    return run(tokens, batch, true);
  }

  @Override
  public synchronized float loss(int[] tokens, int batch) {
    return run(tokens, batch, false);
  }

  private float run(int[] tokens, int batch, boolean backward) {
    long h = open();
    checkBatch(batch);
    int need = batch * (spec.seqLen() + 1);
    if (tokens.length < need) {
      throw new IllegalArgumentException("tokens holds " + tokens.length
          + " ids, need batch*(seq_len+1) = " + need);
    }
    float[] loss = new float[1];
    Native.check(Native.modelRun(h, tokens, batch, backward, loss),
        backward ? "native forward/backward" : "native forward");
    return loss[0];
  }

  /**
   * The logits at the last position of each row, for generation.
   *
   * @param tokens (batch, len) row-major
   * @param len positions per row, 1 to seq_len
   * @return (batch, vocab) row-major
   */
  public synchronized float[] lastLogits(int[] tokens, int batch, int len) {
    long h = open();
    checkBatch(batch);
    if (len < 1 || len > spec.seqLen()) {
      throw new IllegalArgumentException("len " + len + " outside [1, " + spec.seqLen() + "]");
    }
    if (tokens.length < batch * len) {
      throw new IllegalArgumentException("tokens holds " + tokens.length + " ids, need batch*len = "
          + batch * len);
    }
    float[] out = new float[batch * spec.vocabSize()];
    Native.check(Native.modelLastLogits(h, tokens, batch, len, out), "native last logits");
    return out;
  }

  private void checkBatch(int batch) {
    if (batch < 1 || batch > maxBatch) {
      throw new IllegalArgumentException("batch " + batch + " outside [1, " + maxBatch
          + "] (the model's maxBatch)");
    }
  }

  private long open() {
    if (handle == 0) {
      throw new IllegalStateException("the native model is closed");
    }
    return handle;
  }

  /**
   * Frees the native memory (parameters, gradients, activations) after fencing off the buffers
   * (limit 0). Idempotent.
   */
  @Override
  public synchronized void close() {
    if (handle != 0) {
      params.position(0).limit(0);
      grads.position(0).limit(0);
      long h = handle;
      handle = 0;
      Native.check(Native.modelFree(h), "freeing the native model");
    }
  }
}
