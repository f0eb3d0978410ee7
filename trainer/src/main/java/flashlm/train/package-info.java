/**
 * Training: {@link flashlm.train.Trainer} (the loop), {@link flashlm.train.TrainConfig} (what a
 * run is), {@link flashlm.train.Models} (backend to model), the flat-buffer contracts {@link
 * flashlm.train.TrainableModel}, {@link flashlm.train.ParamLayout}, {@link flashlm.train.Kernels}
 * and {@link flashlm.train.Collective}, the optimizer state, the learning-rate schedule and the
 * checkpoint format ({@link flashlm.train.Checkpoint}, {@link flashlm.train.CheckpointDir}).
 */
package flashlm.train;
