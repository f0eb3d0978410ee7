package flashlm.train;

import flashlm.model.TrainableModel;
import flashlm.optim.Kernels;
import flashlm.optim.NativeKernels;
import flashlm.model.ModelSpec;
import flashlm.model.NativeModel;
import flashlm.reference.ReferenceTrainable;
import flashlm.train.TrainConfig.Backend;

/**
 * The one place that turns a config's {@code backend} into a model and its update kernels, so
 * the trainer, tests and benchmarks never name an implementation.
 *
 * <ul>
 *   <li>{@code reference}: {@link ReferenceTrainable}, the double-precision Java model, with
 *       {@link Kernels#JAVA}. Slow; for tests and checks.
 *   <li>{@code native}: the C kernels through JNI ({@code flashlm.model.NativeModel}, {@code
 *       flashlm.optim.NativeKernels}), the default: the library is loaded on first use, with an
 *       error naming what is missing if it cannot be.
 * </ul>
 */
public final class Models {
  private Models() {}

  /**
   * A model of {@code spec} for batches of up to {@code maxBatch} sequences. Its parameters are
   * not initialised; the trainer fills them ({@link Init#normal}) or loads a checkpoint.
   */
  public static TrainableModel create(ModelSpec spec, Backend backend, int maxBatch) {
    return switch (backend) {
      case REFERENCE -> new ReferenceTrainable(spec, 0L);
      case NATIVE -> NativeModel.create(spec, maxBatch);
    };
  }

  /** The update kernels that go with {@code backend}'s model. */
  public static Kernels kernels(Backend backend) {
    return switch (backend) {
      case REFERENCE -> Kernels.JAVA;
      case NATIVE -> new NativeKernels();
    };
  }
}
