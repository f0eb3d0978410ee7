package flashlm.infer;

import flashlm.jni.Native;
import flashlm.jni.NativeException;
import flashlm.model.ModelSpec;
import flashlm.model.ParamLayout;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;

/**
 * A model loaded for inference (libflashlm's {@code fl_infer}): packed ternary weights (2 bits
 * each, with their scales; fp32 for a float model) and int8 activations, quantised once at load,
 * and a KV cache of {@code seq_len} positions, so a new token costs one pass over the weights
 * and its attention over the cached keys. Its logits equal, bit for bit, those of the training
 * model's forward on the same weights and tokens ({@link flashlm.model.NativeModel#lastLogits}).
 *
 * <p>Not thread-safe beyond one call at a time (methods are synchronized; the native side is
 * parallel inside). {@link #close()} frees the native memory and is idempotent; afterwards every
 * method throws {@link IllegalStateException}.
 */
public final class PackedModel implements AutoCloseable {
  private final ModelSpec spec;
  private final Embedding embedding;
  private long handle;

  private PackedModel(ModelSpec spec, Embedding embedding, long handle) {
    this.spec = spec;
    this.embedding = embedding;
    this.handle = handle;
  }

  /**
   * Loads packed weights ({@link #pack} made them, or a {@link PackedFile} held them): a buffer
   * whose whole capacity is the weights; it is copied and may be dropped afterwards.
   *
   * @throws NativeException naming the problem when the size does not match the spec or a
   *     ternary code is corrupt
   */
  public static PackedModel load(ModelSpec spec, Embedding embedding, ByteBuffer packed) {
    long[] h = new long[1];
    Native.check(Native.inferCreate(h, specInts(spec), specReals(spec), embedding.code(),
        bytes(packed)), "loading the packed " + spec.arch().id() + " model");
    return new PackedModel(spec, embedding, h[0]);
  }

  /** All of {@code b}'s capacity: its own array when it wraps one whole, else a copy. */
  private static byte[] bytes(ByteBuffer b) {
    if (b.hasArray() && b.arrayOffset() == 0 && b.array().length == b.capacity()) {
      return b.array();
    }
    byte[] out = new byte[b.capacity()];
    b.duplicate().clear().get(out);
    return out;
  }

  /** Packs the fp32 master weights (the {@link ParamLayout} of spec) and loads them. */
  public static PackedModel fromParams(ModelSpec spec, FloatBuffer params, Embedding embedding) {
    return load(spec, embedding, pack(spec, params, embedding));
  }

  /**
   * The packed weights of {@code params} (fp32 master weights in {@link ParamLayout} order, from
   * index 0): ternary linears quantised as the training forward quantises them, their scales,
   * the alphas folded in (a heap buffer).
   */
  public static ByteBuffer pack(ModelSpec spec, FloatBuffer params, Embedding embedding) {
    long count = ParamLayout.of(spec).size();
    FloatBuffer direct = params;
    if (!params.isDirect() || params.order() != java.nio.ByteOrder.nativeOrder()) {
      direct = ByteBuffer.allocateDirect(Math.toIntExact(count * Float.BYTES))
          .order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();
      direct.put(params.duplicate().position(0).limit(Math.toIntExact(count))).flip();
    }
    byte[] out = new byte[Math.toIntExact(bytes(spec, embedding))];
    Native.check(Native.packFromParams(specInts(spec), specReals(spec), embedding.code(),
        direct, count, out), "packing the weights");
    return ByteBuffer.wrap(out);
  }

  /** Bytes of the packed weights of {@code spec}. */
  public static long bytes(ModelSpec spec, Embedding embedding) {
    long[] out = new long[1];
    Native.check(Native.packedBytes(specInts(spec), specReals(spec), embedding.code(), out),
        "sizing the packed weights");
    return out[0];
  }

  public ModelSpec spec() {
    return spec;
  }

  public Embedding embedding() {
    return embedding;
  }

  /** Tokens in the cache: the position the next token gets (at most seq_len). */
  public synchronized int position() {
    int[] out = new int[1];
    Native.check(Native.inferPosition(open(), out), "reading the position");
    return out[0];
  }

  /** Empties the cache. */
  public synchronized void reset() {
    Native.check(Native.inferReset(open()), "emptying the cache");
  }

  /**
   * Appends {@code tokens[0 .. n-1]} to the cache and returns the logits (vocab) of the last.
   *
   * @throws NativeException when a token is outside the vocabulary or the context would pass
   *     seq_len (nothing is appended then)
   */
  public synchronized float[] forward(int[] tokens, int n) {
    float[] logits = new float[spec.vocabSize()];
    Native.check(Native.inferForward(open(), tokens, n, logits), "decoding");
    return logits;
  }

  /** {@link #forward} without the logits (a prompt's prefix, a refill after sliding). */
  public synchronized void append(int[] tokens, int n) {
    Native.check(Native.inferForward(open(), tokens, n, null), "decoding");
  }

  /**
   * The summed negative log-likelihood (nats) of the targets {@code window[from+1 .. n]} given
   * their prefixes within {@code window[0 .. n-1]}: a scoring window, run from an empty cache.
   */
  public synchronized double score(int[] window, int n, int from) {
    double[] out = new double[1];
    Native.check(Native.inferScore(open(), window, n, from, out), "scoring a window");
    return out[0];
  }

  private long open() {
    if (handle == 0) {
      throw new IllegalStateException("the packed model is closed");
    }
    return handle;
  }

  /** Frees the native model. Idempotent. */
  @Override
  public synchronized void close() {
    if (handle != 0) {
      long h = handle;
      handle = 0;
      Native.check(Native.inferFree(h), "freeing the packed model");
    }
  }

  static int[] specInts(ModelSpec s) {
    return new int[] {s.arch() == ModelSpec.Arch.TRANSFORMER ? 0 : 1, s.vocabSize(), s.dModel(),
        s.nLayers(), s.nHeads(), s.ffnDim(), s.seqLen(), s.ternary() ? 1 : 0,
        s.learnableAlpha() ? 1 : 0};
  }

  static double[] specReals(ModelSpec s) {
    return new double[] {s.ropeTheta(), s.normEps()};
  }
}
