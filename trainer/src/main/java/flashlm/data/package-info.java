/**
 * The trainer's side of the sequences table, without Spark: {@link flashlm.data.DeltaSnapshot}
 * reads one version of the table's Delta log with Delta Kernel (the live files, their partition
 * values and deleted rows), {@link flashlm.data.SequencesSnapshot} checks it against the {@link
 * flashlm.table.SequencesTable} contract, and {@link flashlm.data.SequenceBatches} reads a rank's
 * shards as deterministic, resumable, shuffled batches with Apache Parquet directly.
 */
package flashlm.data;
