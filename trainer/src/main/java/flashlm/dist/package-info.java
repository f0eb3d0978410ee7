/**
 * Data-parallel communication between trainer ranks: {@link flashlm.dist.Collective} (what ranks
 * share each step: the gradient mean, agreement on scalars, broadcasts from rank 0), {@link
 * flashlm.dist.Rendezvous} (how ranks exchange their addresses once, such as Spark's {@code
 * BarrierTaskContext.allGather}), {@link flashlm.dist.RingCollective} (libflashlm's
 * authenticated, deterministic TCP ring) and {@link flashlm.dist.Collectives} (the choice of
 * backend, {@link flashlm.dist.CommBackend}).
 *
 * <p>Dependencies point one way: {@code train -> dist -> jni}; nothing here knows the trainer.
 */
package flashlm.dist;
