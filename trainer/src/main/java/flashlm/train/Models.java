package flashlm.train;

import flashlm.model.ModelSpec;
import flashlm.reference.ReferenceTrainable;

/**
 * The one place that turns a config's {@code backend} into a model and its update kernels, so
 * the trainer, tests and benchmarks never name an implementation.
 *
 * <ul>
 *   <li>{@code reference}: {@link ReferenceTrainable}, the double-precision Java model, with
 *       {@link Kernels#JAVA}. Slow; for tests and checks.
 *   <li>{@code native}: the C kernels through JNI ({@code flashlm.model.NativeModel}, {@code
 *       flashlm.jni.NativeKernels}), which this build does not contain yet.
 * </ul>
 */
public final class Models {
  private Models() {}

  /**
   * A model of {@code spec} for batches of up to {@code maxBatch} sequences. Its parameters are
   * not initialised; the trainer fills them ({@link Init#normal}) or loads a checkpoint.
   *
   * @throws UnsupportedOperationException for {@code native} in a build without the native model
   */
  public static TrainableModel create(ModelSpec spec, String backend, int maxBatch) {
    return switch (backend) {
      case TrainConfig.REFERENCE -> new ReferenceTrainable(spec, 0L);
      case TrainConfig.NATIVE -> throw nativeMissing();
      default -> throw new IllegalArgumentException("unknown backend '" + backend
          + "' (expected '" + TrainConfig.NATIVE + "' or '" + TrainConfig.REFERENCE + "')");
    };
  }

  /** The update kernels that go with {@code backend}'s model. */
  public static Kernels kernels(String backend) {
    return switch (backend) {
      case TrainConfig.REFERENCE -> Kernels.JAVA;
      case TrainConfig.NATIVE -> throw nativeMissing();
      default -> throw new IllegalArgumentException("unknown backend '" + backend + "'");
    };
  }

  private static UnsupportedOperationException nativeMissing() {
    return new UnsupportedOperationException("native engine not available in this build; train"
        + " with --set backend=reference (slow, for tests) or use a build with the native module");
  }
}
