/**
 * The trainer's side of the sequences table, without Spark: {@link flashlm.data.DeltaSnapshot}
 * replays a Delta log (JSON commits and classic parquet checkpoints) to the live files of one
 * version, {@link flashlm.data.SequencesSnapshot} checks them against the {@link
 * flashlm.table.SequencesTable} contract, and {@link flashlm.data.SequenceBatches} reads a rank's
 * shards as deterministic, resumable, shuffled batches with Apache Parquet directly.
 */
package flashlm.data;
