/**
 * Training: {@link flashlm.train.Trainer} (the loop), {@link flashlm.train.TrainConfig} (what a run
 * is), {@link flashlm.train.Models} (backend to model and update kernels), the optimizer state, the
 * learning-rate schedule and the checkpoint format ({@link flashlm.train.Checkpoint}, {@link
 * flashlm.train.CheckpointDir}).
 *
 * <p>Dependencies point one way: {@code train -> model, optim, reference, data, dist -> jni}; the
 * ranks of a data-parallel run share gradients and decisions through {@link
 * flashlm.dist.Collective}.
 */
package flashlm.train;
