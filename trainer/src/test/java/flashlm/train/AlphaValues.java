package flashlm.train;

import flashlm.model.ModelSpec;
import flashlm.model.ParamLayout;
import java.nio.FloatBuffer;
import java.util.function.BiConsumer;

/**
 * Non-trivial learnable alphas for tests, in layout order: both signs, sizes below and above 1,
 * and exactly 0 for the first linear of the last layer (q_proj; ffn: up_proj), where dalpha must
 * still be exact (it may not come from dividing by alpha). One zero only: a zero output starves
 * the gradients of what feeds it.
 */
public final class AlphaValues {
  private static final float[] VALUES = {0.7f, -1.3f, 1.6f, -0.4f, 2.1f};

  private AlphaValues() {}

  /** Sets the alphas of {@code spec}'s layout in {@code params}. */
  public static void set(ModelSpec spec, FloatBuffer params) {
    forEach(spec, (offset, value) -> params.put(offset, value));
  }

  /** Sets the alphas of {@code spec}'s layout in {@code params}. */
  public static void set(ModelSpec spec, double[] params) {
    forEach(spec, (offset, value) -> params[offset] = value);
  }

  private static void forEach(ModelSpec spec, BiConsumer<Integer, Float> put) {
    ParamLayout layout = ParamLayout.of(spec);
    int perLayer = ParamLayout.linears(spec).size();
    int zero = perLayer * (spec.nLayers() - 1);
    int n = 0;
    for (ParamLayout.Tensor t : layout.tensors()) {
      if (t.name().endsWith(".alpha")) {
        put.accept(Math.toIntExact(t.offset()), n == zero ? 0f : VALUES[n % VALUES.length]);
        n++;
      }
    }
  }
}
