package flashlm.reference;

import flashlm.model.ModelSpec;
import flashlm.model.Init;
import flashlm.model.ParamLayout;
import flashlm.model.TrainableModel;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * The reference model behind the trainer's {@link TrainableModel} interface: fp32 buffers like
 * the native model's, computed in double. Slow; for tests and for checking the native model.
 */
public final class ReferenceTrainable implements TrainableModel {
  private final ReferenceModel model;
  private final FloatBuffer params;
  private final FloatBuffer grads;

  /** A model initialised by {@link Init#normal} with the spec's init_std. */
  public ReferenceTrainable(ModelSpec spec, long seed) {
    model = new ReferenceModel(spec);
    int n = Math.toIntExact(model.layout().size());
    params = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
    grads = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
    Init.normal(params, model.layout(), spec.initStd(), seed);
  }

  @Override
  public ModelSpec spec() {
    return model.spec();
  }

  @Override
  public ParamLayout layout() {
    return model.layout();
  }

  @Override
  public FloatBuffer params() {
    return params;
  }

  @Override
  public FloatBuffer grads() {
    return grads;
  }

  @Override
  public void zeroGrads() {
    for (int i = 0; i < grads.capacity(); i++) {
      grads.put(i, 0f);
    }
  }

  @Override
  public float forwardBackward(int[] tokens, int batch) {
    loadParams();
    double[] g = model.grads();
    Arrays.fill(g, 0);
    double loss = model.forwardBackward(tokens, batch);
    for (int i = 0; i < g.length; i++) {
      grads.put(i, (float) (grads.get(i) + g[i]));
    }
    return (float) loss;
  }

  @Override
  public float loss(int[] tokens, int batch) {
    loadParams();
    return (float) model.forward(tokens, batch, null);
  }

  /** The underlying double-precision model (parameters as of the last call). */
  public ReferenceModel reference() {
    loadParams();
    return model;
  }

  private void loadParams() {
    double[] p = model.params();
    for (int i = 0; i < p.length; i++) {
      p[i] = params.get(i);
    }
  }

  @Override
  public void close() {}
}
