package flashlm.train;

import flashlm.model.ParamLayout;
import flashlm.optim.Kernels;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * The optimizer and its state in ONE flat fp32 buffer: AdamW keeps [m | v] (2P), SGD keeps the
 * momentum buffer (P), each slot a view with the parameters' layout. The update runs tensor by
 * tensor so weight decay applies only to tensors marked {@code decay}.
 */
public final class OptimizerState {
  private final TrainConfig.Optimizer config;
  private final ParamLayout layout;
  private final Kernels kernels;
  private final FloatBuffer state;
  private final FloatBuffer first;
  private final FloatBuffer second;

  public OptimizerState(TrainConfig.Optimizer config, ParamLayout layout, Kernels kernels) {
    this.config = config;
    this.layout = layout;
    this.kernels = kernels;
    int p = Math.toIntExact(layout.size());
    int slots = config.adamw() ? 2 : 1;
    state =
        ByteBuffer.allocateDirect(Math.multiplyExact(p * slots, 4))
            .order(ByteOrder.nativeOrder())
            .asFloatBuffer();
    first = state.slice(0, p);
    second = config.adamw() ? state.slice(p, p) : null;
  }

  /** The whole state, for checkpoints: [m | v] for AdamW, [momentum] for SGD. */
  public FloatBuffer state() {
    return state;
  }

  public String type() {
    return config.type().id();
  }

  /** One update of {@code params} from {@code grads} at learning rate {@code lr}; step from 1. */
  public void step(FloatBuffer params, FloatBuffer grads, double lr, long step) {
    for (ParamLayout.Tensor t : layout.tensors()) {
      float wd = t.decay() ? config.weightDecay().floatValue() : 0f;
      if (config.adamw()) {
        kernels.adamw(
            params,
            grads,
            first,
            second,
            t.offset(),
            t.size(),
            (float) lr,
            config.beta1().floatValue(),
            config.beta2().floatValue(),
            config.eps().floatValue(),
            wd,
            step);
      } else {
        kernels.sgdMomentum(params, grads, first, t.offset(), t.size(), (float) lr,
            config.momentum().floatValue(), wd);
      }
    }
  }
}
