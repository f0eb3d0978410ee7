/**
 * The sequences table: the contract between the data pipeline, which writes it, and the trainer,
 * which reads it (columns, partitioning, table properties, shard ownership).
 */
package flashlm.table;
