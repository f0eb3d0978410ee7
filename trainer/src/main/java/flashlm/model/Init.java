package flashlm.model;

import java.nio.FloatBuffer;
import java.util.SplittableRandom;

/**
 * Deterministic initialisation of a flat parameter buffer: 2-D tensors (matrices, embedding)
 * from N(0, std), 1-D tensors (norm weights, learnable alphas) to 1, so a model with learnable
 * alpha starts as the same function as one without. Each tensor draws from its own stream,
 * split from {@code seed} in layout order, so the values depend only on the seed and the layout
 * (the alphas come last and draw nothing: the other tensors are the same with the switch off).
 */
public final class Init {
  private Init() {}

  /** Fills {@code params} (positioned at 0, {@code layout.size()} long). */
  public static void normal(FloatBuffer params, ParamLayout layout, double std, long seed) {
    SplittableRandom root = new SplittableRandom(seed);
    for (ParamLayout.Tensor t : layout.tensors()) {
      SplittableRandom r = root.split();
      int off = Math.toIntExact(t.offset());
      long n = t.size();
      boolean matrix = t.shape().length > 1;
      for (int i = 0; i < n; i++) {
        params.put(off + i, matrix ? (float) (r.nextGaussian() * std) : 1f);
      }
    }
  }
}
