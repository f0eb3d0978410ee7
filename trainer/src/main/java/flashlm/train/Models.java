package flashlm.train;

import flashlm.model.TrainableModel;
import flashlm.optim.Kernels;
import flashlm.optim.NativeKernels;
import flashlm.model.ModelSpec;
import flashlm.model.NativeModel;
import flashlm.reference.ReferenceTrainable;

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
  public static TrainableModel create(ModelSpec spec, String backend, int maxBatch) {
    return switch (backend) {
      case TrainConfig.REFERENCE -> new ReferenceTrainable(spec, 0L);
      case TrainConfig.NATIVE -> NativeModel.create(spec, maxBatch);
      default -> throw new IllegalArgumentException("unknown backend '" + backend
          + "' (expected '" + TrainConfig.NATIVE + "' or '" + TrainConfig.REFERENCE + "')");
    };
  }

  /** The update kernels that go with {@code backend}'s model. */
  public static Kernels kernels(String backend) {
    return switch (backend) {
      case TrainConfig.REFERENCE -> Kernels.JAVA;
      case TrainConfig.NATIVE -> new NativeKernels();
      default -> throw new IllegalArgumentException("unknown backend '" + backend + "'");
    };
  }
}
