/**
 * Training: {@link flashlm.train.Trainer} (the loop), {@link flashlm.train.TrainConfig} (what a
 * run is), {@link flashlm.train.Models} (backend to model and update kernels), {@link
 * flashlm.train.Collective} (the seam between backward and update where gradients are summed
 * across ranks), the optimizer state, the learning-rate schedule and the checkpoint format
 * ({@link flashlm.train.Checkpoint}, {@link flashlm.train.CheckpointDir}).
 *
 * <p>Dependencies point one way: {@code train -> model, optim, reference, data -> jni}.
 */
package flashlm.train;
