package flashlm.pipeline.tokenize;

import java.io.Serializable;

/**
 * Consecutive rows of one (split, shard) group as the pack stage emits and caches them: {@code
 * rows} rows of {@code rowLength} ids back to back in {@code tokens}, the first at {@code
 * firstSeqIndex}. The group's last block also carries the group's totals, which the manifest
 * needs before the table is written.
 *
 * @param group the group ({@link Groups})
 * @param firstSeqIndex seq_index of the first row
 * @param rows rows in this block (may be 0 in a group's last block)
 * @param tokens {@code rows * rowLength} ids
 * @param last whether this is the group's last block
 * @param documents the group's documents (last block only, else 0)
 * @param groupTokens the group's ids, separators included (last block only, else 0)
 * @param droppedTail the ids of the group's incomplete last row, dropped (last block only)
 */
record PackedBlock(int group, long firstSeqIndex, int rows, int[] tokens, boolean last,
    long documents, long groupTokens, long droppedTail) implements Serializable {}
