package flashlm.jni;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * Every native method of libflashlm (one C file implements them: native/src/jni/flashlm_jni.c).
 * Methods that can fail return a status code (0 = ok); pass it to {@link #check}, which throws a
 * {@link NativeException} carrying {@link #lastError()}, the C side's text for the last failure
 * on this thread. Loading this class loads the library ({@link NativeLoader}).
 *
 * <p>Buffers are typed: the kernels take direct {@link FloatBuffer}s (a {@code ByteBuffer} does
 * not compile), offsets and counts are in floats. Java refuses what only it can see (byte order,
 * read-only, the limit: the buffers of a closed model have limit 0) by throwing, and the C side
 * checks every range against the buffer's capacity in bytes without overflow before touching
 * memory.
 *
 * <p>Handles (models, listeners, communicators) are checked by the C side against the objects of
 * their kind it has created and not yet freed: a freed or made-up handle gives {@link
 * NativeException#ESTATE}, never a use of freed memory; so does a handle that another thread is
 * using at the same time (a model or a communicator takes one call at a time). The one call
 * meant for another thread is {@link #commClose}, which ends a communicator's blocked call.
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

  /**
   * Creates a model; handle[0] receives it. Arch 0 = transformer, 1 = ffn; backwardDx and
   * backwardDw 0 = int16, 1 = fp32 (a BitLinear's input and weight gradients, fl_spec.backward_dx
   * and backward_dw).
   */
  public static native int modelCreate(long[] handle, int arch, int vocab, int dModel, int nLayers,
      int nHeads, int ffnDim, int seqLen, boolean ternary, boolean learnableAlpha, int backwardDx,
      int backwardDw, double ropeTheta, double normEps, int maxBatch);

  /** Frees a model (0 is a no-op; a handle already freed is {@link NativeException#ESTATE}). */
  public static native int modelFree(long handle);

  /** out[0] = the number of parameters. */
  public static native int modelNumParams(long handle, long[] out);

  /**
   * A direct buffer in native order over the model's parameters ({@code grads} false) or
   * gradients. It stays valid until {@link #modelFree}: the owner must fence it off then (limit
   * 0, so reads, writes and the kernels here refuse it).
   *
   * @throws NativeException for a freed or unknown handle
   */
  public static FloatBuffer modelBuffer(long handle, boolean grads) {
    ByteBuffer b = modelByteBuffer(handle, grads);
    if (b == null) { // a pending OutOfMemoryError would have been thrown instead
      throw new NativeException(NativeException.ESTATE, "model buffer: " + lastError());
    }
    return b.order(ByteOrder.nativeOrder()).asFloatBuffer();
  }

  /** The bytes behind {@link #modelBuffer}, or null (and {@link #lastError}) for a bad handle. */
  private static native ByteBuffer modelByteBuffer(long handle, boolean grads);

  /** out[0] = the number of tensors of the layout. */
  public static native int modelNumTensors(long handle, int[] out);

  /** Tensor {@code i}: name[0] and info = {offset, ndim, shape0, shape1, decay (0/1)}. */
  public static native int modelTensor(long handle, int i, String[] name, long[] info);

  public static native int modelZeroGrads(long handle);

  /**
   * Forward (and backward if {@code backward}: adds into the gradients) over tokens (batch,
   * seq_len + 1); loss[0] receives the mean cross-entropy.
   */
  public static native int modelRun(long handle, int[] tokens, int batch, boolean backward,
      float[] loss);

  /** out (batch, vocab) = logits at position len-1 of tokens (batch, len). */
  public static native int modelLastLogits(long handle, int[] tokens, int batch, int len,
      float[] out);

  /**
   * torch.optim.AdamW over [offset, offset+count) of each buffer.
   *
   * @throws NativeException ({@link NativeException#EINVAL}) for a null, heap or byte-swapped
   *     buffer, a read-only one written to, or a range past a limit
   */
  public static int adamw(FloatBuffer params, FloatBuffer grads, FloatBuffer m, FloatBuffer v,
      long offset, long count, float lr, float beta1, float beta2, float eps, float weightDecay,
      long step) {
    checkBuffer(params, offset, count, true, "adamw", "params");
    checkBuffer(grads, offset, count, false, "adamw", "grads");
    checkBuffer(m, offset, count, true, "adamw", "adam m");
    checkBuffer(v, offset, count, true, "adamw", "adam v");
    return adamw0(params, grads, m, v, offset, count, lr, beta1, beta2, eps, weightDecay, step);
  }

  /**
   * torch.optim.SGD with momentum over [offset, offset+count).
   *
   * @throws NativeException ({@link NativeException#EINVAL}) for a null, heap or byte-swapped
   *     buffer, a read-only one written to, or a range past a limit
   */
  public static int sgdMomentum(FloatBuffer params, FloatBuffer grads, FloatBuffer momentum,
      long offset, long count, float lr, float mu, float weightDecay) {
    checkBuffer(params, offset, count, true, "sgd momentum", "params");
    checkBuffer(grads, offset, count, false, "sgd momentum", "grads");
    checkBuffer(momentum, offset, count, true, "sgd momentum", "momentum");
    return sgdMomentum0(params, grads, momentum, offset, count, lr, mu, weightDecay);
  }

  /**
   * out[0] = sum of squares over [offset, offset+count), in double.
   *
   * @throws NativeException ({@link NativeException#EINVAL}) for a null, heap or byte-swapped
   *     buffer, a read-only one written to, or a range past a limit
   */
  public static int sumSquares(FloatBuffer buf, long offset, long count, double[] out) {
    checkBuffer(buf, offset, count, false, "sum of squares", "buffer");
    return sumSquares0(buf, offset, count, out);
  }

  /**
   * buf[offset, offset+count) *= factor.
   *
   * @throws NativeException ({@link NativeException#EINVAL}) for a null, heap or byte-swapped
   *     buffer, a read-only one written to, or a range past a limit
   */
  public static int scale(FloatBuffer buf, long offset, long count, float factor) {
    checkBuffer(buf, offset, count, true, "scale", "buffer");
    return scale0(buf, offset, count, factor);
  }

  // ---- communication: listeners and ring communicators (flashlm.h, "communication") ----

  /** Reduction of {@link #commAllreduceDoubles} and {@link #commAllreduceLongs}: sum. */
  public static final int OP_SUM = 0;
  /** Reduction: maximum. */
  public static final int OP_MAX = 1;
  /** Reduction: minimum. */
  public static final int OP_MIN = 2;

  /**
   * Listens on {@code host} (a name or address; null or "" for every IPv4 interface) at {@code
   * wantPort} (0: an ephemeral port); handle[0] receives the listener, port[0] the port bound.
   */
  public static native int listen(long[] handle, int[] port, String host, int wantPort);

  /** Stops listening and frees the listener (0 is a no-op). */
  public static native int listenerClose(long handle);

  /**
   * Connects rank {@code rank} of {@code world} into the ring: peers holds every rank's
   * "host:port", secret (at least 16 bytes) authenticates both sides of each connection, and
   * timeoutMs bounds the connecting and then every call. handle[0] receives the communicator.
   * The listener (0 when world is 1) stays open: close it after.
   */
  public static native int commCreate(long[] handle, long listener, String[] peers, byte[] secret,
      int rank, int world, int timeoutMs);

  /**
   * Shuts the communicator's connections: a call blocked in another thread fails promptly, later
   * calls fail. Safe from any thread, idempotent; does not free.
   */
  public static native int commClose(long handle);

  /** Closes and frees (0 is a no-op; a handle in a call is {@link NativeException#ESTATE}). */
  public static native int commFree(long handle);

  /**
   * The connections refused while the ring was made ("" if none).
   *
   * @throws NativeException for a freed or unknown handle
   */
  public static String commNotes(long handle) {
    String notes = commNotes0(handle);
    if (notes == null) {
      throw new NativeException(NativeException.ESTATE, "communicator notes: " + lastError());
    }
    return notes;
  }

  private static native String commNotes0(long handle);

  /**
   * buf[offset, offset+count) = its elementwise sum over ranks, deterministic (the same bits on
   * every rank and every run for a given world size). Every rank passes the same count.
   *
   * @throws NativeException ({@link NativeException#EINVAL}) for a null, heap, byte-swapped or
   *     read-only buffer, or a range past its limit
   */
  public static int commAllreduceSum(long handle, FloatBuffer buf, long offset, long count) {
    checkBuffer(buf, offset, count, true, "allreduce", "buffer");
    return commAllreduceSum0(handle, buf, offset, count);
  }

  private static native int commAllreduceSum0(long handle, FloatBuffer buf, long offset,
      long count);

  /** values (all of them) = their reduction over ranks with {@code op} ({@link #OP_SUM} ...). */
  public static native int commAllreduceDoubles(long handle, double[] values, int op);

  /** values = their reduction over ranks with {@code op}; sums wrap around. */
  public static native int commAllreduceLongs(long handle, long[] values, int op);

  /** bytes (all of them) on every rank = rank {@code root}'s bytes. */
  public static native int commBroadcast(long handle, byte[] bytes, int root);

  /** Returns on each rank only after every rank has entered it. */
  public static native int commBarrier(long handle);

  // ---- inference: packed weights and the KV-cache decoder (flashlm.h, "inference") ----
  // A model spec crosses as ints {arch (0 transformer, 1 ffn), vocab, d_model, n_layers,
  // n_heads, ffn_dim, seq_len, ternary (0/1), learnable_alpha (0/1)} and doubles {rope_theta,
  // norm_eps}.

  /** Packed weights' embedding stored as fp32. */
  public static final int EMB_F32 = 0;
  /** Packed weights' embedding stored as bf16 (round to nearest even). */
  public static final int EMB_BF16 = 1;

  /** out[0] = the bytes of the packed weights of the spec with embedding type {@code emb}. */
  public static native int packedBytes(int[] spec, double[] specReals, int emb, long[] out);

  /**
   * out (exactly {@link #packedBytes} bytes) = the packed weights of the first {@code count}
   * floats of params (the master weights in the model layout). Packed weights are bytes (2-bit
   * codes, scales, the embedding), so they cross as a {@code byte[]}, never as a buffer that
   * could be a float buffer's bytes.
   *
   * @throws NativeException ({@link NativeException#EINVAL}) for a null, heap, byte-swapped or
   *     short params buffer
   */
  public static int packFromParams(int[] spec, double[] specReals, int emb, FloatBuffer params,
      long count, byte[] out) {
    checkBuffer(params, 0, count, false, "pack weights", "params");
    return packFromParams0(spec, specReals, emb, params, count, out);
  }

  /**
   * Loads packed weights (all of {@code packed}; copied, so it may be dropped after);
   * handle[0] receives the inference model.
   */
  public static native int inferCreate(long[] handle, int[] spec, double[] specReals, int emb,
      byte[] packed);

  /**
   * Frees an inference model (0 is a no-op; one already freed is {@link
   * NativeException#ESTATE}).
   */
  public static native int inferFree(long handle);

  /** out[0] = the tokens in the model's cache. */
  public static native int inferPosition(long handle, int[] out);

  /** Empties the cache. */
  public static native int inferReset(long handle);

  /**
   * Appends tokens[0 .. n-1] to the cache; logits (vocab), unless null, receives the logits of
   * the last one. Refused, with nothing appended, past seq_len.
   */
  public static native int inferForward(long handle, int[] tokens, int n, float[] logits);

  /**
   * out[0] = the summed negative log-likelihood of the targets tokens[from+1 .. n] of the
   * window tokens[0 .. n] (the cache is emptied first and holds the window's inputs after).
   */
  public static native int inferScore(long handle, int[] tokens, int n, int from, double[] out);

  private static native int packFromParams0(int[] spec, double[] specReals, int emb,
      FloatBuffer params, long count, byte[] out);

  /**
   * Whether the dynamic loader can load the shared library {@code name} (such as {@code
   * libnccl.so.2}), searching as {@code dlopen} does; it is unloaded again. Non-zero, with the
   * loader's message in {@link #lastError}, when it cannot.
   */
  public static native int libraryProbe(String name);

  /**
   * Refuses, with a {@link NativeException} ({@link NativeException#EINVAL}) naming the call and
   * the buffer, what only Java can see: a null or heap buffer, the other byte order (C would
   * read every float byte-swapped), a read-only buffer the kernel would write, a range past the
   * limit (a closed model's buffers have limit 0). The range is compared without overflow:
   * offset and count non-negative, offset at most the limit, count at most limit - offset. The
   * C side checks the range again against the capacity, in bytes.
   */
  static void checkBuffer(FloatBuffer b, long offset, long count, boolean written, String call,
      String what) {
    String problem = null;
    if (b == null) {
      problem = what + " is null";
    } else if (!b.isDirect()) {
      problem = what + " is not a direct buffer";
    } else if (b.order() != ByteOrder.nativeOrder()) {
      problem = what + " is in byte order " + b.order() + ", the native code reads "
          + ByteOrder.nativeOrder() + " (make it with .order(ByteOrder.nativeOrder()))";
    } else if (written && b.isReadOnly()) {
      problem = what + " is read-only";
    } else if (offset < 0 || count < 0 || offset > b.limit() || count > b.limit() - offset) {
      String range = offset >= 0 && count >= 0 && count > Long.MAX_VALUE - offset
          ? "offset " + offset + " + count " + count + " (overflows a long)"
          : "range [" + offset + ", " + (offset + count) + ")";
      problem = what + ": " + range + " outside its " + b.limit() + " elements"
          + (b.limit() == 0 && b.capacity() > 0
              ? " (its limit is 0: the buffers of a closed native model have limit 0)" : "");
    }
    if (problem != null) {
      throw new NativeException(NativeException.EINVAL, call + ": " + problem);
    }
  }

  private static native int adamw0(FloatBuffer params, FloatBuffer grads, FloatBuffer m,
      FloatBuffer v, long offset, long count, float lr, float beta1, float beta2, float eps,
      float weightDecay, long step);

  private static native int sgdMomentum0(FloatBuffer params, FloatBuffer grads,
      FloatBuffer momentum, long offset, long count, float lr, float mu, float weightDecay);

  private static native int sumSquares0(FloatBuffer buf, long offset, long count, double[] out);

  private static native int scale0(FloatBuffer buf, long offset, long count, float factor);

  /**
   * Pins the calling thread and the OpenMP threads of its parallel regions (the team of {@link
   * #numThreads()} threads that native calls from this thread run on) to the given cpu ids, any
   * of which each thread may use: a rank of a data-parallel run stays on its NUMA node. Set the
   * thread count first. Linux only; {@link NativeException#EINVAL} for an empty list or an id
   * outside [0, 1024), {@link NativeException#ESTATE} with the OS's reason when it refuses.
   */
  public static native int pinThreads(int[] cpus);
}
