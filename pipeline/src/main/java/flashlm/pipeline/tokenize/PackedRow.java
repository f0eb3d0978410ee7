package flashlm.pipeline.tokenize;

import java.io.Serializable;

/**
 * One row of the sequences table as the write reads it from the cached blocks ({@link BlockRows};
 * see flashlm.table.SequencesTable). A JavaBean, public with setters, for Spark's bean encoder,
 * which copies a primitive {@code int[]} into the row in one piece; not an API.
 */
public final class PackedRow implements Serializable {
  private static final long serialVersionUID = 1L;
  private String split;
  private int shard;
  private long seqIndex;
  private int[] tokens;

  public PackedRow() {}

  PackedRow(String split, int shard, long seqIndex, int[] tokens) {
    this.split = split;
    this.shard = shard;
    this.seqIndex = seqIndex;
    this.tokens = tokens;
  }

  public String getSplit() {
    return split;
  }

  public void setSplit(String split) {
    this.split = split;
  }

  public int getShard() {
    return shard;
  }

  public void setShard(int shard) {
    this.shard = shard;
  }

  public long getSeqIndex() {
    return seqIndex;
  }

  public void setSeqIndex(long seqIndex) {
    this.seqIndex = seqIndex;
  }

  public int[] getTokens() {
    return tokens;
  }

  public void setTokens(int[] tokens) {
    this.tokens = tokens;
  }
}
