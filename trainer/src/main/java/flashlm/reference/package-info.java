/**
 * The slow double-precision reference model of both architectures, over the same flat layout as
 * the native model: the ground truth the native kernels, model and gradients are tested against,
 * and the {@code reference} backend that runs the trainer without native code.
 */
package flashlm.reference;
