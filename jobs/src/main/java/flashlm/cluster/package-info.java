/**
 * Data-parallel training on Spark: {@code flashlm train} with {@code distributed.world_size} above
 * one runs one barrier stage of that many tasks, one {@link flashlm.train.Trainer} per task.
 * {@link flashlm.cluster.ClusterTraining} is the driver's side (world size, the checks Spark's
 * barrier mode needs, attempts after failures); {@link flashlm.cluster.RankTask} runs in each
 * task (placement on a NUMA node, the collective, the trainer).
 */
package flashlm.cluster;
