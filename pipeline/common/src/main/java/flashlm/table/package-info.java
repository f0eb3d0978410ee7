/**
 * The sequences table: the contract between the data pipeline, which writes it, and the trainer,
 * which reads it (columns, partitioning, table properties, shard ownership), and the decoding of
 * its tokens column ({@link flashlm.table.TokenPages}) that both use.
 */
package flashlm.table;
